#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "troupe/cluster/reception_wire.hpp"
#include "troupe/cluster/testing/test_cluster.hpp"

// Process groups on cluster members: a membership made on one node is seen
// on every node (members, monitors, digests), ends everywhere when its
// actor ends, its node dies or leaves, converges after a partition, and
// only its node can write it.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using net::node_testing::counter;
using net::node_testing::echo;
using testing::sim_cluster;
using testing::test_cluster;

std::size_t count(sim_cluster& c, std::size_t i, std::string_view group) {
  return c.sys(i).groups().members<counter>("svc", group).size();
}

TEST(cluster_groups, a_group_spans_every_member_and_each_member_answers) {
  sim_cluster c(test_cluster(3, 21));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  std::vector<std::string> events;
  auto sub = c.sys(0).groups().monitor("svc", "workers", [&](const group_event& e) {
    std::string line = e.what == group_change::joined ? "+" : "-";
    line += e.member.type.name;
    events.push_back(line);
  });
  ASSERT_TRUE(sub);
  auto w1 = c.sys(1).spawn<counter>().value();
  auto w2 = c.sys(2).spawn<counter>().value();
  ASSERT_TRUE(c.sys(1).groups().join("svc", "workers", w1));
  ASSERT_TRUE(c.sys(2).groups().join("svc", "workers", w2));
  ASSERT_TRUE(c.run_until([&] { return count(c, 0, "workers") == 2; }, 2s))
      << "the memberships did not reach c0";
  EXPECT_TRUE(c.same_groups({0, 1, 2}));
  EXPECT_TRUE(c.sys(0).groups().local_members<counter>("svc", "workers").empty());
  // Every member found on c0 answers there.
  std::vector<std::string> replies;
  for (const auto& ep : c.sys(0).groups().members<counter>("svc", "workers")) {
    auto r = ep.ask(echo{"hi"});
    ASSERT_TRUE(c.run_until([&] { return r.ready(); }, 2s));
    auto text = std::move(r).get();
    ASSERT_TRUE(text) << text.error().message();
    replies.push_back(*text);
  }
  EXPECT_EQ(replies, (std::vector<std::string>{"echo: hi", "echo: hi"}));
  // A leave travels, and the monitor on c0 follows.
  ASSERT_TRUE(c.sys(1).groups().leave("svc", "workers", w1));
  ASSERT_TRUE(c.run_until([&] { return count(c, 0, "workers") == 1; }, 2s));
  EXPECT_EQ(events, (std::vector<std::string>{"+test.counter", "+test.counter", "-test.counter"}));
  EXPECT_TRUE(c.same_groups({0, 1, 2}));
}

TEST(cluster_groups, an_actor_that_ends_leaves_its_groups_on_every_member) {
  sim_cluster c(test_cluster(3, 22));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  auto w = c.sys(2).spawn<counter>().value();
  ASSERT_TRUE(c.sys(2).groups().join("svc", "a", w));
  ASSERT_TRUE(c.sys(2).groups().join("svc", "b", w));
  ASSERT_TRUE(c.run_until([&] { return c.sys(0).groups().groups("svc").size() == 2; }, 2s));
  auto failed = w.ask(net::node_testing::fail_now{});  // it throws, and ends
  ASSERT_TRUE(c.run_until(
      [&] { return c.sys(0).groups().scopes().empty() && c.sys(1).groups().scopes().empty(); }, 2s))
      << "the ended actor's memberships stayed";
  EXPECT_TRUE(c.same_groups({0, 1, 2}));
}

TEST(cluster_groups, a_dead_members_memberships_leave_everywhere_with_events) {
  sim_cluster c(test_cluster(4, 23));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3}); }, 10s));
  for (std::size_t i : {1, 3}) {
    auto w = c.sys(i).spawn<counter>().value();
    ASSERT_TRUE(c.sys(i).groups().join("svc", "workers", w));
  }
  ASSERT_TRUE(
      c.run_until([&] { return count(c, 0, "workers") == 2 && count(c, 2, "workers") == 2; }, 2s));
  std::vector<std::string> events;
  auto sub = c.sys(0).groups().monitor_scope("svc", [&](const group_event& e) {
    events.push_back((e.what == group_change::joined ? "+" : "-") + e.group);
  });
  ASSERT_TRUE(sub);
  c.freeze(3);  // silent: only membership can tell
  ASSERT_TRUE(c.run_until([&] { return c.all_see({0, 1, 2}, 3, member_state::dead); }, 10s));
  c.advance(20ms);
  for (std::size_t i : {0, 1, 2}) EXPECT_EQ(count(c, i, "workers"), 1U) << i;
  EXPECT_EQ(events, (std::vector<std::string>{"+workers", "+workers", "-workers"}));
  EXPECT_TRUE(c.same_groups({0, 1, 2}));
  // Thawed, it refutes the verdict and is a member again: its memberships
  // come back with it, once.
  c.thaw(3);
  ASSERT_TRUE(c.run_until([&] { return c.all_see({0, 1, 2}, 3, member_state::alive); }, 10s));
  ASSERT_TRUE(c.run_until([&] { return c.same_groups({0, 1, 2, 3}); }, 10s));
  EXPECT_EQ(count(c, 0, "workers"), 2U);
  EXPECT_EQ(events, (std::vector<std::string>{"+workers", "+workers", "-workers", "+workers"}));
}

TEST(cluster_groups, a_member_that_leaves_takes_its_memberships_along) {
  sim_cluster c(test_cluster(3, 24));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  auto w = c.sys(2).spawn<counter>().value();
  ASSERT_TRUE(c.sys(2).groups().join("svc", "workers", w));
  ASSERT_TRUE(c.run_until([&] { return count(c, 0, "workers") == 1; }, 2s));
  c.member(2).leave();
  ASSERT_TRUE(
      c.run_until([&] { return count(c, 0, "workers") == 0 && count(c, 1, "workers") == 0; }, 5s));
  EXPECT_EQ(count(c, 2, "workers"), 1U);  // its own stay
}

TEST(cluster_groups, both_sides_of_a_partition_change_groups_and_converge_after_the_heal) {
  sim_cluster c(test_cluster(5, 25));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3, 4}); }, 10s));
  std::vector<endpoint<counter>> w;
  for (std::size_t i = 0; i < 5; ++i) {
    w.push_back(c.sys(i).spawn<counter>().value());
    ASSERT_TRUE(c.sys(i).groups().join("svc", "all", w[i]));
  }
  ASSERT_TRUE(c.run_until([&] { return c.same_groups({0, 1, 2, 3, 4}); }, 2s));
  EXPECT_EQ(count(c, 4, "all"), 5U);
  c.partition({0, 1, 2}, {3, 4});
  c.advance(2s);  // shorter than a suspicion: nobody is declared dead
  ASSERT_TRUE(c.sys(0).groups().leave("svc", "all", w[0]));
  ASSERT_TRUE(c.sys(1).groups().join("svc", "left-side", w[1]));
  ASSERT_TRUE(c.sys(3).groups().leave("svc", "all", w[3]));
  ASSERT_TRUE(c.sys(4).groups().join("svc", "right-side", w[4]));
  c.advance(500ms);
  EXPECT_FALSE(c.same_groups({0, 3}));
  c.heal();
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.same_groups({0, 1, 2, 3, 4});
      },
      10s))
      << "the groups did not converge after the heal";
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(count(c, i, "all"), 3U) << i;
    EXPECT_EQ(c.sys(i).groups().groups("svc"),
              (std::vector<std::string>{"all", "left-side", "right-side"}))
        << i;
  }
}

TEST(cluster_groups, a_node_cannot_write_another_nodes_memberships) {
  sim_cluster c(test_cluster(3, 26));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  // c2 sends c0 a group batch that claims to come from c1.
  reception_wire::changes forged;
  forged.of = reception_wire::table::groups;
  forged.origin = reception_wire::origin_of("c1", c.node(1).incarnation());
  forged.top = 1;
  forged.reset = true;
  reception_wire::op op;
  op.version = 1;
  op.label = "forged";
  op.key = "svc";
  op.type = "test.counter";
  op.actor = 1;
  forged.ops.push_back(op);
  std::vector<std::byte> buf;
  codec::binary_writer w(buf);
  reception_wire::encode(w, forged);
  const auto refused = c.member(0).reception_stats().refused;
  ASSERT_TRUE(c.node(2).send_channel("c0", 0, reception_wire::channel, buf));
  // A group op that is neither a join nor a leave, from its own origin.
  reception_wire::changes bad = forged;
  bad.origin = reception_wire::origin_of("c2", c.node(2).incarnation());
  bad.ops[0].what = reception_op::kind::skip;
  std::vector<std::byte> bad_buf;
  codec::binary_writer bw(bad_buf);
  reception_wire::encode(bw, bad);
  ASSERT_TRUE(c.node(2).send_channel("c0", 0, reception_wire::channel, bad_buf));
  c.advance(100ms);
  EXPECT_EQ(c.member(0).reception_stats().refused, refused + 2);
  EXPECT_TRUE(c.sys(0).groups().scopes().empty());
  EXPECT_EQ(c.node(0).peers().size(), 2U);  // the sessions stay
}

TEST(cluster_groups, groups_stay_local_when_their_replication_is_off) {
  auto cfg = test_cluster(2, 27);
  cfg.cluster_setup = [](std::size_t, cluster_config& cc) { cc.replicate_groups = false; };
  sim_cluster c(cfg);
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1}); }, 10s));
  auto w = c.sys(1).spawn<counter>().value();
  ASSERT_TRUE(c.sys(1).groups().join("svc", "workers", w));
  ASSERT_TRUE(c.sys(1).receptionist().check_in("svc/w", w));
  ASSERT_TRUE(c.run_until([&] { return c.same_registry({0, 1}); }, 2s));  // the receptionist does
  c.advance(6s);  // and an anti-entropy round
  EXPECT_EQ(count(c, 0, "workers"), 0U);
  EXPECT_TRUE(c.sys(0).receptionist().find("svc/w"));
}

TEST(cluster_groups, a_sync_with_no_table_is_refused) {
  sim_cluster c(test_cluster(1, 28));
  auto s = reception_sync::start(c.runtime().clock(), c.node(0), nullptr, nullptr, 1s);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), errc::invalid_argument);
}

}  // namespace
}  // namespace troupe::cluster
