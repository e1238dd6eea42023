// troupe: remote request/response ping-pong between two processes on
// 127.0.0.1, one troupe node each, over TCP.
//
// The server checks an echo actor in as "bench/echo". The client connects,
// looks it up and a pinger actor asks it a 32-character std::string N times
// in a row (a coroutine handler: co_await ask, then the next), after 1,000
// untimed round trips. The figure is round trips per second; p50/p99 are the
// pinger's per-round-trip latencies (steady_clock).
//
// usage: bench_remote_pingpong_troupe [n=100000] [workers=hardware threads]
// (both processes use `workers` scheduler threads, which also run the node's I/O)

#include <cstdint>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "remote_node.hpp"

namespace {

constexpr std::size_t message_size = 32;
constexpr int warmup_round_trips = 1'000;

struct echo_text {
  using reply = std::string;
  static constexpr std::string_view type_name = "bench.echo_text";
  std::string text;
};

class echo : public troupe::actor<echo> {
 public:
  static constexpr std::string_view type_name = "bench.echo";
  using handles = troupe::handles<echo_text>;
  std::string handle(echo_text m) { return std::move(m.text); }
};

// What the pinger measured.
struct ping_run {
  std::vector<std::int64_t> samples_ns;
  double seconds = 0;
  bool echo_ok = true;
};

struct run {
  using reply = ping_run;
  static constexpr std::string_view type_name = "bench.run";
  int round_trips;
};

class pinger : public troupe::actor<pinger> {
 public:
  using handles = troupe::handles<run>;
  explicit pinger(troupe::endpoint<echo> server) : server_(std::move(server)) {}

  troupe::task<ping_run> handle(run r) {
    std::string message(message_size, ' ');
    for (std::size_t i = 0; i < message_size; ++i) message[i] = static_cast<char>('a' + i % 26);
    ping_run out;
    out.samples_ns.reserve(static_cast<std::size_t>(r.round_trips));
    for (int i = 0; i < warmup_round_trips; ++i) {
      echo_text request{message};  // (a braced temporary inside co_await trips g++ 12)
      troupe::result<std::string> reply = co_await server_.ask(std::move(request));
      if (!reply) bench::remote::fail(("client: ask: " + reply.error().message()).c_str());
    }
    auto start = bench::steady::now();
    for (int i = 0; i < r.round_trips; ++i) {
      echo_text request{message};
      auto sent = bench::steady::now();
      troupe::result<std::string> reply = co_await server_.ask(std::move(request));
      out.samples_ns.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(bench::steady::now() - sent)
              .count());
      if (!reply) bench::remote::fail(("client: ask: " + reply.error().message()).c_str());
      if (*reply != message) out.echo_ok = false;
    }
    out.seconds = bench::seconds_since(start);
    co_return out;
  }

 private:
  troupe::endpoint<echo> server_;
};

troupe::net::remote_types types() { return troupe::net::remote_types::of<echo>().value(); }

troupe::system_config config(std::size_t workers) {
  return troupe::system_config{.workers = workers, .default_ask_timeout = std::chrono::seconds(60)};
}

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto n = bench::arg_or(argc, argv, 1, 100'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  if (link) {
    troupe::system sys(config(workers));
    auto echoer = sys.spawn<echo>().value();
    return bench::remote::serve_actor(*link, sys, types(), echoer, "bench/echo");
  }

  bench::remote::server_process server{argc, argv};
  ping_run measured;
  {
    troupe::system sys(config(workers));
    auto [node, echoer] =
        bench::remote::connect_to<echo>(sys, types(), server.port(), "bench/echo");
    auto p = sys.spawn<pinger>(echoer).value();
    auto done = p.ask(run{static_cast<int>(n)}, std::chrono::seconds(200)).get();
    if (!done) bench::remote::fail(("client: run: " + done.error().message()).c_str());
    measured = std::move(*done);
    node->stop();
  }
  if (!measured.echo_ok) bench::remote::fail("client: an echo differs from the message");

  bool clean = server.stop();
  bench::print_result(
      "remote_pingpong", "troupe", n, measured.seconds,
      " workers=" + std::to_string(workers) + bench::remote::latency_fields(measured.samples_ns));
  return clean ? 0 : 1;
}
