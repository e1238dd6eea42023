// CAF peer: remote request/response ping-pong between two processes on
// 127.0.0.1 (CAF io module, BASP over TCP).
//
// The server process publishes an echo actor with `middleman().publish`; the
// client gets a handle with `middleman().remote_actor` and an event-based
// actor sends `request(server, infinite, message)`, a 32-character
// std::string, issuing the next request from the response handler. 1,000
// untimed round trips go first. The figure is round trips per second; p50/p99
// are per-round-trip latencies taken in the client actor (steady_clock).
//
// usage: bench_remote_pingpong_caf [n=10000] [workers=hardware threads]
// (both processes use `workers` scheduler threads)

#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "bench_common.hpp"
#include "caf_remote_common.hpp"
#include "remote_common.hpp"

namespace {

constexpr std::size_t message_size = 32;
constexpr std::size_t warmup_round_trips = 1'000;

// Answers each message with the message itself.
caf::behavior echo(caf::event_based_actor*) {
  return {[](std::string& message) { return std::move(message); }};
}

int serve(const bench::remote::server_link& link, std::size_t workers) {
  caf::actor_system_config cfg;
  bench::remote::caf_peer::configure(cfg, workers);
  caf::actor_system system{cfg};
  return bench::remote::caf_peer::serve_published(link, system, system.spawn(echo));
}

// What the client actor records; read by main once `finished` is set.
struct ping_run {
  std::string message;
  std::size_t round_trips = 0;  // timed ones, after the warm-up
  std::size_t completed = 0;
  bench::steady::time_point sent;
  bench::steady::time_point start;
  bench::steady::time_point end;
  std::vector<std::int64_t> samples_ns;
  bool echo_ok = true;
  std::promise<void> finished;
};

void ping(caf::event_based_actor* self, const caf::actor& server, ping_run* run);

// Records one round trip, then sends the next request or finishes.
void on_echo(caf::event_based_actor* self, const caf::actor& server, ping_run* run,
             const std::string& reply) {
  auto now = bench::steady::now();
  if (run->completed >= warmup_round_trips)
    run->samples_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - run->sent).count());
  if (reply != run->message) run->echo_ok = false;
  if (++run->completed == warmup_round_trips) run->start = now;
  if (run->completed < warmup_round_trips + run->round_trips) {
    ping(self, server, run);
  } else {
    run->end = now;
    run->finished.set_value();
    self->quit();
  }
}

// Sends one request; the response handler sends the next one.
void ping(caf::event_based_actor* self, const caf::actor& server, ping_run* run) {
  run->sent = bench::steady::now();
  auto on_error = [](caf::error&) { bench::remote::fail("client: a request failed"); };
  self->request(server, caf::infinite, run->message)
      .then([=](const std::string& reply) { on_echo(self, server, run, reply); }, on_error);
}

// The pinger has no behavior of its own: it lives on its pending request.
// Losing the server ends the client at once.
caf::behavior pinger(caf::event_based_actor* self, caf::actor server, ping_run* run) {
  self->monitor(server);
  self->set_down_handler(
      [](caf::down_msg&) { bench::remote::fail("client: the server went down"); });
  ping(self, server, run);
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto n = bench::arg_or(argc, argv, 1, 10'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  if (link) return serve(*link, workers);

  bench::remote::server_process server{argc, argv};
  ping_run run;  // outlives the actor system, which joins the pinger
  run.message.resize(message_size);
  for (std::size_t i = 0; i < message_size; ++i) run.message[i] = static_cast<char>('a' + i % 26);
  run.round_trips = n;
  run.samples_ns.reserve(n);
  auto finished = run.finished.get_future();
  caf::actor_system_config cfg;
  bench::remote::caf_peer::configure(cfg, workers);
  caf::actor_system system{cfg};
  caf::actor echoer = bench::remote::caf_peer::remote(system, server.port());

  system.spawn(pinger, echoer, &run);
  finished.wait();
  auto seconds = std::chrono::duration<double>(run.end - run.start).count();
  if (!run.echo_ok) bench::remote::fail("client: an echo differs from the message");

  bool clean = server.stop();
  bench::print_result(
      "remote_pingpong", "caf", n, seconds,
      " workers=" + std::to_string(workers) + bench::remote::latency_fields(run.samples_ns));
  return clean ? 0 : 1;
}
