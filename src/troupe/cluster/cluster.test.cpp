#include "troupe/cluster/cluster.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "troupe/cluster/testing/test_cluster.hpp"

// Nodes that are cluster members: sessions join by themselves, a dead member
// loses its session, and a reset tells membership at once.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using net::node_testing::counter;
using net::node_testing::echo;
using testing::sim_cluster;
using testing::test_cluster;

TEST(cluster, a_node_that_joined_through_one_seed_reaches_actors_on_every_node) {
  sim_cluster c(test_cluster(4));
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.full_mesh({0, 1, 2, 3});
      },
      10s))
      << "sessions did not join by themselves";
  // c3 only knew c0; it reaches an actor on c2 by lookup and ask.
  auto target = c.sys(2).spawn<counter>().value();
  ASSERT_TRUE(c.sys(2).receptionist().check_in("svc/echo", target));
  auto found = c.node(3).lookup<counter>("c2", "svc/echo");
  ASSERT_TRUE(c.run_until([&] { return found.ready(); }, 5s));
  auto ep = std::move(found).get();
  ASSERT_TRUE(ep) << ep.error().message();
  echo hello{"over the cluster"};
  auto reply = ep->ask(hello);
  ASSERT_TRUE(c.run_until([&] { return reply.ready(); }, 5s));
  auto text = std::move(reply).get();
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, "echo: over the cluster");
}

TEST(cluster, a_crashed_member_loses_its_sessions_and_asks_to_it_end_with_node_down) {
  sim_cluster c(test_cluster(4, 3));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3}); }, 10s));
  auto target = c.sys(1).spawn<counter>().value();
  ASSERT_TRUE(c.sys(1).receptionist().check_in("svc/nap", target));
  auto found = c.node(2).lookup<counter>("c1", "svc/nap");
  ASSERT_TRUE(c.run_until([&] { return found.ready(); }, 5s));
  auto ep = std::move(found).get();
  ASSERT_TRUE(ep);
  net::node_testing::nap long_nap{60'000};
  auto pending = ep->ask(long_nap, 120s);
  c.advance(100ms);
  c.freeze(1);  // silent: no reset, only membership can tell
  ASSERT_TRUE(c.run_until([&] { return pending.ready(); }, 15s)) << "the ask outlived the member";
  auto r = std::move(pending).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::node_down);
  ASSERT_TRUE(c.run_until([&] { return c.sees(2, 1, member_state::dead); }, 10s));
}

TEST(cluster, a_member_that_leaves_is_left_not_dead) {
  sim_cluster c(test_cluster(3, 5));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  c.member(2).leave();
  ASSERT_TRUE(c.run_until([&] { return c.sees(0, 2, member_state::left); }, 5s));
}

TEST(cluster, a_node_that_does_not_listen_cannot_be_a_member) {
  sim::runtime rt;
  sim::network net(rt);
  system sys(rt.config());
  net::node_config cfg;
  cfg.name = "quiet";
  cfg.cookie = "cluster-secret";
  auto host = net.host("quiet");
  auto nd = net::node::start(sys, cfg, net::node_testing::test_types(), host);
  ASSERT_TRUE(nd);
  auto c = cluster::start(rt.clock(), rt.random(), *host, **nd, {});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::invalid_argument);
  (*nd)->stop();
  sys.shutdown(1s);
}

}  // namespace
}  // namespace troupe::cluster
