// Raw TCP baseline: 4:1 fan-in of 1 KiB messages between two processes on
// 127.0.0.1.
//
// The client runs 4 sender threads, each with its own connection. A sender
// copies each 1,024-byte message into a 64 KiB userspace buffer (its first 8
// bytes replaced by the message's number) and write()s the buffer when it
// holds 64 messages. The server reads all 4 connections from one thread
// (poll(), 256 KiB reads) and counts bytes; once it has everything it writes
// one confirmation (bytes seen and its peak RSS) on the first connection,
// which stops the client's clock. The figure is messages per second; mb_s is
// payload megabytes (1e6 bytes) per second.
//
// usage: bench_remote_fanin_1k_raw [per_sender=1000000] [workers (ignored: 4 sender threads, 1
// receiving thread)] (n in the RESULT line is the total: 4 * per_sender)

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>

#include "bench_common.hpp"
#include "raw_tcp.hpp"
#include "remote_common.hpp"

namespace {

constexpr std::size_t senders = 4;
constexpr std::size_t message_size = 1024;
constexpr std::size_t messages_per_write = 64;
constexpr std::size_t read_bytes = 256 * 1024;

struct confirmation {
  std::uint64_t bytes;
  std::uint64_t peak_rss_kb;
};

// Reads the 4 connections until all bytes are in, then confirms.
int serve(const bench::remote::server_link& link, std::uint64_t total_bytes) {
  std::uint16_t port = 0;
  int listener = bench::raw_tcp::listen_loopback(port, static_cast<int>(senders));
  link.report_port(port);
  std::array<pollfd, senders> conns{};
  for (auto& conn : conns) conn = {bench::raw_tcp::accept_one(listener), POLLIN, 0};
  close(listener);
  int first = conns[0].fd;

  std::vector<char> buffer(read_bytes);
  std::uint64_t seen = 0;
  while (seen < total_bytes) {
    if (poll(conns.data(), conns.size(), -1) < 0) {
      if (errno == EINTR) continue;
      bench::remote::fail_errno("server: poll");
    }
    for (auto& conn : conns) {
      if (conn.fd < 0 || (conn.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      auto got = bench::raw_tcp::read_some(conn.fd, buffer.data(), buffer.size());
      if (got == 0) bench::remote::fail("server: a sender closed before sending everything");
      seen += got;
    }
  }
  confirmation reply{seen, bench::remote::peak_rss_kb()};
  bench::raw_tcp::write_all(first, &reply, sizeof reply);
  for (auto& conn : conns) close(conn.fd);
  return 0;
}

// Sends `count` 1 KiB messages on `conn`, 64 per write().
void send_messages(int conn, std::size_t count) {
  std::array<char, message_size> message;
  for (std::size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>(i * 7);
  std::vector<char> batch(message_size * messages_per_write);
  for (std::uint64_t next = 0; next < count;) {
    std::size_t in_batch = 0;
    for (; in_batch < messages_per_write && next < count; ++in_batch, ++next) {
      char* slot = batch.data() + in_batch * message_size;
      std::memcpy(slot, message.data(), message_size);
      std::memcpy(slot, &next, sizeof next);
    }
    bench::raw_tcp::write_all(conn, batch.data(), in_batch * message_size);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto per_sender = bench::arg_or(argc, argv, 1, 1'000'000);
  auto total = senders * per_sender;
  auto total_bytes = static_cast<std::uint64_t>(total) * message_size;
  if (link) return serve(*link, total_bytes);

  bench::remote::server_process server{argc, argv};
  std::array<int, senders> conns{};
  for (auto& conn : conns) conn = bench::raw_tcp::connect_loopback(server.port());

  auto start = bench::steady::now();
  std::vector<std::thread> threads;
  for (auto conn : conns) threads.emplace_back(send_messages, conn, per_sender);
  confirmation reply{};
  bench::raw_tcp::read_exact(conns[0], &reply, sizeof reply);
  auto seconds = bench::seconds_since(start);
  for (auto& thread : threads) thread.join();
  if (reply.bytes != total_bytes)
    bench::remote::fail("client: the server saw a different byte count");

  for (auto conn : conns) close(conn);
  bool clean = server.stop();
  bench::print_result(
      "remote_fanin_1k", "raw", total, seconds,
      " workers=" + std::to_string(senders) + bench::remote::mb_per_s_field(total_bytes, seconds) +
          bench::remote::peak_rss_fields(bench::remote::peak_rss_kb(), reply.peak_rss_kb));
  return clean ? 0 : 1;
}
