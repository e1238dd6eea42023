// CAF peer: local request/response ping-pong between two event-based actors.
//
// The pinger sends `request(pong, infinite, ping_atom, i)` and issues the next
// request from the response handler, N times in a row. The figure is round
// trips per second over the whole chain.
//
// usage: bench_local_pingpong_caf [n=1000000] [workers=hardware threads]

#include <future>

#include "caf/all.hpp"

#include "bench_common.hpp"

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

// Answers each ping with the number it carries.
caf::behavior pong(caf::event_based_actor*) {
  return {[](ping_atom, int i) { return i; }};
}

// Sends ping number `i`; the response handler sends the next one.
void ping_from(caf::event_based_actor* self, const caf::actor& buddy, int i, int n,
               std::promise<void>* done) {
  self->request(buddy, caf::infinite, ping_atom::value, i).then([=](int reply) {
    if (reply + 1 < n) {
      ping_from(self, buddy, reply + 1, n, done);
    } else {
      done->set_value();
      self->quit();
    }
  });
}

// The pinger has no behavior of its own: it lives on its pending request.
caf::behavior pinger(caf::event_based_actor* self, caf::actor buddy, int n,
                     std::promise<void>* done) {
  ping_from(self, buddy, 0, n, done);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", workers);
  caf::actor_system system{cfg};
  auto buddy = system.spawn(pong);
  std::promise<void> done;
  auto finished = done.get_future();
  auto start = bench::steady::now();
  system.spawn(pinger, buddy, static_cast<int>(n), &done);
  finished.wait();
  auto seconds = bench::seconds_since(start);
  caf::anon_send_exit(buddy, caf::exit_reason::user_shutdown);
  bench::print_result("local_pingpong", "caf", n, seconds, " workers=" + std::to_string(workers));
}
