// Testing your own actor on a simulated cluster.
//
// Three troupe nodes, "n0", "n1" and "n2", run in this one process on
// troupe::sim: a virtual clock, a seeded random source and an in-memory
// network (sim::network) with loss, partitions and crashes, so the run is
// the same every time. Each node is a cluster member (SWIM membership and the
// replicated receptionist), joined through n0, exactly as it would be on
// real machines. The program tests a small key-value store actor:
//
// - it is spawned on n2 and checked in as "kv/main";
// - n0 and n1 find it by label (the receptionist spans the cluster) and
//   ask it to store and read keys;
// - n2 crashes with an ask on its way: the ask ends with errc::node_down,
//   every member declares n2 dead, and "kv/main" vanishes everywhere.
//
// Time moves only when the program advances it; every wait is bounded. The
// program prints each check and exits non-zero if any fails.

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/net/node.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace example {

// ---- the actor under test ----------------------------------------------------

struct put {
  using reply = bool;  // true when the key was new
  static constexpr std::string_view type_name = "kv.put";
  std::string key;
  std::string value;
};
struct get {
  using reply = std::string;  // empty when the key is missing
  static constexpr std::string_view type_name = "kv.get";
  std::string key;
};

class kv_store : public troupe::actor<kv_store> {
 public:
  static constexpr std::string_view type_name = "kv.store";
  using handles = troupe::handles<put, get>;
  bool handle(const put& m) { return data_.insert_or_assign(m.key, m.value).second; }
  std::string handle(const get& m) {
    auto it = data_.find(m.key);
    return it == data_.end() ? std::string() : it->second;
  }

 private:
  std::map<std::string, std::string> data_;
};

// ---- a simulated cluster ------------------------------------------------------

/// N nodes on one simulated network, each a cluster member joined through n0.
struct sim_cluster {
  struct member {
    std::unique_ptr<troupe::system> sys;
    std::unique_ptr<troupe::net::node> node;
    std::unique_ptr<troupe::cluster::cluster> cluster;
  };

  explicit sim_cluster(std::size_t n, std::uint64_t seed) : rt(seed), net(rt) {
    net.options().datagram_loss = 0.05;  // gossip packets get lost; nobody may die of it
    for (std::size_t i = 0; i < n; ++i) {
      std::string name = "n";
      name += std::to_string(i);
      member m;
      m.sys = std::make_unique<troupe::system>(rt.config());
      troupe::net::node_config cfg;
      cfg.name = name;
      cfg.listen = name + ":7000";
      cfg.cookie = "test-cookie";
      cfg.incarnation = 1 + rt.random().below(1'000'000);  // from the seed: the run replays
      cfg.log = [](std::string_view) {};
      auto types = troupe::net::remote_types::of<kv_store>().value();
      auto host = net.host(name);
      m.node = troupe::net::node::start(*m.sys, cfg, std::move(types), host).value();
      troupe::cluster::cluster_config cc;
      if (i != 0) cc.seeds = {"n0:7000"};
      m.cluster =
          troupe::cluster::cluster::start(rt.clock(), rt.random(), *host, *m.node, cc).value();
      members.push_back(std::move(m));
    }
  }
  ~sim_cluster() {
    for (auto& m : members) m.cluster->stop();
    for (auto& m : members) m.node->stop();
    for (auto& m : members) m.sys->shutdown(1s);
  }

  troupe::system& sys(std::size_t i) { return *members[i].sys; }

  /// Moves virtual time in 10 ms steps until `done()` holds (true) or
  /// `limit` has passed (false).
  template <class Pred>
  bool run_until(Pred done, troupe::duration limit) {
    const troupe::time_point end = rt.now() + limit;
    while (!done()) {
      if (rt.now() >= end) return false;
      rt.advance(10ms);
    }
    return true;
  }

  /// True when member `observer` holds member `m` in `state`.
  bool sees(std::size_t observer, std::size_t m, troupe::cluster::member_state state) {
    const troupe::cluster::member_key key{members[m].node->name(), members[m].node->incarnation()};
    auto info = members[observer].cluster->members().find(key);
    return info && info->state == state;
  }

  troupe::sim::runtime rt;
  troupe::sim::network net;
  std::vector<member> members;
};

// ---- the test ------------------------------------------------------------------

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

void run() {
  using troupe::cluster::member_state;
  sim_cluster c(3, 42);
  check(c.run_until(
            [&] {
              for (std::size_t i = 0; i < 3; ++i)
                for (std::size_t j = 0; j < 3; ++j)
                  if (i != j && !c.sees(i, j, member_state::alive)) return false;
              return true;
            },
            10s),
        "the three nodes form one cluster");

  auto store = c.sys(2).spawn<kv_store>().value();
  check(static_cast<bool>(c.sys(2).receptionist().check_in("kv/main", store)),
        "n2 checks the store in as kv/main");
  check(c.run_until(
            [&] {
              return c.sys(0).receptionist().lookup<kv_store>("kv/main") &&
                     c.sys(1).receptionist().lookup<kv_store>("kv/main");
            },
            2s),
        "n0 and n1 find kv/main");

  // From n0: store a key; from n1: read it back. The endpoints are remote,
  // the code is what it would be for a local actor.
  troupe::endpoint<kv_store> from_n0 = c.sys(0).receptionist().lookup<kv_store>("kv/main");
  troupe::endpoint<kv_store> from_n1 = c.sys(1).receptionist().lookup<kv_store>("kv/main");
  put hello{"greeting", "hello"};
  auto stored = from_n0.ask(hello, 2s);
  check(c.run_until([&] { return stored.ready(); }, 3s), "the put from n0 ends");
  auto was_new = std::move(stored).get();
  check(was_new && *was_new, "the put stored a new key");
  get read{"greeting"};
  auto value = from_n1.ask(read, 2s);
  check(c.run_until([&] { return value.ready(); }, 3s), "the get from n1 ends");
  auto text = std::move(value).get();
  check(text && *text == "hello", "n1 reads what n0 stored");

  // n2 crashes while an ask to it is on its way (a deadline far away).
  auto pending = from_n0.ask(read, 60s);
  c.net.crash("n2");
  check(c.run_until([&] { return pending.ready(); }, 10s), "the ask to the crashed node ends");
  auto lost = std::move(pending).get();
  check(!lost && lost.error().code() == troupe::errc::node_down,
        "... with node_down, long before its deadline");
  check(c.run_until(
            [&] { return c.sees(0, 2, member_state::dead) && c.sees(1, 2, member_state::dead); },
            10s),
        "n0 and n1 declare n2 dead");
  check(c.run_until(
            [&] {
              return !c.sys(0).receptionist().lookup<kv_store>("kv/main") &&
                     !c.sys(1).receptionist().lookup<kv_store>("kv/main");
            },
            2s),
        "kv/main is gone from n0 and n1");
  check(c.sees(0, 1, member_state::alive) && c.sees(1, 0, member_state::alive),
        "n0 and n1 still hold each other alive");
}

}  // namespace example

int main() {
  std::printf("a key-value store on a simulated three-node cluster:\n");
  example::run();
  std::printf("%s\n", example::failures == 0 ? "all checks passed" : "some checks FAILED");
  return example::failures == 0 ? 0 : 1;
}
