#pragma once

// N troupe nodes on one simulated network, each a cluster member joined
// through c0: the fixture of the cluster layer's tests and benchmarks. A
// node or member that cannot start throws std::runtime_error.

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/net/testing/test_actors.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::cluster::testing {

using namespace std::chrono_literals;

struct cluster_nodes {
  explicit cluster_nodes(std::size_t n, std::uint64_t seed = 1,
                         std::function<void(cluster_config&)> tweak = {})
      : rt(seed), net(rt), tweak_(std::move(tweak)) {
    for (std::size_t i = 0; i < n; ++i) add();
  }
  /// Starts one more member, "c<i>", joined through c0 (c0 itself: no seed).
  std::size_t add() {
    const std::size_t i = nodes.size();
    const std::string name = "c" + std::to_string(i);
    systems.push_back(std::make_unique<system>(rt.config()));
    net::node_config cfg;
    cfg.name = name;
    cfg.listen = name + ":7000";
    cfg.cookie = "cluster-secret";
    cfg.log = [](std::string_view) {};
    hosts.push_back(net.host(name));
    auto nd = net::node::start(*systems.back(), cfg, net::node_testing::test_types(), hosts.back());
    if (!nd) throw std::runtime_error("node " + name + ": " + nd.error().message());
    nodes.push_back(std::move(*nd));
    cluster_config cc;
    if (i != 0) cc.seeds = {"c0:7000"};
    if (tweak_) tweak_(cc);
    auto c = cluster::start(rt.clock(), rt.random(), *hosts.back(), *nodes.back(), cc);
    if (!c) throw std::runtime_error("member " + name + ": " + c.error().message());
    clusters.push_back(std::move(*c));
    return i;
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
    return rt.advance_until(p, limit);
  }
  bool full_mesh(const std::vector<std::size_t>& who) {
    for (std::size_t i : who)
      if (nodes[i]->peers().size() != who.size() - 1) return false;
    return true;
  }
  /// True when the receptionists of `who` show the same entries.
  bool same_registry(const std::vector<std::size_t>& who) {
    for (std::size_t i : who)
      if (systems[i]->receptionist().digest() != systems[who[0]]->receptionist().digest())
        return false;
    return true;
  }
  /// True when `who` all hold member `m` in `state`.
  bool all_see(const std::vector<std::size_t>& who, std::size_t m, member_state state) {
    const member_key key{nodes[m]->name(), nodes[m]->incarnation()};
    for (std::size_t i : who) {
      auto info = clusters[i]->members().find(key);
      if (!info || info->state != state) return false;
    }
    return true;
  }

  sim::runtime rt;
  sim::network net;
  std::vector<std::unique_ptr<system>> systems;
  std::vector<std::shared_ptr<transport>> hosts;
  std::vector<std::unique_ptr<net::node>> nodes;
  std::vector<std::unique_ptr<cluster>> clusters;

 private:
  std::function<void(cluster_config&)> tweak_;
};

}  // namespace troupe::cluster::testing
