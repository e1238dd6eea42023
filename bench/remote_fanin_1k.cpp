// troupe: 4:1 fan-in of 1 KiB messages between two processes on 127.0.0.1,
// one troupe node each, over TCP.
//
// The server checks a counting actor in as "bench/counter". The client
// connects, looks it up, tells it where to report and starts 4 sender actors.
// Each sends its share of 1,024-byte payloads (std::vector<std::byte>, the
// first 8 bytes replaced by the message's number), 1,000 per `more` message
// that it then tells itself, so the senders take turns on the workers. A tell
// refused with mailbox_full (the node holds more than max_queued_bytes for
// the server) ends the turn early; the sender sends itself `more` 100 us
// later and that payload again (`refusals` counts them). The counter counts bytes and, once it has
// every message, tells the client's actor the byte count and its peak RSS; the clock stops when
// that arrives. The figure is messages per second; mb_s is payload megabytes (1e6 bytes) per
// second.
//
// usage: bench_remote_fanin_1k_troupe [per_sender=1000000] [workers=hardware threads]
// (n in the RESULT line is the total: 4 * per_sender; both processes use
// `workers` scheduler threads, which also run the node's I/O)

#include <atomic>
#include <cstdint>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "remote_node.hpp"

namespace {

constexpr std::size_t senders = 4;
constexpr std::size_t message_size = 1024;
constexpr std::uint64_t chunk = 1'000;
constexpr auto backoff = std::chrono::microseconds(100);

struct payload {
  static constexpr std::string_view type_name = "bench.payload";
  std::vector<std::byte> bytes;
};

std::uint64_t size_of(const payload& m) { return m.bytes.size(); }

using counter = bench::remote::counter<payload, size_of>;
using bench::remote::confirmation;
using bench::remote::sink;

struct more {
  static constexpr std::string_view type_name = "bench.more";
};

class sender : public troupe::actor<sender> {
 public:
  using handles = troupe::handles<more>;
  sender(troupe::endpoint<counter> to, std::uint64_t count, std::atomic<std::uint64_t>* refusals)
      : to_(std::move(to)), count_(count), refusals_(refusals), message_(message_size) {
    for (std::size_t i = 0; i < message_size; ++i) message_[i] = static_cast<std::byte>(i * 7);
  }

  void handle(more) {
    const std::uint64_t end = std::min(count_, next_ + chunk);
    while (next_ < end) {
      payload p{message_};
      std::memcpy(p.bytes.data(), &next_, sizeof next_);
      troupe::send_result sent = to_.tell(std::move(p));
      if (!sent) {
        if (sent.error() != troupe::errc::mailbox_full)
          bench::remote::fail(("client: tell: " + troupe::error(sent.error()).message()).c_str());
        // The queue to the server is full: come back once the writer has
        // had time to drain some of it.
        refusals_->fetch_add(1, std::memory_order_relaxed);
        send_after(backoff, more{});
        return;
      }
      ++next_;
    }
    if (next_ < count_) (void)self().tell(more{});
  }

 private:
  troupe::endpoint<counter> to_;
  std::uint64_t count_;
  std::atomic<std::uint64_t>* refusals_;
  std::vector<std::byte> message_;
  std::uint64_t next_ = 0;
};

troupe::net::remote_types types() { return troupe::net::remote_types::of<counter, sink>().value(); }

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto per_sender = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  auto total = senders * per_sender;
  auto total_bytes = static_cast<std::uint64_t>(total) * message_size;
  troupe::system_config cfg{.workers = workers};
  if (link) {
    troupe::system sys(cfg);
    auto c = sys.spawn<counter>(static_cast<std::uint64_t>(total)).value();
    return bench::remote::serve_actor(*link, sys, types(), c, "bench/counter");
  }

  bench::remote::server_process server{argc, argv};
  confirmation reply{};
  double seconds = 0;
  std::atomic<std::uint64_t> refusals{0};
  {
    troupe::system sys(cfg);
    bench::remote::counting_client<counter> client(sys, types(), server.port());
    std::vector<troupe::endpoint<sender>> sources;
    for (std::size_t i = 0; i < senders; ++i)
      sources.push_back(
          sys.spawn<sender>(client.receiver(), static_cast<std::uint64_t>(per_sender), &refusals)
              .value());
    auto start = bench::steady::now();
    for (auto& source : sources) (void)source.tell(more{});
    reply = client.await_confirmation();
    seconds = bench::seconds_since(start);
    client.stop();
  }
  if (reply.total != total_bytes)
    bench::remote::fail("client: the server saw a different byte count");

  bool clean = server.stop();
  bench::print_result(
      "remote_fanin_1k", "troupe", total, seconds,
      " workers=" + std::to_string(workers) + " refusals=" + std::to_string(refusals.load()) +
          bench::remote::mb_per_s_field(total_bytes, seconds) +
          bench::remote::peak_rss_fields(bench::remote::peak_rss_kb(), reply.peak_rss_kb));
  return clean ? 0 : 1;
}
