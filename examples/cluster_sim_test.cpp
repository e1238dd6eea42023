// Testing your own actor on a simulated cluster.
//
// Three troupe nodes, "n0", "n1" and "n2", run in this one process on the
// test kit troupe::cluster::testing::sim_cluster: a virtual clock, a seeded
// random source and an in-memory network with loss, partitions and crashes,
// so the run is the same every time. Each node is a cluster member (SWIM
// membership and the replicated receptionist), joined through n0, exactly
// as it would be on real machines. The program tests a small key-value
// store actor:
//
// - it is spawned on n2 and checked in as "kv/main";
// - n0 and n1 find it by label (the receptionist spans the cluster) and
//   ask it to store and read keys;
// - n2 is killed with an ask on its way: the ask ends with errc::node_down,
//   every member declares n2 dead, and "kv/main" vanishes everywhere;
// - n2 restarts as a new incarnation and checks a new store in: the others
//   find it, empty (what the old life held died with it).
//
// Time moves only when the program advances it; every wait is bounded. The
// program prints each check and exits non-zero if any fails (then it also
// prints the run's transcript: what every node saw, when).

#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "troupe/cluster/testing/sim_cluster.hpp"
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

// ---- the test ------------------------------------------------------------------

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// Spawns a store on node i and checks it in as "kv/main".
bool start_store(troupe::cluster::testing::sim_cluster& c, std::size_t i) {
  auto store = c.sys(i).spawn<kv_store>();
  return store && c.sys(i).receptionist().check_in("kv/main", *store);
}

void run() {
  using troupe::cluster::member_state;
  using troupe::cluster::testing::sim_cluster;
  using troupe::cluster::testing::types_of;
  // 5% of gossip packets get lost: nobody may be declared dead for it.
  sim_cluster c(
      {.nodes = 3, .seed = 42, .types = types_of<kv_store>(), .network = {.datagram_loss = 0.05}});
  check(c.run_until([&] { return c.one_view(); }, 10s), "the three nodes form one cluster");

  check(start_store(c, 2), "n2 checks a store in as kv/main");
  auto found_by_all = [&] {
    return c.sys(0).receptionist().lookup<kv_store>("kv/main") &&
           c.sys(1).receptionist().lookup<kv_store>("kv/main");
  };
  check(c.run_until(found_by_all, 2s), "n0 and n1 find kv/main");

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

  // n2 is killed while an ask to it is on its way (a deadline far away).
  auto pending = from_n0.ask(read, 60s);
  c.crash(2);
  check(c.run_until([&] { return pending.ready(); }, 10s), "the ask to the killed node ends");
  auto lost = std::move(pending).get();
  check(!lost && lost.error().code() == troupe::errc::node_down,
        "... with node_down, long before its deadline");
  check(c.run_until(
            [&] {
              return c.all_see({0, 1}, 2, member_state::dead);
            },
            10s),
        "n0 and n1 declare n2 dead");
  check(c.run_until(
            [&] {
              return !c.sys(0).receptionist().lookup<kv_store>("kv/main") &&
                     !c.sys(1).receptionist().lookup<kv_store>("kv/main");
            },
            2s),
        "kv/main is gone from n0 and n1");
  check(c.one_view(), "n0 and n1 still hold each other alive");

  // n2 comes back: the same name and address, a new incarnation.
  c.restart(2);
  check(start_store(c, 2), "the new n2 checks a new store in");
  check(c.run_until([&] { return c.one_view() && found_by_all(); }, 10s),
        "n0 and n1 hold the new n2 alive and find its store");
  auto fresh = c.sys(1).receptionist().lookup<kv_store>("kv/main");
  check(fresh != from_n1, "... a new endpoint: the old one named the dead life");
  auto empty = fresh.ask(read, 2s);
  check(c.run_until([&] { return empty.ready(); }, 3s), "the get from n1 ends");
  auto nothing = std::move(empty).get();
  check(nothing && nothing->empty(), "the new store is empty: the old one died with its node");

  if (failures != 0)
    for (const auto& line : c.transcript()) std::printf("    %s\n", line.c_str());
}

}  // namespace example

int main() {
  std::printf("a key-value store on a simulated three-node cluster:\n");
  example::run();
  std::printf("%s\n", example::failures == 0 ? "all checks passed" : "some checks FAILED");
  return example::failures == 0 ? 0 : 1;
}
