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
  /// Largest extra delay drawn for each write and each datagram, uniformly
  /// from the runtime's seeded random; 0: none. Jitter never reorders the
  /// bytes of one direction of a link; datagrams, each with a delay of its
  /// own, may overtake one another.
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
  /// Probability (0..1) that a datagram is lost on its way, drawn from the
  /// runtime's seeded random when it is sent.
  double datagram_loss = 0;
  /// Probability (0..1) that a datagram not lost is delivered a second
  /// time; the copy draws a delay of its own (and may arrive first).
  double datagram_duplicate = 0;
};

/// How many datagrams one socket of a frozen host holds until thaw(); more
/// are dropped, like a full receive buffer.
inline constexpr std::size_t max_held_datagrams = 256;

/// Counts a host's datagrams, over its whole life (restarts included).
struct datagram_stats {
  /// Datagrams that the host's sockets handed to the network (send_to()
  /// succeeded), counted at the sender.
  std::uint64_t sent = 0;
  /// Datagrams handed to a callback of the host's sockets, counted at the
  /// receiver (a duplicate counts twice).
  std::uint64_t delivered = 0;
  /// Datagrams lost where this host is to blame: at the sender when lost on
  /// the way (datagram_loss, partition, unknown host, sender frozen), at the
  /// receiver once they reached it (nobody bound, receiver crashed, held
  /// beyond max_held_datagrams, socket closed while holding them).
  std::uint64_t dropped = 0;
  /// Bytes of the datagrams counted in `sent`.
  std::uint64_t bytes_sent = 0;
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
///
/// auto s = b->bind("b:5000", on_datagram).value();   // a datagram socket
/// auto c = a->bind("a:0", on_datagram).value();      // bound at a:49152
/// (void)c->send_to("b:5000", bytes);    // on_datagram("a:49152", ...) after 1 ms
/// ```
///
/// Addresses are "host:port"; a host is known by the name given to host().
/// Every event (accept, dial result, on_bytes, pull, written, on_closed, a
/// datagram's arrival) runs as an item of the runtime's executor, never
/// inside the call that caused it (stop() excepted, below), at the virtual
/// time the model gives it: a dial's accept one latency after the dial and
/// its result one round trip after it; a write's bytes one latency (plus
/// jitter) after the pull that took them. Time moves only through the
/// runtime (advance(), or a waiting response driving it).
///
/// Datagrams. transport::bind() binds a datagram socket on the transport's
/// host. Datagram ports are a space of their own, apart from listen()'s (as
/// UDP and TCP ports are); port 0 picks a free one from 49152 up. Binding a
/// port in use on the host, another host's address or a malformed one fails
/// with errc::invalid_argument (the seam's code; listen() says name_taken
/// for a port in use). Like listen(), bind() fails with errc::shutting_down
/// after the transport's stop() and with errc::node_down once its host
/// crashed. A datagram reaches the socket bound at its address one latency
/// (set_latency()) plus a jitter draw after send_to(), as an executor item
/// that calls the socket's callback with the sender socket's address. Each
/// datagram draws its own delay, so jitter may reorder them. Nobody bound
/// there, or an unknown host: the datagram is dropped silently, like those
/// lost to datagram_loss; datagram_duplicate delivers some twice. send_to()
/// fails with errc::invalid_argument for a malformed address or more than
/// max_datagram_size bytes, errc::shutting_down once the socket is closed
/// (close(), destroyed, its transport stopped, the network gone) and
/// errc::node_down once its host crashed (closed or not).
/// close() frees the port at once, and no callback of the socket starts
/// after it returns (nor after stop()); a callback may close its own socket.
/// datagram_stats() counts what each host sent, received and lost.
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
///   (either direction) times out. A datagram crossing a partition at the
///   moment it would arrive is dropped, not held (one-way partitions drop
///   that direction only).
/// - crash(h): every link of `h` closes at once: h's handlers get
///   on_closed(node_down, "host crashed") (through the executor); bytes h
///   wrote before still arrive, then the peer gets on_closed(node_down,
///   "connection reset by peer") (later, if a partition holds it back). h's
///   listeners vanish, its pending dials fail with node_down, and its
///   transports stay dead (listen, dial and bind fail with node_down).
///   h's datagram sockets close silently (no callback after crash(), what
///   they held is dropped, send_to() fails with node_down); datagrams on
///   their way to h are dropped, even if h restarts before they arrive;
///   those h sent before still arrive. Calling host(h) again restarts the
///   host with a new transport, which may bind the same ports again.
/// - freeze(h): h's links neither pull from their handlers nor deliver to
///   them, and h accepts nothing, but no link closes; peers see a silent
///   host. Dials to h still complete (the kernel answers) and are accepted at
///   thaw(). Datagrams h sends while frozen are dropped (a stopped process
///   sends nothing); datagrams arriving at h are held, up to
///   max_held_datagrams per socket (the rest dropped), and delivered in
///   arrival order, through the executor, at thaw(). thaw(h) resumes
///   everything where it stopped.
/// - cut(a, b): every link between `a` and `b` closes on both ends at once,
///   with on_closed(node_down, "link cut"); bytes in flight are lost.
///
/// Thread safety: one thread only, the one that drives the runtime; so are
/// the transports, links and datagram sockets it makes. The runtime must
/// outlive the network; destroy the systems (and transports) that use a
/// network before it: links and sockets left when it goes stop without
/// calling their handlers again. Never
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
  /// ports (listen()'s and, apart, bind()'s). Calling it for a crashed host restarts the host.
  /// Destroying a transport stops it.
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
  /// Lifts every partition; held bytes arrive one latency later (datagrams
  /// were dropped, not held).
  void heal();
  /// Crashes host `name` (see the class comment). No effect on an unknown
  /// host.
  void crash(std::string_view name);
  /// Freezes host `name`: its links stall without closing, its datagrams
  /// wait (up to max_held_datagrams per socket) and it sends none.
  void freeze(std::string_view name);
  /// Resumes a frozen host: held bytes and datagrams arrive, writes and
  /// accepts resume.
  void thaw(std::string_view name);
  /// Closes every link between hosts `a` and `b` on both ends at once.
  void cut(std::string_view a, std::string_view b);

  /// Returns the number of bytes handed to on_bytes() so far.
  [[nodiscard]] std::uint64_t bytes_delivered() const noexcept;
  /// Returns the number of links (connections) with an end not closed yet.
  [[nodiscard]] std::size_t links_open() const noexcept;
  /// Returns the datagram counters of host `name` (all zero for a host never
  /// seen).
  [[nodiscard]] sim::datagram_stats datagram_stats(std::string_view name) const;

 private:
  std::unique_ptr<detail::network_state> state_;
};

}  // namespace troupe::sim
