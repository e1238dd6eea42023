#include "troupe/cluster/cluster.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "troupe/net/testing/two_nodes.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

// Nodes that are cluster members: sessions join by themselves, a dead member
// loses its session, and a reset tells membership at once.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using net::node_testing::counter;
using net::node_testing::echo;

struct cluster_nodes {
  explicit cluster_nodes(std::size_t n, std::uint64_t seed = 1) : rt(seed), net(rt) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::string name = "c" + std::to_string(i);
      systems.push_back(std::make_unique<system>(rt.config()));
      net::node_config cfg;
      cfg.name = name;
      cfg.listen = name + ":7000";
      cfg.cookie = "cluster-secret";
      cfg.log = [](std::string_view) {};
      hosts.push_back(net.host(name));
      auto nd =
          net::node::start(*systems.back(), cfg, net::node_testing::test_types(), hosts.back());
      EXPECT_TRUE(nd) << nd.error().message();
      nodes.push_back(std::move(*nd));
      cluster_config cc;
      if (i != 0) cc.seeds = {"c0:7000"};
      auto c = cluster::start(rt.clock(), rt.random(), *hosts.back(), *nodes.back(), cc);
      EXPECT_TRUE(c) << c.error().message();
      clusters.push_back(std::move(*c));
    }
  }
  ~cluster_nodes() {
    for (auto& c : clusters)
      if (c) c->stop();
    for (auto& n : nodes)
      if (n) n->stop();
    for (auto& s : systems) s->shutdown(1s);
  }
  template <class Pred>
  bool run_until(Pred p, duration limit) {
    const time_point end = rt.now() + limit;
    while (!p()) {
      if (rt.now() >= end) return false;
      rt.advance(10ms);
    }
    return true;
  }
  bool full_mesh(const std::vector<std::size_t>& who) {
    for (std::size_t i : who)
      if (nodes[i]->peers().size() != who.size() - 1) return false;
    return true;
  }

  sim::runtime rt;
  sim::network net;
  std::vector<std::unique_ptr<system>> systems;
  std::vector<std::shared_ptr<transport>> hosts;
  std::vector<std::unique_ptr<net::node>> nodes;
  std::vector<std::unique_ptr<cluster>> clusters;
};

TEST(cluster, a_node_that_joined_through_one_seed_reaches_actors_on_every_node) {
  cluster_nodes c(4);
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.full_mesh({0, 1, 2, 3});
      },
      10s))
      << "sessions did not join by themselves";
  // c3 only knew c0; it reaches an actor on c2 by lookup and ask.
  auto target = c.systems[2]->spawn<counter>().value();
  ASSERT_TRUE(c.systems[2]->receptionist().check_in("svc/echo", target));
  auto found = c.nodes[3]->lookup<counter>("c2", "svc/echo");
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
  cluster_nodes c(4, 3);
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3}); }, 10s));
  auto target = c.systems[1]->spawn<counter>().value();
  ASSERT_TRUE(c.systems[1]->receptionist().check_in("svc/nap", target));
  auto found = c.nodes[2]->lookup<counter>("c1", "svc/nap");
  ASSERT_TRUE(c.run_until([&] { return found.ready(); }, 5s));
  auto ep = std::move(found).get();
  ASSERT_TRUE(ep);
  net::node_testing::nap long_nap{60'000};
  auto pending = ep->ask(long_nap, 120s);
  c.rt.advance(100ms);
  c.net.freeze("c1");  // silent: no reset, only membership can tell
  ASSERT_TRUE(c.run_until([&] { return pending.ready(); }, 15s)) << "the ask outlived the member";
  auto r = std::move(pending).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::node_down);
  ASSERT_TRUE(c.run_until(
      [&] {
        auto m = c.clusters[2]->members().find(member_key{"c1", c.nodes[1]->incarnation()});
        return m && m->state == member_state::dead;
      },
      10s));
}

TEST(cluster, a_member_that_leaves_is_left_not_dead) {
  cluster_nodes c(3, 5);
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  c.clusters[2]->leave();
  ASSERT_TRUE(c.run_until(
      [&] {
        auto m = c.clusters[0]->members().find(member_key{"c2", c.nodes[2]->incarnation()});
        return m && m->state == member_state::left;
      },
      5s));
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
