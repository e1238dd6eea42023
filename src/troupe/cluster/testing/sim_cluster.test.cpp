#include "troupe/cluster/testing/sim_cluster.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/actor.hpp"

// The test kit itself: a user's actor types travel, a node crashes with no
// goodbye and restarts as a new incarnation, a seed replays the same
// transcript, and every misuse is a typed error that says what was wrong.

namespace troupe::cluster::testing {
namespace {

using namespace std::chrono_literals;

struct ping {
  using reply = std::string;
  static constexpr std::string_view type_name = "kit_test.ping";
  std::string text;
};
struct pings_seen {
  using reply = int;
  static constexpr std::string_view type_name = "kit_test.pings_seen";
};

class greeter : public actor<greeter> {
 public:
  static constexpr std::string_view type_name = "kit_test.greeter";
  using handles = troupe::handles<ping, pings_seen>;
  std::string handle(const ping& p) {
    ++seen_;
    std::string out = "pong ";
    out += p.text;
    return out;
  }
  int handle(const pings_seen&) { return seen_; }

 private:
  int seen_ = 0;
};

// Two actor types under one name: a node refuses them.
struct clash_a : actor<clash_a> {
  static constexpr std::string_view type_name = "kit_test.same";
  using handles = troupe::handles<ping>;
  std::string handle(const ping&) { return {}; }
};
struct clash_b : actor<clash_b> {
  static constexpr std::string_view type_name = "kit_test.same";
  using handles = troupe::handles<pings_seen>;
  int handle(const pings_seen&) { return 0; }
};

// Three nodes whose every life checks a greeter in as "greeter/<node>".
sim_cluster_config greeters(std::uint64_t seed) {
  sim_cluster_config cfg;
  cfg.nodes = 3;
  cfg.seed = seed;
  cfg.types = types_of<greeter>();
  cfg.on_start = [](sim_cluster& c, std::size_t i) {
    auto g = c.sys(i).spawn<greeter>();
    std::string label = "greeter/";
    label += c.name(i);
    if (!g || !c.sys(i).receptionist().check_in(label, *g))
      throw std::runtime_error("the greeter does not start");
  };
  return cfg;
}

TEST(sim_cluster, a_users_actor_is_found_and_asked_from_another_node) {
  sim_cluster c(greeters(1));
  c.require([&] { return c.one_view() && c.full_mesh(); }, 10s, "the cluster forms");
  EXPECT_EQ(c.name(2), "n2");
  EXPECT_EQ(c.address(2), "n2:7000");
  EXPECT_EQ(c.up(), (std::vector<std::size_t>{0, 1, 2}));
  c.require([&] { return bool(c.sys(0).receptionist().lookup<greeter>("greeter/n2")); }, 2s,
            "n0 finds n2's greeter");
  endpoint<greeter> g = c.sys(0).receptionist().lookup<greeter>("greeter/n2");
  ping hello{"from n0"};
  auto reply = g.ask(hello, 2s);
  ASSERT_TRUE(c.run_until([&] { return reply.ready(); }, 3s));
  auto text = std::move(reply).get();
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, "pong from n0");
}

TEST(sim_cluster, a_crashed_node_is_dead_to_the_others_and_comes_back_as_a_new_incarnation) {
  sim_cluster c(greeters(2));
  c.require([&] { return c.one_view() && c.full_mesh(); }, 10s, "the cluster forms");
  c.require([&] { return bool(c.sys(0).receptionist().lookup<greeter>("greeter/n2")); }, 2s,
            "n0 finds n2's greeter");
  endpoint<greeter> old = c.sys(0).receptionist().lookup<greeter>("greeter/n2");
  const member_key first = c.key(2);
  ping before{"before"};
  auto answered = old.ask(before, 2s);
  ASSERT_TRUE(c.run_until([&] { return answered.ready(); }, 3s));
  ASSERT_TRUE(std::move(answered).get());
  // An ask on its way when the node dies ends with node_down (the reset),
  // long before its deadline.
  ping lost{"lost"};
  auto pending = old.ask(lost, 60s);
  c.crash(2);
  EXPECT_FALSE(c.is_up(2));
  EXPECT_EQ(c.up(), (std::vector<std::size_t>{0, 1}));
  ASSERT_TRUE(c.run_until([&] { return pending.ready(); }, 1s));
  auto r = std::move(pending).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::node_down);
  // No goodbye: the others find it dead (not left) by failure detection.
  c.require([&] { return c.all_see({0, 1}, 2, member_state::dead); }, 10s, "n2 is dead");
  EXPECT_FALSE(c.sees(0, 2, member_state::left));
  c.require([&] { return !c.sys(0).receptionist().lookup<greeter>("greeter/n2"); }, 2s,
            "n2's entry goes");
  EXPECT_TRUE(c.one_view());  // the two left hold each other alive, n2 dead

  c.restart(2);
  EXPECT_TRUE(c.is_up(2));
  EXPECT_EQ(c.lives(2), 2U);
  EXPECT_EQ(c.address(2), "n2:7000");
  EXPECT_EQ(c.key(2).name, "n2");
  EXPECT_NE(c.incarnation(2), first.generation);
  EXPECT_EQ(c.incarnation(2, 0), first.generation);
  EXPECT_EQ(c.incarnation(2, 1), c.incarnation(2));
  c.require(
      [&] {
        return c.all_see({0, 1}, 2, member_state::alive);
      },
      10s, "the new life of n2 is alive to n0 and n1");
  c.require([&] { return c.one_view() && c.full_mesh(); }, 10s, "one view with the new life");
  for (std::size_t i : {0, 1}) {
    auto earlier = c.member(i).members().find(first);
    ASSERT_TRUE(earlier) << i;
    EXPECT_EQ(earlier->state, member_state::dead) << i;
  }
  // on_start ran again: the new life's greeter answers under the same label.
  c.require([&] { return bool(c.sys(0).receptionist().lookup<greeter>("greeter/n2")); }, 2s,
            "n0 finds the new greeter");
  endpoint<greeter> fresh = c.sys(0).receptionist().lookup<greeter>("greeter/n2");
  EXPECT_NE(fresh, old);
  ping again{"again"};
  auto reply = fresh.ask(again, 2s);
  ASSERT_TRUE(c.run_until([&] { return reply.ready(); }, 3s));
  auto text = std::move(reply).get();
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, "pong again");
  // The crashed life's system is kept: its greeter got the one ask that
  // arrived before the crash, and not the one after.
  auto dead_greeter = c.sys(2, 0).receptionist().lookup<greeter>("greeter/n2");
  ASSERT_TRUE(dead_greeter);
  auto count = dead_greeter.ask(pings_seen{}, 1s);
  ASSERT_TRUE(c.run_until([&] { return count.ready(); }, 2s));
  auto seen = std::move(count).get();
  ASSERT_TRUE(seen);
  EXPECT_EQ(*seen, 1);
}

// The whole scenario of one seed, as text.
std::vector<std::string> scenario(std::uint64_t seed) {
  sim_cluster_config cfg = greeters(seed);
  cfg.network.datagram_loss = 0.05;
  cfg.network.jitter = 2ms;
  sim_cluster c(std::move(cfg));
  c.require([&] { return c.one_view() && c.full_mesh(); }, 10s, "the cluster forms");
  c.partition({0}, {1, 2});
  c.advance(4s);
  c.heal();
  c.require([&] { return c.one_view(); }, 15s, "one view after the heal");
  c.crash(1);
  c.require([&] { return c.all_see({0, 2}, 1, member_state::dead); }, 10s, "n1 is dead");
  c.restart(1);
  c.require([&] { return c.one_view() && c.same_registry(); }, 15s, "one view with n1 back");
  c.note("done");
  return c.transcript();
}

TEST(sim_cluster, the_same_seed_gives_the_same_transcript_and_another_seed_another) {
  const auto first = scenario(21);
  const auto second = scenario(21);
  ASSERT_GT(first.size(), 20U);
  EXPECT_EQ(first, second);
  EXPECT_EQ(first.back().substr(first.back().find("  ")), "  done");
  // Another seed: other incarnations at least (the start lines name them).
  EXPECT_NE(scenario(22), first);
}

TEST(sim_cluster, incarnations_come_from_the_seed) {
  std::vector<std::uint64_t> a;
  std::vector<std::uint64_t> b;
  {
    sim_cluster c({.nodes = 2, .seed = 5});
    a = {c.incarnation(0), c.incarnation(1)};
  }
  {
    sim_cluster c({.nodes = 2, .seed = 5});
    // Draws from the runtime's random source do not move them.
    (void)c.runtime().random().next();
    b = {c.incarnation(0), c.incarnation(1)};
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a[0], a[1]);
  sim_cluster other({.nodes = 1, .seed = 6});
  EXPECT_NE(other.incarnation(0), a[0]);
}

// Runs `f` and returns the sim_cluster_error it throws (a default one,
// code timeout, with a failed check when it throws none).
template <class F>
sim_cluster_error thrown_by(F f) {
  try {
    f();
  } catch (const sim_cluster_error& e) {
    return e;
  }
  ADD_FAILURE() << "no sim_cluster_error";
  return sim_cluster_error(troupe::error(errc::timeout, "none"));
}

TEST(sim_cluster, a_node_number_out_of_range_is_an_invalid_argument_that_says_so) {
  sim_cluster c({.nodes = 3, .seed = 3});
  auto e = thrown_by([&] { (void)c.sys(3); });
  EXPECT_EQ(e.code(), errc::invalid_argument);
  EXPECT_STREQ(e.what(), "sim_cluster: invalid_argument: no node 3 (the nodes are 0 to 2)");
  EXPECT_EQ(thrown_by([&] { c.crash(7); }).code(), errc::invalid_argument);
  EXPECT_EQ(thrown_by([&] { c.restart(3); }).code(), errc::invalid_argument);
  EXPECT_EQ(thrown_by([&] { (void)c.sees(0, 9, member_state::alive); }).code(),
            errc::invalid_argument);
  EXPECT_EQ(thrown_by([&] { c.partition({0}, {1, 4}); }).code(), errc::invalid_argument);
  EXPECT_EQ(thrown_by([&] { (void)c.sys(0, 1); }).code(), errc::invalid_argument);
  EXPECT_STREQ(thrown_by([&] { (void)c.incarnation(1, 2); }).what(),
               "sim_cluster: invalid_argument: no life 2 of n1 (it has 1)");
  // Nothing changed: the three still form a cluster.
  EXPECT_TRUE(c.run_until([&] { return c.one_view(); }, 10s));
}

TEST(sim_cluster, a_call_on_a_node_in_the_wrong_state_is_a_typed_error) {
  sim_cluster c({.nodes = 2, .seed = 4});
  auto up = thrown_by([&] { c.restart(1); });
  EXPECT_EQ(up.code(), errc::invalid_argument);
  EXPECT_STREQ(up.what(), "sim_cluster: invalid_argument: restart(1): n1 is up (crash(1) first)");
  EXPECT_EQ(thrown_by([&] { c.thaw(0); }).code(), errc::invalid_argument);
  c.freeze(0);
  EXPECT_EQ(thrown_by([&] { c.freeze(0); }).code(), errc::invalid_argument);
  c.thaw(0);
  c.advance(1500ms);
  c.crash(1);
  auto down = thrown_by([&] { (void)c.sys(1); });
  EXPECT_EQ(down.code(), errc::node_down);
  EXPECT_STREQ(down.what(),
               "sim_cluster: node_down: sys(1): n1 is down (crashed at 1.500 s; restart(1) "
               "starts it again)");
  EXPECT_EQ(thrown_by([&] { c.crash(1); }).code(), errc::node_down);
  EXPECT_EQ(thrown_by([&] { (void)c.node(1); }).code(), errc::node_down);
  EXPECT_EQ(thrown_by([&] { (void)c.member(1); }).code(), errc::node_down);
  EXPECT_EQ(thrown_by([&] { c.freeze(1); }).code(), errc::node_down);
  EXPECT_EQ(thrown_by([&] { (void)c.sees(1, 0, member_state::alive); }).code(), errc::node_down);
  // What still works on a node that is down: its identity and its remains.
  EXPECT_EQ(c.key(1).name, "n1");
  EXPECT_EQ(c.lives(1), 1U);
  EXPECT_NO_THROW((void)c.sys(1, 0));
  // A wait that runs out names what it waited for.
  auto late = thrown_by([&] { c.require([] { return false; }, 2s, "nothing"); });
  EXPECT_EQ(late.code(), errc::timeout);
  EXPECT_STREQ(late.what(),
               "sim_cluster: timeout: not within 2.000 s (waited from 1.500 s to 3.500 s): "
               "nothing");
}

TEST(sim_cluster, a_node_that_cannot_start_throws_the_error_it_got) {
  auto clash =
      thrown_by([] { sim_cluster c({.nodes = 2, .types = types_of<clash_a, clash_b>()}); });
  EXPECT_EQ(clash.code(), errc::name_taken);
  EXPECT_NE(std::string(clash.what()).find("n0: the remote types: name_taken"), std::string::npos)
      << clash.what();
  auto no_port = thrown_by([] { sim_cluster c({.nodes = 1, .port = 0}); });
  EXPECT_EQ(no_port.code(), errc::invalid_argument);
  EXPECT_STREQ(no_port.what(),
               "sim_cluster: invalid_argument: port 0: the nodes need a known port");
  auto empty_cookie = thrown_by([] { sim_cluster c({.nodes = 1, .cookie = ""}); });
  EXPECT_EQ(empty_cookie.code(), errc::invalid_argument);
  EXPECT_NE(std::string(empty_cookie.what()).find("n0: the node does not start"), std::string::npos)
      << empty_cookie.what();
  // A node added later that cannot start leaves the others as they were.
  int starts = 0;
  sim_cluster c({.nodes = 2, .seed = 9, .node_setup = [&](std::size_t i, net::node_config& n) {
                   ++starts;
                   if (i == 2) n.cookie.clear();
                 }});
  EXPECT_EQ(thrown_by([&] { (void)c.add(); }).code(), errc::invalid_argument);
  EXPECT_EQ(c.size(), 2U);
  EXPECT_EQ(starts, 3);
  EXPECT_TRUE(c.run_until([&] { return c.one_view(); }, 10s));
}

// A killed process leaves its machine answering: a dial to it is refused
// at once. A crashed machine does not answer: the dial hangs until the
// network's connect timeout.
TEST(sim_cluster, a_killed_process_refuses_dials_and_a_crashed_machine_lets_them_hang) {
  for (crash_mode how : {crash_mode::process, crash_mode::machine}) {
    sim_cluster c({.nodes = 3, .seed = 10});
    c.require([&] { return c.one_view() && c.full_mesh(); }, 10s, "the cluster forms");
    c.crash(2, how);
    c.advance(10ms);
    auto probe = c.network().host("probe");
    bool dialed = false;
    result<std::shared_ptr<link>> outcome = error(errc::timeout);
    probe->dial("n2:7000", [&](result<std::shared_ptr<link>> r) {
      dialed = true;
      outcome = std::move(r);
    });
    const bool quick = c.run_until([&] { return dialed; }, 100ms);
    EXPECT_EQ(quick, how == crash_mode::process);
    ASSERT_TRUE(c.run_until([&] { return dialed; }, 5s));
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().code(), errc::node_down);
    probe->stop();
    c.require([&] { return c.all_see({0, 1}, 2, member_state::dead); }, 10s, "n2 is dead");
    c.restart(2);
    c.require([&] { return c.one_view() && c.full_mesh(); }, 10s, "n2 is back");
  }
}

TEST(sim_cluster, partitions_and_freezes_by_node_number) {
  sim_cluster c({.nodes = 3, .seed = 12});
  c.require([&] { return c.one_view(); }, 10s, "the cluster forms");
  c.partition({0}, {1, 2});
  c.require([&] { return c.all_see({1, 2}, 0, member_state::dead); }, 15s, "n0 is cut off");
  EXPECT_FALSE(c.one_view());
  c.heal();
  c.require([&] { return c.one_view(); }, 15s, "one view after the heal");
  c.freeze(2);
  c.require([&] { return c.all_see({0, 1}, 2, member_state::dead); }, 15s, "frozen n2 is dead");
  c.thaw(2);
  c.require([&] { return c.one_view(); }, 15s, "n2 refutes after the thaw");
  const auto& t = c.transcript();
  auto has = [&](std::string_view what) {
    for (const auto& line : t)
      if (line.find(what) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("  partition n0 | n1 n2"));
  EXPECT_TRUE(has("  heal"));
  EXPECT_TRUE(has("  freeze n2"));
  EXPECT_TRUE(has(" sees n2#"));
}

TEST(sim_cluster, a_node_added_later_joins_through_the_nodes_up) {
  sim_cluster c({.nodes = 2, .seed = 13});
  c.require([&] { return c.one_view(); }, 10s, "the cluster forms");
  c.crash(0);  // the first node, which the others joined through, is gone
  c.require([&] { return c.sees(1, 0, member_state::dead); }, 10s, "n0 is dead");
  const std::size_t late = c.add();
  EXPECT_EQ(late, 2U);
  EXPECT_EQ(c.name(late), "n2");
  c.require([&] { return c.one_view() && c.full_mesh(); }, 10s, "n2 joins through n1");
}

TEST(sim_cluster, nothing_is_recorded_when_recording_is_off) {
  sim_cluster c({.nodes = 2, .seed = 14, .record = false});
  c.require([&] { return c.one_view(); }, 10s, "the cluster forms");
  c.note("ignored");
  EXPECT_TRUE(c.transcript().empty());
}

}  // namespace
}  // namespace troupe::cluster::testing
