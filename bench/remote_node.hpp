// troupe side of the remote benchmarks: nodes over TCP on 127.0.0.1, one per
// process (see peers/remote_common.hpp for how the two processes start, find
// each other and end).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include <troupe/net/node.hpp>
#include <troupe/net/tcp_transport.hpp>
#include <troupe/troupe.hpp>

#include "remote_common.hpp"

namespace bench::remote {

inline constexpr std::string_view cookie = "troupe-bench";

/// Starts a node named `name` from its config, its I/O run by the system's
/// pool workers (or, with BENCH_IO_THREADS set in the environment, by one
/// I/O thread of its own); `listen` empty: dial out only. Ends the process
/// on failure.
inline std::unique_ptr<troupe::net::node> start_node(troupe::system& sys, std::string name,
                                                     std::string listen,
                                                     troupe::net::remote_types types) {
  troupe::net::node_config cfg;
  cfg.name = std::move(name);
  cfg.listen = std::move(listen);
  cfg.cookie = std::string(cookie);
  cfg.io_on_workers = std::getenv("BENCH_IO_THREADS") == nullptr;
  auto node = troupe::net::node::start(sys, std::move(cfg), std::move(types));
  if (!node) fail(("node: " + node.error().message()).c_str());
  return std::move(*node);
}

/// The port of a node's "host:port" listen address.
inline std::uint16_t port_of(const troupe::net::node& n) {
  const std::string& address = n.address();
  auto colon = address.rfind(':');
  if (colon == std::string::npos) fail("node address has no port");
  return static_cast<std::uint16_t>(std::stoul(address.substr(colon + 1)));
}

/// The server's side: a node "server" on 127.0.0.1 with `actor` checked in
/// as `label`; reports the port and serves until the client lets it go.
template <class A>
int serve_actor(const server_link& link, troupe::system& sys, troupe::net::remote_types types,
                const troupe::endpoint<A>& actor, std::string_view label) {
  auto node = start_node(sys, "server", "127.0.0.1:0", std::move(types));
  if (!sys.receptionist().check_in(label, actor)) fail("server: check_in failed");
  link.report_port(port_of(*node));
  link.wait_for_release();
  node->stop();
  return 0;
}

/// The client's side: a node "client" connected to the server at `port`, and
/// the server's actor checked in as `label`.
template <class A>
std::pair<std::unique_ptr<troupe::net::node>, troupe::endpoint<A>> connect_to(
    troupe::system& sys, troupe::net::remote_types types, std::uint16_t port,
    std::string_view label) {
  auto node = start_node(sys, "client", "", std::move(types));
  auto peer = node->connect("127.0.0.1:" + std::to_string(port)).get();
  if (!peer) fail(("client: connect: " + peer.error().message()).c_str());
  auto target = node->lookup<A>(*peer, label).get();
  if (!target) fail(("client: lookup: " + target.error().message()).c_str());
  return {std::move(node), std::move(*target)};
}

// ---- counting what arrives (remote_oneway, remote_fanin_1k) ----

/// What the server's counter reports once it has every message: their total
/// (what `weight` adds up) and the server's peak RSS.
struct confirmation {
  static constexpr std::string_view type_name = "bench.confirmation";
  std::uint64_t total;
  std::uint64_t peak_rss_kb;
};

/// The client's actor that the confirmation goes to.
class sink : public troupe::actor<sink> {
 public:
  static constexpr std::string_view type_name = "bench.sink";
  using handles = troupe::handles<confirmation>;
  explicit sink(std::promise<confirmation>* arrived) : arrived_(arrived) {}
  void handle(const confirmation& c) { arrived_->set_value(c); }

 private:
  std::promise<confirmation>* arrived_;
};

/// Tells the counter where to send its confirmation.
struct report_to {
  static constexpr std::string_view type_name = "bench.report_to";
  troupe::endpoint<sink> client;
};

/// Counts messages M, adding up weight(m); the message that completes the
/// expected count is answered with the confirmation.
template <class M, auto weight>
class counter : public troupe::actor<counter<M, weight>> {
 public:
  static constexpr std::string_view type_name = "bench.counter";
  using handles = troupe::handles<report_to, M>;
  explicit counter(std::uint64_t expected) : expected_(expected) {}

  void handle(report_to r) { client_ = std::move(r.client); }
  void handle(const M& m) {
    total_ += weight(m);
    if (++count_ == expected_) (void)client_.tell(confirmation{total_, peak_rss_kb()});
  }

 private:
  std::uint64_t expected_;
  std::uint64_t count_ = 0;
  std::uint64_t total_ = 0;
  troupe::endpoint<sink> client_;
};

/// The client's side of a counting benchmark: a node connected to the
/// server, the server's counter (checked in as "bench/counter"), told to
/// report to a sink here.
template <class Counter>
class counting_client {
 public:
  counting_client(troupe::system& sys, troupe::net::remote_types types, std::uint16_t port) {
    auto me = sys.spawn<sink>(&arrived_).value();
    std::tie(node_, receiver_) = connect_to<Counter>(sys, std::move(types), port, "bench/counter");
    if (!receiver_.tell(report_to{me})) fail("client: report_to refused");
  }

  const troupe::endpoint<Counter>& receiver() const { return receiver_; }

  /// Waits (bounded by the client's time limit) for the confirmation.
  confirmation await_confirmation() {
    auto confirmed = arrived_.get_future();
    if (confirmed.wait_for(std::chrono::seconds(client_time_limit_s)) != std::future_status::ready)
      fail("client: no confirmation from the server");
    return confirmed.get();
  }

  void stop() { node_->stop(); }

 private:
  std::promise<confirmation> arrived_;
  std::unique_ptr<troupe::net::node> node_;
  troupe::endpoint<Counter> receiver_;
};

}  // namespace bench::remote
