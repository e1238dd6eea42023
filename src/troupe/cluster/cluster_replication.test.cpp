#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "troupe/cluster/reception_wire.hpp"
#include "troupe/cluster/testing/test_cluster.hpp"
#include "troupe/core/supervisor.hpp"

// The replicated receptionist on cluster members: entries checked in on one
// node are found on all, go everywhere when their node dies or leaves,
// converge after partitions, and obey one conflict rule. Down notices come
// as soon as membership declares a node dead.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using net::node_testing::counter;
using net::node_testing::echo;
using testing::sim_cluster;
using testing::test_cluster;

const reception_key<counter> counters{"counters"};

std::vector<std::string> labels(system& s) {
  std::vector<std::string> out;
  for (const auto& e : s.receptionist().entries()) out.push_back(e.label);
  return out;
}

// Reads what a listing has now: "+label" / "-label".
std::vector<std::string> drain(listing<counter>& l) {
  std::vector<std::string> out;
  for (int i = 0; i < 1000; ++i) {
    auto e = l.next(0ms).get();
    if (!e) break;
    out.push_back((e->what == listing_change::added ? "+" : "-") + e->label);
  }
  return out;
}

TEST(cluster_replication, an_entry_checked_in_on_one_member_is_found_and_called_on_every_member) {
  sim_cluster c(test_cluster(4, 11));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3}); }, 10s));
  auto l = c.sys(3).receptionist().subscribe(counters).value();
  auto target = c.sys(2).spawn<counter>().value();
  ASSERT_TRUE(c.sys(2).receptionist().check_in("svc/count", target, counters));
  ASSERT_TRUE(c.run_until(
      [&] {
        for (int i : {0, 1, 3})
          if (!c.sys(i).receptionist().lookup<counter>("svc/count")) return false;
        return true;
      },
      2s))
      << "the entry did not reach every member";
  EXPECT_TRUE(c.same_registry({0, 1, 2, 3}));
  // Found by label on c0 without naming the node, and callable.
  endpoint<counter> ep = c.sys(0).receptionist().lookup<counter>("svc/count");
  auto reply = ep.ask(echo{"from c0"});
  ASSERT_TRUE(c.run_until([&] { return reply.ready(); }, 2s));
  auto text = std::move(reply).get();
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, "echo: from c0");
  // A typed lookup of another type finds nothing; keys span the cluster.
  EXPECT_FALSE(c.sys(0).receptionist().lookup<net::node_testing::forwarder>("svc/count"));
  EXPECT_EQ(c.sys(1).receptionist().members(counters).size(), 1U);
  // Check-out travels too, and listings on other nodes follow.
  ASSERT_TRUE(c.sys(2).receptionist().check_out("svc/count"));
  ASSERT_TRUE(c.run_until([&] { return labels(c.sys(0)).empty(); }, 2s));
  EXPECT_EQ(drain(l), (std::vector<std::string>{"+svc/count", "-svc/count"}));
  EXPECT_TRUE(c.same_registry({0, 1, 2, 3}));
}

TEST(cluster_replication, private_entries_stay_home_and_internal_ones_travel) {
  sim_cluster c(test_cluster(3, 12));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  auto a = c.sys(1).spawn<counter>().value();
  ASSERT_TRUE(c.sys(1).receptionist().check_in("mine", a, visibility::private_));
  ASSERT_TRUE(c.sys(1).receptionist().check_in("ours", a, visibility::internal));
  ASSERT_TRUE(c.run_until([&] { return labels(c.sys(0)).size() == 1; }, 2s));
  c.advance(6s);  // an anti-entropy round too
  EXPECT_EQ(labels(c.sys(0)), std::vector<std::string>{"ours"});
  EXPECT_EQ(labels(c.sys(2)), std::vector<std::string>{"ours"});
  EXPECT_EQ(c.sys(0).receptionist().find("ours")->vis, visibility::internal);
  EXPECT_TRUE(c.same_registry({0, 1, 2}));  // private entries are not in digests
}

TEST(cluster_replication, a_dead_members_entries_vanish_everywhere_and_its_watches_fire_at_once) {
  sim_cluster c(test_cluster(4, 13));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3}); }, 10s));
  auto l = c.sys(0).receptionist().subscribe(counters).value();
  auto doomed = c.sys(3).spawn<counter>().value();
  ASSERT_TRUE(c.sys(3).receptionist().check_in("svc/doomed", doomed, counters));
  ASSERT_TRUE(
      c.run_until([&] { return c.sys(0).receptionist().lookup<counter>("svc/doomed"); }, 2s));
  endpoint<counter> ep = c.sys(0).receptionist().lookup<counter>("svc/doomed");
  std::vector<down> downs;
  auto w = c.sys(0).watch(ep, [&](const down& d) { downs.push_back(d); });
  c.advance(50ms);
  net::node_testing::nap long_nap{60'000};
  auto pending = ep.ask(long_nap, 120s);
  c.advance(50ms);
  c.freeze(3);  // silent: only membership can tell
  ASSERT_TRUE(c.run_until([&] { return c.all_see({0, 1, 2}, 3, member_state::dead); }, 10s));
  // At the verdict (not at the session's own 3 s bound): the ask has ended,
  // the watch fired once, and the entry is gone from every listing.
  c.advance(20ms);
  ASSERT_TRUE(pending.ready());
  auto r = std::move(pending).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::node_down);
  ASSERT_EQ(downs.size(), 1U);
  EXPECT_EQ(downs[0].reason.what(), exit_reason::kind::node_down);
  for (int i : {0, 1, 2}) EXPECT_TRUE(labels(c.sys(i)).empty()) << i;
  EXPECT_EQ(drain(l), (std::vector<std::string>{"+svc/doomed", "-svc/doomed"}));
  // The frozen node thaws: it is dead to the others, so it never writes
  // into their registries again with that life.
  c.thaw(3);
  c.advance(3s);
  EXPECT_EQ(downs.size(), 1U);
}

TEST(cluster_replication, a_member_that_leaves_takes_its_entries_with_it) {
  sim_cluster c(test_cluster(3, 14));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  auto a = c.sys(2).spawn<counter>().value();
  ASSERT_TRUE(c.sys(2).receptionist().check_in("svc/leaving", a));
  ASSERT_TRUE(c.run_until([&] { return labels(c.sys(0)).size() == 1; }, 2s));
  c.member(2).leave();
  ASSERT_TRUE(
      c.run_until([&] { return labels(c.sys(0)).empty() && labels(c.sys(1)).empty(); }, 5s));
  EXPECT_TRUE(c.all_see({0, 1}, 2, member_state::left));
}

TEST(cluster_replication, after_a_partition_heals_both_sides_converge_and_one_label_owner_wins) {
  sim_cluster c(test_cluster(5, 15));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3, 4}); }, 10s));
  std::vector<reception_conflict> told;
  auto w0 = c.sys(0).spawn<counter>().value();
  ASSERT_TRUE(c.sys(0).receptionist().check_in("before", w0));
  ASSERT_TRUE(c.run_until([&] { return c.same_registry({0, 1, 2, 3, 4}); }, 2s));
  c.partition({0, 1, 2}, {3, 4});
  ASSERT_TRUE(c.run_until([&] { return c.all_see({0, 1, 2}, 3, member_state::dead); }, 15s));
  ASSERT_TRUE(c.run_until([&] { return c.all_see({3, 4}, 0, member_state::dead); }, 15s));
  // Each side registers during the partition, both the same label "leader".
  auto wa = c.sys(1).spawn<counter>().value();
  auto wb = c.sys(4).spawn<counter>().value();
  ASSERT_TRUE(c.sys(1).receptionist().check_in("leader", wa));
  ASSERT_TRUE(c.sys(4).receptionist().check_in("leader", wb));
  auto wm = c.sys(3).spawn<counter>().value();
  ASSERT_TRUE(c.sys(3).receptionist().check_in("minority", wm));
  c.advance(2s);
  EXPECT_EQ(labels(c.sys(0)), (std::vector<std::string>{"before", "leader"}));
  EXPECT_EQ(labels(c.sys(3)), (std::vector<std::string>{"leader", "minority"}));
  c.heal();
  ASSERT_TRUE(c.run_until(
      [&] {
        for (int m = 0; m < 5; ++m)
          if (!c.all_see({0, 1, 2, 3, 4}, m, member_state::alive)) return false;
        return true;
      },
      30s))
      << "the views did not merge";
  const time_point one_view = c.now();
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.same_registry({0, 1, 2, 3, 4});
      },
      10s))
      << "the registries did not converge";
  const time_point one_registry = c.now();
  EXPECT_LE(one_registry - one_view, 2s);
  // One owner of "leader" everywhere: the one whose origin ranks first.
  const auto o1 = reception_wire::origin_of("c1", c.node(1).incarnation());
  const auto o4 = reception_wire::origin_of("c4", c.node(4).incarnation());
  for (int i = 0; i < 5; ++i) {
    auto e = c.sys(i).receptionist().find("leader");
    ASSERT_TRUE(e) << i;
    EXPECT_EQ(e->stamp.origin == local_origin ? c.sys(i).receptionist().origin() : e->stamp.origin,
              std::min(o1, o4))
        << i;
  }
  // The winner's own node shows its local actor; the loser's node shows the
  // winner's (a remote endpoint), not its own.
  EXPECT_EQ(c.sys(o1 < o4 ? 1 : 4).receptionist().lookup<counter>("leader"), o1 < o4 ? wa : wb);
  EXPECT_NE(c.sys(o1 < o4 ? 4 : 1).receptionist().lookup<counter>("leader"), o1 < o4 ? wb : wa);
  EXPECT_EQ(labels(c.sys(2)), (std::vector<std::string>{"before", "leader", "minority"}));
}

TEST(cluster_replication, a_late_joiner_gets_a_snapshot_not_the_history) {
  sim_cluster c(test_cluster(2, 16));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1}); }, 10s));
  auto a = c.sys(0).spawn<counter>().value();
  ASSERT_TRUE(c.sys(0).receptionist().check_in("stays", a));
  for (std::size_t i = 0; i < receptionist::max_tombstones + 100; ++i) {
    ASSERT_TRUE(c.sys(0).receptionist().check_in("churn", a));
    ASSERT_TRUE(c.sys(0).receptionist().check_out("churn"));
  }
  ASSERT_TRUE(c.run_until([&] { return c.same_registry({0, 1}); }, 2s));
  const auto before = c.member(0).reception_stats().snapshots_sent;
  const std::size_t late = c.add();
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, late}); }, 10s));
  ASSERT_TRUE(c.run_until([&] { return c.same_registry({0, 1, late}); }, 2s));
  EXPECT_EQ(labels(c.sys(late)), std::vector<std::string>{"stays"});
  EXPECT_EQ(c.member(0).reception_stats().snapshots_sent, before + 1);
}

TEST(cluster_replication, a_restarted_supervised_actor_stays_reachable_under_its_label) {
  sim_cluster c(test_cluster(2, 18));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1}); }, 10s));
  supervisor_spec spec;
  spec.backoff.initial = 10ms;
  auto child = child_spec::of<counter>("kv", restart_policy::permanent, 7);
  child.options.label = "svc/kv";
  spec.children.push_back(child);
  auto sup = c.sys(1).spawn<supervisor>(spec);
  ASSERT_TRUE(sup);
  ASSERT_TRUE(c.run_until([&] { return c.sys(0).receptionist().lookup<counter>("svc/kv"); }, 2s));
  endpoint<counter> ep = c.sys(0).receptionist().lookup<counter>("svc/kv");
  auto failed = ep.ask(net::node_testing::fail_now{});
  ASSERT_TRUE(c.run_until([&] { return failed.ready(); }, 2s));
  EXPECT_FALSE(std::move(failed).get());
  c.advance(200ms);  // the restart
  // Looked up again after the restart, it answers; the entry never left.
  endpoint<counter> again = c.sys(0).receptionist().lookup<counter>("svc/kv");
  ASSERT_TRUE(again);
  auto reply = again.ask(echo{"after restart"});
  ASSERT_TRUE(c.run_until([&] { return reply.ready(); }, 2s));
  auto text = std::move(reply).get();
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, "echo: after restart");
  EXPECT_TRUE(c.same_registry({0, 1}));
}

TEST(cluster_replication, a_node_cannot_write_another_nodes_entries) {
  sim_cluster c(test_cluster(3, 17));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  // c2 sends c0 a batch that claims to come from c1.
  reception_wire::changes forged;
  forged.origin = reception_wire::origin_of("c1", c.node(1).incarnation());
  forged.top = 1;
  forged.reset = true;
  reception_wire::op op;
  op.version = 1;
  op.label = "forged";
  op.type = "whatever";
  op.actor = 1;
  forged.ops.push_back(op);
  std::vector<std::byte> buf;
  codec::binary_writer w(buf);
  reception_wire::encode(w, forged);
  const auto refused = c.member(0).reception_stats().refused;
  ASSERT_TRUE(c.node(2).send_channel("c0", 0, reception_wire::channel, buf));
  // And garbage.
  const std::vector<std::byte> junk{std::byte{2}, std::byte{0xff}};
  ASSERT_TRUE(c.node(2).send_channel("c0", 0, reception_wire::channel, junk));
  c.advance(100ms);
  EXPECT_EQ(c.member(0).reception_stats().refused, refused + 2);
  EXPECT_FALSE(c.sys(0).receptionist().find("forged"));
  EXPECT_EQ(c.node(0).peers().size(), 2U);  // the sessions stay
}

}  // namespace
}  // namespace troupe::cluster
