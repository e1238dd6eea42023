// CAF peer: 4:1 fan-in of 1 KiB messages between two processes on 127.0.0.1
// (CAF io module, BASP over TCP).
//
// The server process publishes a counting actor. The client spawns 4 sender
// actors; each sends it `per_sender` messages holding a std::vector<char> of
// 1,024 bytes (a copy of one payload with its first 8 bytes replaced by the
// message's number), 1,000 per handler run and then a self `continue`. The
// counter counts messages and bytes; the message completing the total is
// answered with one confirmation (bytes seen and the server's peak RSS),
// which stops the client's clock. The figure is messages per second; mb_s is
// payload megabytes (1e6 bytes) per second.
//
// CAF 0.17 has no flow control on remote sends: what the connection cannot
// take yet waits in the middleman's queues and buffers on the client.
//
// usage: bench_remote_fanin_1k_caf [per_sender=50000] [workers=hardware threads]
// (n in the RESULT line is the total: 4 * per_sender; both processes use
// `workers` scheduler threads)

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "bench_common.hpp"
#include "caf_remote_common.hpp"
#include "remote_common.hpp"

namespace {

using continue_atom = caf::atom_constant<caf::atom("continue")>;
using done_atom = caf::atom_constant<caf::atom("done")>;

constexpr std::size_t senders = 4;
constexpr std::size_t message_size = 1024;
constexpr std::size_t chunk = 1'000;

struct tally {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
};

// Counts messages and bytes; the message completing `total` is answered with
// the confirmation.
caf::behavior counter(caf::stateful_actor<tally>* self, std::uint64_t total) {
  return {[=](const std::vector<char>& payload) {
    self->state.bytes += payload.size();
    if (++self->state.count == total)
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), done_atom::value,
                 self->state.bytes, static_cast<std::uint64_t>(bench::remote::peak_rss_kb()));
  }};
}

int serve(const bench::remote::server_link& link, std::size_t total, std::size_t workers) {
  caf::actor_system_config cfg;
  bench::remote::caf_peer::configure(cfg, workers);
  caf::actor_system system{cfg};
  return bench::remote::caf_peer::serve_published(
      link, system, system.spawn(counter, static_cast<std::uint64_t>(total)));
}

struct confirmation {
  std::uint64_t bytes = 0;
  std::uint64_t server_rss_kb = 0;
  std::atomic<bool> complete{false};
  std::promise<void> arrived;
};

// Sends `count` payloads to `sink`, `chunk` per `continue` message; the one
// whose message completes the total gets the confirmation. Losing the server
// before that ends the client at once.
caf::behavior sender(caf::event_based_actor* self, caf::actor sink, std::uint64_t count,
                     confirmation* done) {
  self->monitor(sink);
  self->set_down_handler([=](caf::down_msg&) {
    if (!done->complete.load()) bench::remote::fail("client: the server went down");
  });
  auto next = std::make_shared<std::uint64_t>(0);
  auto payload = std::make_shared<std::vector<char>>(message_size);
  for (std::size_t i = 0; i < message_size; ++i) (*payload)[i] = static_cast<char>(i * 7);
  return {
      [=](continue_atom) {
        auto end = std::min(count, *next + chunk);
        for (; *next < end; ++*next) {
          auto message = *payload;
          std::memcpy(message.data(), next.get(), sizeof *next);
          self->send(sink, std::move(message));
        }
        if (*next < count) self->send(self, continue_atom::value);
      },
      [=](done_atom, std::uint64_t bytes, std::uint64_t rss_kb) {
        done->bytes = bytes;
        done->server_rss_kb = rss_kb;
        done->complete.store(true);
        done->arrived.set_value();
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto per_sender = bench::arg_or(argc, argv, 1, 50'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  auto total = senders * per_sender;
  auto total_bytes = static_cast<std::uint64_t>(total) * message_size;
  if (link) return serve(*link, total, workers);

  bench::remote::server_process server{argc, argv};
  confirmation done;  // outlives the actor system, which joins the senders
  auto arrived = done.arrived.get_future();
  caf::actor_system_config cfg;
  bench::remote::caf_peer::configure(cfg, workers);
  caf::actor_system system{cfg};
  caf::actor receiver = bench::remote::caf_peer::remote(system, server.port());

  std::vector<caf::actor> sources;
  for (std::size_t i = 0; i < senders; ++i)
    sources.push_back(
        system.spawn(sender, receiver, static_cast<std::uint64_t>(per_sender), &done));
  auto start = bench::steady::now();
  for (auto& source : sources) caf::anon_send(source, continue_atom::value);
  arrived.wait();
  auto seconds = bench::seconds_since(start);
  for (auto& source : sources) caf::anon_send_exit(source, caf::exit_reason::user_shutdown);
  if (done.bytes != total_bytes)
    bench::remote::fail("client: the server saw a different byte count");

  bool clean = server.stop();
  bench::print_result(
      "remote_fanin_1k", "caf", total, seconds,
      " workers=" + std::to_string(workers) + bench::remote::mb_per_s_field(total_bytes, seconds) +
          bench::remote::peak_rss_fields(bench::remote::peak_rss_kb(), done.server_rss_kb));
  return clean ? 0 : 1;
}
