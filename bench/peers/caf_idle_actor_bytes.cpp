// CAF peer: memory cost of an idle actor. Spawns N event-based actors that
// wait for a message that never comes, keeping their handles in a vector
// reserved (and touched) up front. Reports the spawn time (until every actor
// has run its initialisation and installed its behavior) and the RSS growth
// per actor, allocator overhead included.
//
// usage: bench_idle_actor_bytes_caf [n=1000000] [workers=hardware threads]
//
// Note: plain spawn, not spawn<lazy_init>; a lazily initialised actor has no
// behavior yet and is not what "idle, ready for messages" means here.

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "caf/all.hpp"

#include "bench_common.hpp"

namespace {

// Counts itself as ready, then waits for an int that never arrives.
caf::behavior idle(caf::event_based_actor*, std::atomic<std::size_t>* ready) {
  ready->fetch_add(1, std::memory_order_relaxed);
  return {[](int) {}};
}

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", workers);
  caf::actor_system system{cfg};
  // Resize then clear, so the handle storage is resident before the baseline.
  std::vector<caf::actor> handles(n);
  handles.clear();
  std::atomic<std::size_t> ready{0};
  auto rss_before = bench::rss_bytes();
  auto start = bench::steady::now();
  for (std::size_t i = 0; i < n; ++i) handles.push_back(system.spawn(idle, &ready));
  while (ready.load(std::memory_order_relaxed) < n)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  auto seconds = bench::seconds_since(start);
  auto growth = static_cast<double>(bench::rss_bytes() - rss_before);
  bench::print_result("idle_actor_bytes", "caf", n, seconds,
                      " bytes=" + std::to_string(static_cast<long>(growth / n)) +
                          " workers=" + std::to_string(workers));
  // Dropping the last handles makes the actors unreachable; CAF then
  // terminates them and the actor system can shut down.
  handles.clear();
}
