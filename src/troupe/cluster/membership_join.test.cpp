#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "troupe/cluster/membership.hpp"
#include "troupe/core/random.hpp"
#include "troupe/core/real_clock.hpp"
#include "troupe/net/tcp_transport.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

// membership::join(): seeds added while running (what discovery finds), on
// the simulated network's datagrams.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;

struct two_alone {
  explicit two_alone(swim_config cfg = swim_config::local()) : rt(21), net(rt) {
    for (const char* name : {"a", "b"}) {
      hosts.push_back(net.host(name));
      membership_config c;
      c.name = name;
      c.listen = std::string(name) + ":7946";
      c.swim = cfg;
      auto m = membership::start(rt.clock(), rt.random(), *hosts.back(), c);
      EXPECT_TRUE(m) << m.error().message();
      members.push_back(std::move(*m));
    }
  }
  ~two_alone() {
    for (auto& m : members) m->stop();
  }
  bool alive(std::size_t observer, std::size_t subject) {
    auto m = members[observer]->find(members[subject]->self());
    return m && m->state == member_state::alive;
  }
  template <class Pred>
  bool run_until(Pred p, duration limit) {
    return rt.advance_until(p, limit);
  }
  sim::runtime rt;
  sim::network net;
  std::vector<std::shared_ptr<transport>> hosts;
  std::vector<std::unique_ptr<membership>> members;
};

TEST(membership_join, members_without_seeds_meet_once_one_joins_the_other) {
  two_alone c;
  c.rt.advance(3s);
  ASSERT_FALSE(c.alive(0, 1)) << "no seeds: strangers";
  ASSERT_EQ(c.members[0]->members().size(), 1u);
  auto r = c.members[1]->join({"a:7946"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(c.run_until([&] { return c.alive(0, 1) && c.alive(1, 0); }, 3s));
}

TEST(membership_join, a_join_that_is_lost_is_retried) {
  two_alone c;
  c.net.partition({"a"}, {"b"});
  ASSERT_TRUE(c.members[1]->join({"a:7946"}));
  c.rt.advance(2s);
  EXPECT_FALSE(c.alive(0, 1));
  c.net.heal();
  EXPECT_TRUE(c.run_until([&] { return c.alive(0, 1) && c.alive(1, 0); }, 3s))
      << "the reconnect loop keeps contacting a discovered address";
}

TEST(membership_join, bad_addresses_are_refused_and_none_is_added) {
  two_alone c;
  for (const char* bad : {"", "a", "a:", "a:0", "a:65536", "a:7x", "1.2.3:7946", "::1:7946",
                          "[zz]:7946", "a b:7946", "a..b:7946"}) {
    auto r = c.members[1]->join({"a:7946", bad});
    ASSERT_FALSE(r) << "'" << bad << "'";
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << bad;
  }
  c.rt.advance(3s);
  EXPECT_FALSE(c.alive(0, 1)) << "a refused join adds no address, not even the good ones";
  EXPECT_TRUE(c.members[1]->join({"10.0.0.1:7946", "[::1]:7946", "node-1.example:1"}));
}

TEST(membership_join, a_discovered_address_is_forgotten_when_no_longer_named) {
  swim_config cfg = swim_config::local();  // reconnect every 500 ms
  cfg.discovered_retention = 3s;
  two_alone c(cfg);
  const auto syncs = [&] { return c.members[1]->stats().syncs; };
  ASSERT_TRUE(c.members[1]->join({"ghost:7946"}));
  const auto at_join = syncs();
  EXPECT_GE(at_join, 1u) << "contacted at once";
  c.rt.advance(2500ms);
  ASSERT_TRUE(c.members[1]->join({"ghost:7946"})) << "named again: renewed";
  c.rt.advance(2500ms);
  const auto renewed = syncs();
  EXPECT_GE(renewed - at_join, 8u) << "retried every reconnect interval while named";
  c.rt.advance(2s);
  const auto forgotten = syncs();
  c.rt.advance(5s);
  EXPECT_EQ(syncs(), forgotten) << "not tried after discovered_retention without a join";
}

TEST(membership_join, join_after_stop_says_so) {
  two_alone c;
  c.members[1]->stop();
  auto r = c.members[1]->join({"a:7946"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::shutting_down);
}

// Real threads on loopback UDP: joins from several threads at once while the
// engine runs on the transport's and the clock's threads (for TSan).
TEST(membership_join, joins_from_many_threads_at_once_on_real_sockets) {
  real_clock clock;
  system_random random;
  auto net = net::tcp_transport::make({});
  ASSERT_TRUE(net) << net.error().message();
  std::vector<std::unique_ptr<membership>> ms;
  for (const char* name : {"a", "b"}) {
    membership_config c;
    c.name = name;
    c.listen = "127.0.0.1:0";
    c.swim = swim_config::local();
    auto m = membership::start(clock, random, **net, c);
    ASSERT_TRUE(m) << m.error().message();
    ms.push_back(std::move(*m));
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        // Loopback addresses where nobody listens: harmless to contact.
        const std::string to =
            "127.0." + std::to_string(t + 1) + "." + std::to_string(i + 1) + ":9";
        EXPECT_TRUE(ms[1]->join({to}));
      }
    });
  ASSERT_TRUE(ms[1]->join({ms[0]->address()}));
  for (auto& t : threads) t.join();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  auto met = [&] {
    auto x = ms[0]->find(ms[1]->self());
    auto y = ms[1]->find(ms[0]->self());
    return x && y && x->state == member_state::alive && y->state == member_state::alive;
  };
  while (!met() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(met());
  for (auto& m : ms) m->stop();
  (*net)->stop();
  clock.stop();
}

}  // namespace
}  // namespace troupe::cluster
