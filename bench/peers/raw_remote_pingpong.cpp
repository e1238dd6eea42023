// Raw TCP baseline: remote ping-pong between two processes on 127.0.0.1.
//
// The client writes a 32-byte message, the server reads exactly 32 bytes and
// writes them back, the client reads exactly 32 bytes; N times. Blocking
// read()/write() on one thread per process, TCP_NODELAY on both ends.
// 1,000 untimed round trips go first. The figure is round trips per second;
// p50/p99 are the client's per-round-trip latencies (steady_clock).
//
// usage: bench_remote_pingpong_raw [n=100000] [workers (ignored: one thread per process)]

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bench_common.hpp"
#include "raw_tcp.hpp"
#include "remote_common.hpp"

namespace {

constexpr std::size_t message_size = 32;
constexpr std::size_t warmup_round_trips = 1'000;

// Echoes 32-byte messages until the client closes the connection.
int serve(const bench::remote::server_link& link) {
  std::uint16_t port = 0;
  int listener = bench::raw_tcp::listen_loopback(port, 1);
  link.report_port(port);
  int conn = bench::raw_tcp::accept_one(listener);
  close(listener);
  std::array<char, message_size> message{};
  while (bench::raw_tcp::read_exact_or_eof(conn, message.data(), message.size()))
    bench::raw_tcp::write_all(conn, message.data(), message.size());
  close(conn);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto link = bench::remote::server_link::from_args(argc, argv)) return serve(*link);
  auto n = bench::arg_or(argc, argv, 1, 100'000);
  bench::remote::server_process server{argc, argv};
  int conn = bench::raw_tcp::connect_loopback(server.port());

  std::array<char, message_size> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>('a' + i % 26);
  std::array<char, message_size> in{};
  auto round_trip = [&] {
    bench::raw_tcp::write_all(conn, out.data(), out.size());
    bench::raw_tcp::read_exact(conn, in.data(), in.size());
  };

  for (std::size_t i = 0; i < warmup_round_trips; ++i) round_trip();
  std::vector<std::int64_t> samples(n);
  auto start = bench::steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    auto sent = bench::steady::now();
    round_trip();
    samples[i] =
        std::chrono::duration_cast<std::chrono::nanoseconds>(bench::steady::now() - sent).count();
  }
  auto seconds = bench::seconds_since(start);
  if (in != out) bench::remote::fail("client: the echo differs from the message");

  close(conn);
  bool clean = server.stop();
  bench::print_result("remote_pingpong", "raw", n, seconds,
                      " workers=1" + bench::remote::latency_fields(samples));
  return clean ? 0 : 1;
}
