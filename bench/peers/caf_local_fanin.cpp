// CAF peer: N:1 fan-in. 8 sender actors each send 2,000,000 ints to one
// counting actor. A sender sends 1,000 messages per handler invocation and
// then sends itself a `continue` message, so it never holds a worker for its
// whole run. The figure is messages per second until the counter has seen
// all of them.
//
// usage: bench_local_fanin_caf [per_sender=2000000] [workers=hardware threads]
// (n in the RESULT line is the total: 8 * per_sender)

#include <algorithm>
#include <cstddef>
#include <future>
#include <memory>
#include <vector>

#include "caf/all.hpp"

#include "bench_common.hpp"

namespace {

using continue_atom = caf::atom_constant<caf::atom("continue")>;

constexpr std::size_t senders = 8;
constexpr std::size_t chunk = 1'000;

// Counts ints; fulfils `done` when `total` have arrived.
caf::behavior counter(caf::event_based_actor* self, std::size_t total, std::promise<void>* done) {
  auto seen = std::make_shared<std::size_t>(0);
  return {[=](int) {
    if (++*seen == total) {
      done->set_value();
      self->quit();
    }
  }};
}

// Sends `count` ints to `sink`, `chunk` per `continue` message.
caf::behavior sender(caf::event_based_actor* self, caf::actor sink, std::size_t count) {
  auto left = std::make_shared<std::size_t>(count);
  return {[=](continue_atom) {
    auto burst = std::min(chunk, *left);
    for (std::size_t i = 0; i < burst; ++i) self->send(sink, static_cast<int>(i));
    *left -= burst;
    if (*left > 0)
      self->send(self, continue_atom::value);
    else
      self->quit();
  }};
}

}  // namespace

int main(int argc, char** argv) {
  auto per_sender = bench::arg_or(argc, argv, 1, 2'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  auto total = senders * per_sender;
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", workers);
  caf::actor_system system{cfg};
  std::promise<void> done;
  auto finished = done.get_future();
  auto sink = system.spawn(counter, total, &done);
  std::vector<caf::actor> sources;
  for (std::size_t i = 0; i < senders; ++i)
    sources.push_back(system.spawn(sender, sink, per_sender));
  auto start = bench::steady::now();
  for (auto& source : sources) caf::anon_send(source, continue_atom::value);
  finished.wait();
  auto seconds = bench::seconds_since(start);
  bench::print_result("local_fanin", "caf", total, seconds, " workers=" + std::to_string(workers));
}
