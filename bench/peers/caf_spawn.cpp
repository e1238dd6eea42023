// CAF peer: spawn throughput. The main thread spawns N short-lived actors,
// each gets one message, handles it and quits. At most 100 actors are in
// flight: a counting semaphore is acquired before each spawn and released by
// the actor when it handles its message. The figure is spawns per second;
// the clock stops once every actor has handled its message (all slots back),
// the same end point as the troupe program.
//
// usage: bench_spawn_caf [n=1000000] [workers=hardware threads]

#include <semaphore>

#include "caf/all.hpp"

#include "bench_common.hpp"

namespace {

constexpr std::ptrdiff_t max_in_flight = 100;

using in_flight_limit = std::counting_semaphore<max_in_flight>;

// Handles one int, frees its slot and quits.
caf::behavior one_shot(caf::event_based_actor* self, in_flight_limit* slots) {
  return {[=](int) {
    slots->release();
    self->quit();
  }};
}

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", workers);
  caf::actor_system system{cfg};
  in_flight_limit slots{max_in_flight};
  auto start = bench::steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    slots.acquire();
    auto worker = system.spawn(one_shot, &slots);
    caf::anon_send(worker, static_cast<int>(i));
  }
  for (std::ptrdiff_t i = 0; i < max_in_flight; ++i) slots.acquire();
  auto seconds = bench::seconds_since(start);
  bench::print_result("spawn", "caf", n, seconds, " workers=" + std::to_string(workers));
}
