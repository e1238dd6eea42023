#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/clock.hpp"
#include "troupe/core/transport.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::sim {

namespace detail {
struct network_state;
}  // namespace detail

/// Configures a simulated network. Changes made through network::options()
/// apply to what is written, delivered or dialed from then on.
struct network_options {
  /// One-way delay between two hosts that set_latency() did not configure
  /// (a host to itself included).
  duration latency = std::chrono::milliseconds(1);
  /// Largest extra delay drawn for each write, uniformly from the runtime's
  /// seeded random; 0: none. Jitter never reorders the bytes of one direction
  /// of a link.
  duration jitter = duration::zero();
  /// How long a dial to an unreachable address (unknown or crashed host,
  /// partitioned path) waits before it fails.
  duration connect_timeout = std::chrono::seconds(3);
  /// Largest number of bytes one write takes from what pull() offered; the
  /// rest stays with the handler (a partial write). 0: no limit.
  std::size_t max_segment = 0;
  /// Largest number of bytes one on_bytes() call gets. When nonzero, the
  /// arrived bytes are cut at random points into pieces of 1..max_chunk
  /// bytes, across write boundaries. 0: each call gets everything that has
  /// arrived by then (writes that arrive together are merged).
  std::size_t max_chunk = 0;
  /// Largest number of bytes of one direction of a link in flight (written,
  /// not yet delivered); a link pulls no more until the peer has received
  /// some. 0: no limit.
  std::size_t send_buffer = 0;
};

/// An in-memory network for deterministic tests of node-to-node protocols:
/// several troupe nodes (each a troupe::system on the same sim::runtime) talk
/// over simulated links, with latency, jitter, odd chunk boundaries,
/// partitions, crashes and frozen hosts, all replayable from the runtime's
/// seed.
///
/// ```
/// troupe::sim::runtime rt(42);
/// troupe::sim::network net(rt);
/// auto a = net.host("a");               // a's transport
/// auto b = net.host("b");
/// b->listen("b:7000", on_accept);
/// a->dial("b:7000", on_dial);           // accept after 1 ms, dial done after 2 ms
/// rt.advance(std::chrono::milliseconds(2));
/// net.partition({"a"}, {"b"});          // links stall, dials time out
/// net.heal();                           // held bytes arrive one latency later
/// ```
///
/// Addresses are "host:port"; a host is known by the name given to host().
/// Every event (accept, dial result, on_bytes, pull, written, on_closed) runs
/// as an item of the runtime's executor, never inside the call that caused
/// it (stop() excepted, below), at the virtual time the model gives it: a
/// dial's accept one latency after the dial and its result one round trip
/// after it; a write's bytes one latency (plus jitter) after the pull that
/// took them. Time moves only through the runtime (advance(), or a waiting
/// response driving it).
///
/// Dials. A dial to a live host where nothing listens fails with
/// errc::node_down ("connection refused") after one round trip; to an
/// unknown or crashed host, or across a partition, with node_down ("connect
/// timed out") after connect_timeout; a malformed address fails with
/// errc::invalid_argument.
///
/// How a link ends, and what on_closed() receives (the same as the TCP
/// transport):
/// - link::close(): the link keeps pulling until pull() returns 0 (a flush,
///   also when close() is called inside pull()), then the peer gets what was
///   written and after it on_closed(node_down, "connection closed by peer");
///   the closing side's handler gets on_closed(node_down, "closed by this
///   side") as soon as the flush is done, and no on_bytes() after close()
///   (bytes arriving then are dropped).
/// - transport::stop(): before it returns, pending dials get
///   errc::shutting_down, a close() under way flushes at once, and every
///   started link gets on_closed(shutting_down, "transport stopped") (a link
///   whose handler is inside a call at that moment: as soon as that call
///   returns); nothing is called after that (a link started later stays
///   silent), and dial() calls its callback at once with shutting_down.
///   Bytes woken but not pulled yet are not written. Peers see "connection
///   closed by peer" one latency later.
/// - a link dropped by everybody before it ends closes itself.
///
/// Faults:
/// - A partition holds back, at the moment they would arrive, the bytes (and
///   the closing notice) crossing it; the links do not fail by themselves,
///   they stall, and writers keep writing until send_buffer fills. heal()
///   lifts every partition; held bytes then arrive one latency later, in
///   order, unless the link was closed meanwhile. A dial across a partition
///   (either direction) times out.
/// - crash(h): every link of `h` closes at once: h's handlers get
///   on_closed(node_down, "host crashed") (through the executor); bytes h
///   wrote before still arrive, then the peer gets on_closed(node_down,
///   "connection reset by peer") (later, if a partition holds it back). h's
///   listeners vanish, its pending dials fail with node_down, and its
///   transports stay dead (listen and dial fail with node_down). Calling
///   host(h) again restarts the host with a new transport.
/// - freeze(h): h's links neither pull from their handlers nor deliver to
///   them, and h accepts nothing, but no link closes; peers see a silent
///   host. Dials to h still complete (the kernel answers) and are accepted at
///   thaw(). thaw(h) resumes everything where it stopped.
/// - cut(a, b): every link between `a` and `b` closes on both ends at once,
///   with on_closed(node_down, "link cut"); bytes in flight are lost.
///
/// Thread safety: one thread only, the one that drives the runtime; so are
/// the transports and links it makes. The runtime must outlive the network;
/// destroy the systems (and transports) that use a network before it: links
/// left when it goes stop without calling their handlers again. Never
/// destroy the network from inside one of its callbacks.
class network {
 public:
  /// Makes an empty network over `rt`'s clock, executor and random source.
  explicit network(runtime& rt, network_options options = {});
  ~network();
  network(const network&) = delete;
  network& operator=(const network&) = delete;

  /// Returns a new transport on host `name` (the host is created on first
  /// use). A host may have several transports (processes): they share its
  /// ports. Calling it for a crashed host restarts the host. Destroying a
  /// transport stops it.
  std::shared_ptr<transport> host(std::string name);

  /// Returns the options, to read or change.
  [[nodiscard]] network_options& options() noexcept;
  /// Sets the one-way latency between `a` and `b`, both ways (a == b: links
  /// of a host to itself). Applies to bytes written from now on.
  void set_latency(std::string_view a, std::string_view b, duration d);

  /// Cuts every path between a host of `a` and a host of `b`, both ways.
  void partition(const std::vector<std::string>& a, const std::vector<std::string>& b);
  /// Cuts the path from `from` to `to` only: bytes from `to` still reach
  /// `from`.
  void partition_one_way(std::string_view from, std::string_view to);
  /// Lifts every partition; held bytes arrive one latency later.
  void heal();
  /// Crashes host `name` (see the class comment). No effect on an unknown
  /// host.
  void crash(std::string_view name);
  /// Freezes host `name`: its links stall without closing.
  void freeze(std::string_view name);
  /// Resumes a frozen host: held bytes arrive, writes and accepts resume.
  void thaw(std::string_view name);
  /// Closes every link between hosts `a` and `b` on both ends at once.
  void cut(std::string_view a, std::string_view b);

  /// Returns the number of bytes handed to on_bytes() so far.
  [[nodiscard]] std::uint64_t bytes_delivered() const noexcept;
  /// Returns the number of links (connections) with an end not closed yet.
  [[nodiscard]] std::size_t links_open() const noexcept;

 private:
  std::unique_ptr<detail::network_state> state_;
};

}  // namespace troupe::sim
