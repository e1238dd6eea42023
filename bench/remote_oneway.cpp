// troupe: one-way stream of small messages between two processes on
// 127.0.0.1, one troupe node each, over TCP.
//
// The server checks a counting actor in as "bench/counter". The client
// connects, looks it up, tells it where to report (an endpoint of a client
// actor, inside a message) and then its main thread tells it the ints
// 0..N-1, one message each, as fast as it can. When the connection cannot
// take more yet, the node refuses a tell with mailbox_full (beyond
// max_queued_bytes): the sender sleeps 50 us and sends that int again, so
// memory stays bounded (`refusals` counts them). The counter adds the ints up and,
// once it has all N, tells the client's actor the sum and its peak RSS; the
// clock stops when that arrives. The figure is messages per second.
//
// usage: bench_remote_oneway_troupe [n=20000000] [workers=hardware threads]
// (both processes use `workers` scheduler threads, which also run the node's I/O)

#include <climits>
#include <cstdint>
#include <future>
#include <string>
#include <thread>

#include "bench_common.hpp"
#include "remote_node.hpp"

namespace {

struct number {
  static constexpr std::string_view type_name = "bench.number";
  int value;
};

std::uint64_t value_of(const number& m) { return static_cast<std::uint64_t>(m.value); }

using counter = bench::remote::counter<number, value_of>;
using bench::remote::confirmation;
using bench::remote::sink;

troupe::net::remote_types types() { return troupe::net::remote_types::of<counter, sink>().value(); }

}  // namespace

int main(int argc, char** argv) {
  auto link = bench::remote::server_link::from_args(argc, argv);
  auto n = bench::arg_or(argc, argv, 1, 20'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  if (n > static_cast<std::size_t>(INT_MAX)) bench::remote::fail("n must fit in an int");
  troupe::system_config cfg{.workers = workers};
  if (link) {
    troupe::system sys(cfg);
    auto c = sys.spawn<counter>(static_cast<std::uint64_t>(n)).value();
    return bench::remote::serve_actor(*link, sys, types(), c, "bench/counter");
  }

  bench::remote::server_process server{argc, argv};
  confirmation reply{};
  double seconds = 0;
  std::uint64_t refusals = 0;
  {
    troupe::system sys(cfg);
    bench::remote::counting_client<counter> client(sys, types(), server.port());
    const auto& receiver = client.receiver();
    auto start = bench::steady::now();
    for (std::size_t i = 0; i < n;) {
      troupe::send_result sent = receiver.tell(number{static_cast<int>(i)});
      if (sent) {
        ++i;
      } else if (sent.error() == troupe::errc::mailbox_full) {
        ++refusals;
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      } else {
        bench::remote::fail(("client: tell: " + troupe::error(sent.error()).message()).c_str());
      }
    }
    reply = client.await_confirmation();
    seconds = bench::seconds_since(start);
    client.stop();
  }
  if (reply.total != static_cast<std::uint64_t>(n) * (n - 1) / 2)
    bench::remote::fail("client: the server's sum is wrong");

  bool clean = server.stop();
  bench::print_result(
      "remote_oneway", "troupe", n, seconds,
      " workers=" + std::to_string(workers) + " refusals=" + std::to_string(refusals) +
          bench::remote::peak_rss_fields(bench::remote::peak_rss_kb(), reply.peak_rss_kb));
  return clean ? 0 : 1;
}
