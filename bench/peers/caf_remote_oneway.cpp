// CAF peer: one-way stream of small messages between two processes on
// 127.0.0.1 (CAF io module, BASP over TCP).
//
// The server process publishes a counting actor. The client's main thread,
// through a scoped_actor, sends it the ints 0..N-1 (`send(receiver, i)`, one
// message each) as fast as it can. The counter adds them up and, once it has
// all N, sends the sender one confirmation (the sum and its peak RSS); the
// clock stops when the client has received it. The figure is messages per
// second.
//
// CAF 0.17 has no flow control on remote sends: whatever the connection
// cannot take yet waits in the middleman's queues and buffers, so the
// client's memory grows with N (client_peak_rss_mib shows by how much).
//
// usage: bench_remote_oneway_caf [n=1000000] [workers=hardware threads]
// (both processes use `workers` scheduler threads)

#include <chrono>
#include <climits>
#include <cstdint>
#include <string>

#include "caf/all.hpp"

#include "bench_common.hpp"
#include "caf_remote_common.hpp"
#include "remote_common.hpp"

namespace {

using done_atom = caf::atom_constant<caf::atom("done")>;

struct tally {
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
};

// Adds up ints; the message completing N is answered with the confirmation.
caf::behavior counter(caf::stateful_actor<tally>* self, std::uint64_t n) {
  return {[=](int value) {
    self->state.sum += static_cast<std::uint64_t>(value);
    if (++self->state.count == n)
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), done_atom::value,
                 self->state.sum, static_cast<std::uint64_t>(bench::remote::peak_rss_kb()));
  }};
}

int serve(const bench::remote::server_link& link, std::size_t n, std::size_t workers) {
  caf::actor_system_config cfg;
  bench::remote::caf_peer::configure(cfg, workers);
  caf::actor_system system{cfg};
  return bench::remote::caf_peer::serve_published(
      link, system, system.spawn(counter, static_cast<std::uint64_t>(n)));
}

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto n = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  if (n > static_cast<std::size_t>(INT_MAX)) bench::remote::fail("n must fit in an int");
  if (link) return serve(*link, n, workers);

  bench::remote::server_process server{argc, argv};
  caf::actor_system_config cfg;
  bench::remote::caf_peer::configure(cfg, workers);
  caf::actor_system system{cfg};
  caf::actor receiver = bench::remote::caf_peer::remote(system, server.port());

  std::uint64_t sum = 0;
  std::uint64_t server_rss_kb = 0;
  double seconds = 0;
  {
    caf::scoped_actor self{system};
    self->monitor(receiver);
    auto start = bench::steady::now();
    for (std::size_t i = 0; i < n; ++i) self->send(receiver, static_cast<int>(i));
    self->receive(
        [&](done_atom, std::uint64_t total, std::uint64_t rss_kb) {
          sum = total;
          server_rss_kb = rss_kb;
        },
        [&](caf::down_msg&) { bench::remote::fail("client: the server went down"); },
        caf::after(std::chrono::seconds{bench::remote::client_time_limit_s}) >>
            [&] { bench::remote::fail("client: no confirmation from the server"); });
    seconds = bench::seconds_since(start);
  }
  if (sum != static_cast<std::uint64_t>(n) * (n - 1) / 2)
    bench::remote::fail("client: the server's sum is wrong");

  bool clean = server.stop();
  bench::print_result(
      "remote_oneway", "caf", n, seconds,
      " workers=" + std::to_string(workers) +
          bench::remote::peak_rss_fields(bench::remote::peak_rss_kb(), server_rss_kb));
  return clean ? 0 : 1;
}
