// Raw TCP baseline: one-way stream of small messages between two processes on
// 127.0.0.1.
//
// The client (sender) writes the ints 0..N-1 (4 bytes each) into a 64 KiB
// userspace buffer and write()s it whenever it is full. The server reads
// 256 KiB blocks, adds up every int and, once it has all N, writes one
// confirmation (the sum and its peak RSS); the clock stops when the client
// has read it. The figure is messages per second.
//
// usage: bench_remote_oneway_raw [n=400000000] [workers (ignored: one thread per process)]

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "bench_common.hpp"
#include "raw_tcp.hpp"
#include "remote_common.hpp"

namespace {

constexpr std::size_t batch_bytes = 64 * 1024;
constexpr std::size_t read_bytes = 256 * 1024;

struct confirmation {
  std::uint64_t sum;
  std::uint64_t peak_rss_kb;
};

std::uint64_t expected_sum(std::uint64_t n) { return n == 0 ? 0 : n * (n - 1) / 2; }

// Reads N ints, adds them up, confirms.
int serve(const bench::remote::server_link& link, std::size_t n) {
  std::uint16_t port = 0;
  int listener = bench::raw_tcp::listen_loopback(port, 1);
  link.report_port(port);
  int conn = bench::raw_tcp::accept_one(listener);
  close(listener);

  std::vector<char> buffer(read_bytes + sizeof(std::int32_t));
  std::size_t held = 0;  // bytes in `buffer` not yet counted (< 4 between reads)
  std::uint64_t count = 0;
  std::uint64_t sum = 0;
  while (count < n) {
    auto got = bench::raw_tcp::read_some(conn, buffer.data() + held, read_bytes);
    if (got == 0) bench::remote::fail("server: client closed before sending everything");
    held += got;
    std::size_t whole = held / sizeof(std::int32_t);
    for (std::size_t i = 0; i < whole; ++i) {
      std::int32_t value;
      std::memcpy(&value, buffer.data() + i * sizeof value, sizeof value);
      sum += static_cast<std::uint64_t>(value);
    }
    count += whole;
    std::size_t used = whole * sizeof(std::int32_t);
    std::memmove(buffer.data(), buffer.data() + used, held - used);
    held -= used;
  }
  confirmation reply{sum, bench::remote::peak_rss_kb()};
  bench::raw_tcp::write_all(conn, &reply, sizeof reply);
  close(conn);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto n = bench::arg_or(argc, argv, 1, 400'000'000);
  if (n > static_cast<std::size_t>(INT_MAX)) bench::remote::fail("n must fit in an int");
  if (link) return serve(*link, n);
  bench::remote::server_process server{argc, argv};
  int conn = bench::raw_tcp::connect_loopback(server.port());

  std::vector<std::int32_t> batch(batch_bytes / sizeof(std::int32_t));
  auto start = bench::steady::now();
  for (std::size_t next = 0; next < n;) {
    auto count = std::min(batch.size(), n - next);
    for (std::size_t i = 0; i < count; ++i) batch[i] = static_cast<std::int32_t>(next + i);
    bench::raw_tcp::write_all(conn, batch.data(), count * sizeof(std::int32_t));
    next += count;
  }
  confirmation reply{};
  bench::raw_tcp::read_exact(conn, &reply, sizeof reply);
  auto seconds = bench::seconds_since(start);
  if (reply.sum != expected_sum(n)) bench::remote::fail("client: the server's sum is wrong");

  close(conn);
  bool clean = server.stop();
  bench::print_result("remote_oneway", "raw", n, seconds,
                      " workers=1" + bench::remote::peak_rss_fields(bench::remote::peak_rss_kb(),
                                                                    reply.peak_rss_kb));
  return clean ? 0 : 1;
}
