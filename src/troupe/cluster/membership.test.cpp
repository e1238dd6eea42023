#include "troupe/cluster/membership.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

// Membership over the simulated network's datagrams: the engine on real
// sockets and timers (virtual ones here), joining, events to listeners,
// crashes, partitions and leaving.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;

struct cluster_of {
  explicit cluster_of(std::size_t n, std::uint64_t seed = 1) : rt(seed), net(rt) {
    for (std::size_t i = 0; i < n; ++i) {
      hosts.push_back(net.host(name(i)));
      membership_config c;
      c.name = name(i);
      c.listen = name(i) + ":7946";
      if (i != 0) c.seeds = {"m0:7946"};
      auto m = membership::start(rt.clock(), rt.random(), *hosts.back(), c);
      EXPECT_TRUE(m) << m.error().message();
      members.push_back(std::move(*m));
      events.emplace_back();
      auto* log = &events.back();
      members.back()->subscribe([log](const member_event& e) { log->push_back(e); });
    }
  }
  ~cluster_of() {
    for (auto& m : members)
      if (m) m->stop();
  }
  static std::string name(std::size_t i) { return "m" + std::to_string(i); }

  // True when member `observer` holds `subject` in state `s`.
  bool holds(std::size_t observer, std::size_t subject, member_state s) {
    auto m = members[observer]->find(members[subject]->self());
    return m && m->state == s;
  }
  bool all_alive(const std::vector<std::size_t>& who) {
    for (std::size_t i : who)
      for (std::size_t j : who)
        if (i != j && !holds(i, j, member_state::alive)) return false;
    return true;
  }
  template <class Pred>
  bool run_until(Pred p, duration limit) {
    return rt.advance_until(p, limit);
  }

  sim::runtime rt;
  sim::network net;
  std::vector<std::shared_ptr<transport>> hosts;
  std::vector<std::unique_ptr<membership>> members;
  std::deque<std::vector<member_event>> events;
};

TEST(membership, members_find_each_other_through_a_seed_and_listeners_hear_it) {
  cluster_of c(5);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4}); }, 5s));
  for (std::size_t i = 0; i < 5; ++i) {
    std::size_t joined = 0;
    for (const auto& e : c.events[i])
      if (e.what == member_event::kind::joined) ++joined;
    EXPECT_EQ(joined, 4u) << "member " << i;
    EXPECT_EQ(c.members[i]->members().size(), 5u);
  }
  EXPECT_EQ(c.members[2]->address(), "m2:7946");
  EXPECT_GT(c.net.datagram_stats("m2").sent, 0u);
}

TEST(membership, a_late_listener_first_hears_every_member_joined_then_changes) {
  cluster_of c(4, 11);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3}); }, 5s));
  std::vector<member_event> late;
  c.members[1]->subscribe([&](const member_event& e) { late.push_back(e); });
  ASSERT_EQ(late.size(), 3u) << "one joined event per other live member";
  for (const auto& e : late) EXPECT_EQ(e.what, member_event::kind::joined);
  c.net.crash("m3");
  ASSERT_TRUE(c.run_until([&] { return c.holds(1, 3, member_state::dead); }, 15s));
  std::size_t dead = 0;
  for (const auto& e : late)
    if (e.what == member_event::kind::dead && e.member.key.name == "m3") ++dead;
  EXPECT_EQ(dead, 1u);
}

TEST(membership, a_crashed_host_is_dead_at_every_member) {
  cluster_of c(5, 3);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4}); }, 5s));
  const time_point at = c.rt.now();
  c.net.crash("m3");
  ASSERT_TRUE(c.run_until(
      [&] {
        for (std::size_t i : {0, 1, 2, 4})
          if (!c.holds(i, 3, member_state::dead)) return false;
        return true;
      },
      15s));
  EXPECT_LE(c.rt.now() - at, 6s);
  bool heard = false;
  for (const auto& e : c.events[0])
    if (e.what == member_event::kind::dead && e.member.key.name == "m3") heard = true;
  EXPECT_TRUE(heard);
}

TEST(membership, a_partition_heals_by_itself) {
  cluster_of c(5, 5);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4}); }, 5s));
  c.net.partition({"m0", "m1", "m2"}, {"m3", "m4"});
  c.rt.advance(40s);
  EXPECT_TRUE(c.holds(0, 4, member_state::dead));
  EXPECT_TRUE(c.holds(4, 0, member_state::dead));
  c.net.heal();
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4}); }, 10s));
}

TEST(membership, a_member_that_leaves_is_left_everywhere) {
  cluster_of c(4, 7);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3}); }, 5s));
  c.members[2]->leave();
  ASSERT_TRUE(c.run_until(
      [&] {
        for (std::size_t i : {0, 1, 3})
          if (!c.holds(i, 2, member_state::left)) return false;
        return true;
      },
      3s));
  c.members[2]->stop();
  c.rt.advance(20s);
  for (std::size_t i : {0, 1, 3}) EXPECT_TRUE(c.holds(i, 2, member_state::left));
}

TEST(membership, start_refuses_bad_names_and_taken_ports) {
  sim::runtime rt;
  sim::network net(rt);
  auto host = net.host("h");
  membership_config bad;
  bad.listen = "h:7946";
  auto r = membership::start(rt.clock(), rt.random(), *host, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  membership_config ok;
  ok.name = "a";
  ok.listen = "h:7946";
  auto first = membership::start(rt.clock(), rt.random(), *host, ok);
  ASSERT_TRUE(first) << first.error().message();
  ok.name = "b";
  auto second = membership::start(rt.clock(), rt.random(), *host, ok);
  ASSERT_FALSE(second) << "the port is taken";
  EXPECT_EQ(second.error().code(), errc::invalid_argument);
}

TEST(membership, no_listener_runs_after_stop) {
  cluster_of c(3, 9);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2}); }, 5s));
  c.members[0]->stop();
  const std::size_t heard = c.events[0].size();
  c.net.crash("m1");
  c.rt.advance(20s);
  EXPECT_EQ(c.events[0].size(), heard);
  EXPECT_TRUE(c.holds(2, 1, member_state::dead)) << "the others carried on";
}

}  // namespace
}  // namespace troupe::cluster
