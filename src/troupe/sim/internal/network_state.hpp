#pragma once

// The state of a simulated network, shared by the files that implement it:
// network.cpp (hosts, links, faults) and network_datagram.cpp (datagrams).
// Nothing outside src/troupe/sim includes this header.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "troupe/core/transport.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::sim::detail {

inline constexpr std::uint16_t first_ephemeral_port = 49152;
inline constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

/// A parsed "host:port"; `host` views the parsed string.
struct address {
  std::string_view host;
  std::uint16_t port = 0;
};

/// Parses "host:port"; nullopt when there is no colon or the port is not a
/// number in 0..65535.
inline std::optional<address> parse_address(std::string_view s) {
  const std::size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == s.size()) return std::nullopt;
  address a;
  a.host = s.substr(0, colon);
  const char* first = s.data() + colon + 1;
  const char* last = s.data() + s.size();
  auto [p, ec] = std::from_chars(first, last, a.port);
  if (ec != std::errc() || p != last) return std::nullopt;
  return a;
}

/// Returns "host:port".
inline std::string join(std::string_view host, std::uint16_t port) {
  std::string s(host);
  s += ':';
  s += std::to_string(port);
  return s;
}

class net_event;  // one timed action of the network (network.cpp)
struct connection;
class sim_transport;
struct network_state;

/// Bytes (or the closing notice) on their way in one direction of a link.
struct segment {
  time_point at;  // when it arrives
  std::vector<std::byte> data;
  bool fin = false;
  std::string why;  // the peer's on_closed detail, for a fin
};

/// Why a direction holds its bytes back until something releases it.
enum class stall : std::uint8_t { none, path, frozen, unstarted };

/// One direction of a link: from ends[i] to ends[1 - i].
struct pipe {
  std::deque<segment> segments;
  std::size_t offset = 0;     // bytes of the first segment already delivered
  std::size_t in_flight = 0;  // bytes written, not delivered yet
  time_point last_at{};       // arrival of the last segment (keeps order)
  bool scheduled = false;     // a delivery event is pending
  stall stalled = stall::none;
};

/// One side of a link, as its owner sees it.
struct end {
  sim_transport* owner = nullptr;  // cleared when the owner stops
  std::string host;
  std::string remote;
  std::shared_ptr<link_handler> handler;
  error why;  // what on_closed gets, once closed
  bool started = false;
  bool closed = false;
  bool notified = false;  // on_closed ran (or will never run)
  bool busy = false;      // one of the handler's calls is running
  bool notify_after = false;
  bool writing = false;          // inside pull()/written()
  bool close_requested = false;  // close() ran: flush, then end
  bool want_pull = false;
  bool pull_scheduled = false;
};

/// A link: two ends and a pipe each way. ends[0] dialed, ends[1] accepted.
struct connection {
  network_state* net = nullptr;
  std::uint64_t id = 0;
  end ends[2];
  pipe pipes[2];
  ~connection();
};

/// A host's transport (one "process" of the host).
class sim_transport final : public transport, public std::enable_shared_from_this<sim_transport> {
 public:
  sim_transport(network_state* net, std::string host) : net_(net), host_(std::move(host)) {}
  ~sim_transport() override;

  result<std::string> listen(std::string_view address, accept_fn on_accept) override;
  void dial(std::string_view address, dial_fn done) override;
  void stop() noexcept override;
  result<std::shared_ptr<datagram_socket>> bind(std::string_view address,
                                                datagram_fn on_datagram) override;

  /// Removes and returns the callback of pending dial `id` (empty when it
  /// has ended already).
  dial_fn take_dial(std::uint64_t id);

  network_state* net_;
  std::string host_;
  bool stopped_ = false;                    // stop() ran
  bool dead_ = false;                       // stopped or crashed
  std::map<std::uint64_t, dial_fn> dials_;  // pending, by id
  std::uint64_t next_dial_ = 1;
};

/// The link object handed to a transport's owner.
class sim_link final : public link {
 public:
  sim_link(std::shared_ptr<connection> c, int side) : c_(std::move(c)), side_(side) {}
  ~sim_link() override {
    if (!c_->ends[side_].started) close();  // nobody can start it any more
  }

  void start(std::shared_ptr<link_handler> h) override;
  void wake() noexcept override;
  void close() noexcept override;
  [[nodiscard]] std::string remote_address() const override { return c_->ends[side_].remote; }
  [[nodiscard]] std::vector<std::byte> channel_binding() const override { return {}; }

 private:
  std::shared_ptr<connection> c_;
  int side_;
};

struct listener {
  sim_transport* owner;
  transport::accept_fn on_accept;
};

/// A datagram on its way; a duplicate shares it with the original.
struct datagram_packet {
  std::string from;       // the sending socket's address
  std::string from_host;  // where it was sent from
  std::string to_host;
  std::uint16_t to_port = 0;
  std::uint64_t to_crashes = 0;  // to_host's crash count when it was sent
  std::vector<std::byte> data;
};

using packet_ptr = std::shared_ptr<const datagram_packet>;

/// Whether a bound datagram socket still receives, and what send_to() says
/// once it does not.
enum class binding_state : std::uint8_t { open, closed, crashed };

/// One bound datagram port: what the socket object and its host's port table
/// share.
struct datagram_binding {
  network_state* net = nullptr;    // cleared when the network goes
  sim_transport* owner = nullptr;  // compared only: may be gone
  std::string host;
  std::uint16_t port = 0;
  std::string address;  // host:port
  datagram_fn on_datagram;
  std::deque<packet_ptr> held;  // arrived while frozen (or busy), in order
  binding_state state = binding_state::open;
  bool busy = false;             // on_datagram is running
  bool drain_scheduled = false;  // an event will deliver `held`
};

using binding_ptr = std::shared_ptr<datagram_binding>;

struct host_record {
  bool crashed = false;
  bool frozen = false;
  std::uint64_t crashes = 0;  // tells datagrams sent before a crash
  std::uint16_t next_port = first_ephemeral_port;
  std::uint16_t next_datagram_port = first_ephemeral_port;
  std::map<std::uint16_t, listener> listeners;
  std::map<std::uint16_t, binding_ptr> datagram_ports;  // a port space of its own
  std::vector<sim_transport*> transports;
  std::vector<std::pair<std::shared_ptr<connection>, std::uint16_t>> pending_accepts;
  sim::datagram_stats datagrams;
};

using conn_ptr = std::shared_ptr<connection>;

struct network_state {
  network_state(runtime& r, network_options o) : rt(r), opt(o) {}
  ~network_state();

  // Events.
  void schedule(time_point at, std::function<void()> fn);
  void post(std::function<void()> fn) { schedule(rt.now(), std::move(fn)); }
  void unlink(net_event* e) noexcept;

  // Topology.
  host_record* find_host(std::string_view name);
  duration latency(std::string_view a, std::string_view b) const;
  bool blocked(std::string_view from, std::string_view to) const {
    return cut_paths.count({std::string(from), std::string(to)}) != 0;
  }
  bool reachable(std::string_view from, std::string_view to);
  std::uint16_t free_port(host_record& h);
  /// Returns when something sent now from `from` reaches `to`: one latency
  /// plus a jitter draw.
  time_point arrival(std::string_view from, std::string_view to);

  // Links.
  void dial(sim_transport& t, std::string_view addr, transport::dial_fn done);
  void fail_dial(std::weak_ptr<sim_transport> wt, std::uint64_t id, error e, time_point at);
  void arrive_syn(std::weak_ptr<sim_transport> wt, std::uint64_t id, std::string addr,
                  time_point t0);
  void accept(const conn_ptr& c, std::uint16_t port);
  void stop_transport(sim_transport& t, bool crashed) noexcept;

  void start(const conn_ptr& c, int i, std::shared_ptr<link_handler> h);
  void wake(const conn_ptr& c, int i);
  void request_close(const conn_ptr& c, int i);
  void schedule_pull(const conn_ptr& c, int i);
  void do_pull(const conn_ptr& c, int i);
  enum class write_outcome : std::uint8_t { wrote, empty, blocked };
  write_outcome write_once(const conn_ptr& c, int i);
  void send(const conn_ptr& c, int i, segment s);
  void ensure_delivery(const conn_ptr& c, int i);
  void deliver(const conn_ptr& c, int i);
  void end_link(const conn_ptr& c, int i, error why, const char* fin_why);
  void notify(const conn_ptr& c, int i);
  void post_notify(const conn_ptr& c, int i) {
    post([this, c, i] { notify(c, i); });
  }
  void maybe_retire(const conn_ptr& c);
  std::vector<conn_ptr> snapshot() const;
  template <class F>
  void invoke(const conn_ptr& c, int i, F&& f);

  // Datagrams (network_datagram.cpp).
  result<std::shared_ptr<datagram_socket>> bind(sim_transport& t, std::string_view addr,
                                                datagram_fn fn);
  /// Sends from open binding `b`: counts, draws loss and duplication, and
  /// schedules each copy's arrival.
  result<void> send_datagram(const datagram_binding& b, std::string_view addr,
                             std::span<const std::byte> data);
  /// Runs when a copy arrives: drops, holds or delivers it.
  void arrive_datagram(const packet_ptr& p);
  /// Calls b's callback (b is open and not busy).
  void deliver_datagram(const binding_ptr& b, const datagram_packet& p);
  /// Posts an event that delivers what `b` holds, unless one is pending.
  void schedule_drain(const binding_ptr& b);
  void drain_datagrams(const binding_ptr& b);
  /// Closes `b` (no callback starts after), frees its port, drops what it
  /// holds; `why` says what send_to() answers from then on.
  void close_datagram(binding_ptr b, binding_state why) noexcept;
  /// Closes the sockets of `h` bound by `owner` (every one: nullptr).
  void close_datagram_sockets(host_record& h, const sim_transport* owner, bool crashed) noexcept;
  void thaw_datagrams(host_record& h);
  /// Returns true with probability `p`, drawing from the runtime's random
  /// source only when 0 < p < 1.
  bool draw(double p);

  runtime& rt;
  network_options opt;
  std::map<std::string, host_record, std::less<>> hosts;
  std::map<std::pair<std::string, std::string>, duration> latencies;  // keys ordered (a <= b)
  std::set<std::pair<std::string, std::string>> cut_paths;            // (from, to)
  std::map<std::uint64_t, conn_ptr> active;                           // links not fully done, by id
  std::map<std::uint64_t, connection*> all;  // every connection object alive
  std::set<sim_transport*> transports;       // every transport object alive
  std::uint64_t next_id = 1;
  std::uint64_t bytes = 0;
  net_event* events = nullptr;  // every pending event, linked
  std::vector<std::span<const std::byte>> bufs;
};

}  // namespace troupe::sim::detail
