// troupe: SWIM membership figures from the simulated cluster
// (troupe::cluster::testing::swim_sim, LAN profile), each over many seeds:
//
//   swim_detect_silent   a member goes silent (crash, no reset): time until
//                        every other member holds it dead, p50 / p99
//   swim_detect_kill     a member's process is killed on a live host (its
//                        connections reset): the same
//   swim_false_deaths_10pct / _20pct
//                        dead declarations about live members over 10
//                        simulated minutes at 10% / 20% random packet loss
//   swim_converge_after_heal
//                        a 7/3 partition of 30 s and of 90 s, healed: time
//                        until every member holds every member alive again,
//                        and dead events from the heal on (every member is
//                        alive: each is a verdict made apart that spread),
//                        summed over the runs
//   converge_after_heal  the same with full nodes (troupe nodes, sessions,
//                        replicated receptionists, 20 entries per node and
//                        churn on both sides while apart): view_s, as above,
//                        and registry_s, from one view to equal registry
//                        digests at every member
//   swim_load            packets and bytes sent per member per second in a
//                        steady cluster
//
// at 10 members, and the detection, false-death and load figures at 50 and
// 100. Prints RESULT lines with env=sim.
//
// usage: bench_swim_sim_troupe [runs=60]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "troupe/cluster/testing/swim_sim.hpp"
#include "troupe/cluster/testing/test_cluster.hpp"

namespace {

using namespace std::chrono_literals;
using troupe::duration;
using troupe::time_point;
using troupe::cluster::member_state;
using troupe::cluster::testing::swim_sim;
using troupe::cluster::testing::swim_sim_options;
using kind = troupe::cluster::member_event::kind;

double seconds(duration d) { return std::chrono::duration<double>(d).count(); }

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

swim_sim_options options(std::size_t nodes, std::uint64_t seed, double loss = 0) {
  swim_sim_options o;
  o.nodes = nodes;
  o.seed = seed;
  o.loss = loss;
  return o;
}

// Time from a silent crash (or a kill) to dead at every other member.
void detect(std::size_t nodes, std::size_t runs, bool kill) {
  std::vector<double> t;
  std::size_t missed = 0;
  for (std::size_t r = 0; r < runs; ++r) {
    swim_sim sim(options(nodes, 1000 + r));
    if (!sim.run_until([&] { return sim.converged(); }, 60s)) {
      ++missed;
      continue;
    }
    sim.run_for(5s);
    const std::size_t victim = 1 + r % (nodes - 1);
    const time_point at = sim.now();
    if (kill)
      sim.kill(victim);
    else
      sim.crash(victim);
    if (sim.run_until([&] { return sim.all_see(victim, member_state::dead); }, 60s))
      t.push_back(seconds(sim.now() - at));
    else
      ++missed;
  }
  std::printf(
      "RESULT bench=%s impl=troupe env=sim nodes=%zu runs=%zu p50_s=%.2f p99_s=%.2f "
      "max_s=%.2f missed=%zu\n",
      kill ? "swim_detect_kill" : "swim_detect_silent", nodes, runs, quantile(t, 0.5),
      quantile(t, 0.99), t.empty() ? 0.0 : *std::max_element(t.begin(), t.end()), missed);
}

// Dead declarations about live members over `span` at `loss`.
void false_deaths(std::size_t nodes, double loss, duration span, std::size_t runs) {
  std::size_t count = 0;
  for (std::size_t r = 0; r < runs; ++r) {
    swim_sim sim(options(nodes, 2000 + r, loss));
    sim.run_until([&] { return sim.converged(); }, 60s);
    const time_point from = sim.now();
    sim.run_for(span);
    for (std::size_t j = 0; j < nodes; ++j) count += sim.count(kind::dead, j, from);
  }
  std::printf(
      "RESULT bench=swim_false_deaths_%dpct impl=troupe env=sim nodes=%zu runs=%zu "
      "count=%zu seconds=%.0f\n",
      static_cast<int>(loss * 100 + 0.5), nodes, runs, count,
      seconds(span) * static_cast<double>(runs));
}

// Time from healing a 7/3 partition to one view.
void converge_after_heal(duration partition_for, std::size_t runs) {
  std::vector<double> t;
  std::size_t missed = 0;
  std::size_t deaths = 0;
  for (std::size_t r = 0; r < runs; ++r) {
    swim_sim sim(options(10, 3000 + r));
    sim.run_until([&] { return sim.converged(); }, 60s);
    sim.partition({0, 1, 2, 3, 4, 5, 6}, {7, 8, 9});
    sim.run_for(partition_for);
    const time_point at = sim.now();
    sim.heal();
    if (sim.run_until([&] { return sim.converged(); }, 120s))
      t.push_back(seconds(sim.now() - at));
    else
      ++missed;
    for (std::size_t j = 0; j < 10; ++j) deaths += sim.count(kind::dead, j, at);
  }
  std::printf(
      "RESULT bench=swim_converge_after_heal impl=troupe env=sim nodes=10 partition_s=%.0f "
      "runs=%zu view_s=%.2f view_p99_s=%.2f deaths_after_heal=%zu missed=%zu\n",
      seconds(partition_for), runs, quantile(t, 0.5), quantile(t, 0.99), deaths, missed);
}

// Full nodes: time from healing a 7/3 partition to one view, then to equal
// registries.
void converge_registries(duration partition_for, std::size_t runs) {
  using troupe::cluster::testing::sim_cluster;
  using troupe::cluster::testing::test_cluster;
  using troupe::net::node_testing::counter;
  std::vector<double> view, registry, from_heal;
  std::size_t missed = 0;
  for (std::size_t r = 0; r < runs; ++r) {
    sim_cluster c(test_cluster(10, 5000 + r));
    std::vector<std::size_t> all(10);
    for (std::size_t i = 0; i < 10; ++i) all[i] = i;
    auto one_view = [&] {
      for (std::size_t m = 0; m < 10; ++m)
        if (!c.all_see(all, m, member_state::alive)) return false;
      return true;
    };
    // 20 entries per node, on one reception key.
    const troupe::reception_key<counter> key{"bench/counters"};
    std::vector<std::vector<troupe::endpoint<counter>>> actors(10);
    auto check_in = [&](std::size_t node, int n) {
      auto a = c.sys(node).spawn<counter>();
      if (!a) return;
      actors[node].push_back(*a);
      (void)c.sys(node).receptionist().check_in(
          "bench/n" + std::to_string(node) + "/e" + std::to_string(n), *a, key);
    };
    for (std::size_t i = 0; i < 10; ++i)
      for (int n = 0; n < 20; ++n) check_in(i, n);
    if (!c.run_until([&] { return one_view() && c.same_registry(all); }, 60s)) {
      ++missed;
      continue;
    }
    c.partition({0, 1, 2, 3, 4, 5, 6}, {7, 8, 9});
    c.advance(partition_for / 2);
    // Churn on both sides while apart: 5 entries out, 5 new ones in.
    for (std::size_t i = 0; i < 10; ++i) {
      for (int n = 0; n < 5; ++n)
        (void)c.sys(i).receptionist().check_out("bench/n" + std::to_string(i) + "/e" +
                                                std::to_string(n));
      for (int n = 20; n < 25; ++n) check_in(i, n);
    }
    c.advance(partition_for - partition_for / 2);
    const time_point healed = c.now();
    c.heal();
    if (!c.run_until(one_view, 120s)) {
      ++missed;
      continue;
    }
    const time_point viewed = c.now();
    if (!c.run_until([&] { return c.same_registry(all); }, 60s)) {
      ++missed;
      continue;
    }
    // Both are checked every 10 ms of simulated time: a registry already
    // equal when the view becomes one counts 0.
    view.push_back(seconds(viewed - healed));
    registry.push_back(seconds(c.now() - viewed));
    from_heal.push_back(seconds(c.now() - healed));
  }
  std::printf(
      "RESULT bench=converge_after_heal impl=troupe env=sim nodes=10 partition_s=%.0f "
      "runs=%zu view_s=%.2f view_p99_s=%.2f registry_s=%.2f registry_p99_s=%.2f "
      "registry_from_heal_s=%.2f missed=%zu\n",
      seconds(partition_for), runs, quantile(view, 0.5), quantile(view, 0.99),
      quantile(registry, 0.5), quantile(registry, 0.99), quantile(from_heal, 0.5), missed);
}

// Packets and bytes per member per second, steady state.
void load(std::size_t nodes) {
  swim_sim sim(options(nodes, 4000));
  sim.run_until([&] { return sim.converged(); }, 60s);
  sim.run_for(40s);  // past the join traffic
  const auto p0 = sim.packets_sent();
  const auto b0 = sim.bytes_sent();
  const duration span = 60s;
  sim.run_for(span);
  const double per = static_cast<double>(nodes) * seconds(span);
  std::printf("RESULT bench=swim_load impl=troupe env=sim nodes=%zu pkts_s=%.2f bytes_s=%.1f\n",
              nodes, static_cast<double>(sim.packets_sent() - p0) / per,
              static_cast<double>(sim.bytes_sent() - b0) / per);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t runs = argc > 1 && std::atoi(argv[1]) > 0 ? std::atoi(argv[1]) : 60;
  if (std::getenv("SWIM_CONVERGE_ONLY")) {
    converge_registries(30s, runs);
    converge_registries(90s, runs);
    return 0;
  }
  if (std::getenv("SWIM_LOAD_ONLY")) {
    load(10);
    load(100);
    return 0;
  }
  detect(10, runs, false);
  detect(10, runs, true);
  false_deaths(10, 0.10, 600s, 1);
  false_deaths(10, 0.20, 600s, 1);
  converge_after_heal(30s, runs);
  converge_after_heal(90s, runs);
  converge_registries(30s, std::max<std::size_t>(runs / 6, 5));
  converge_registries(90s, std::max<std::size_t>(runs / 6, 5));
  load(10);
  detect(50, std::max<std::size_t>(runs / 4, 5), false);
  false_deaths(50, 0.10, 600s, 1);
  load(50);
  detect(100, std::max<std::size_t>(runs / 6, 5), false);
  false_deaths(100, 0.10, 300s, 1);
  load(100);
  return 0;
}
