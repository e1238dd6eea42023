#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "troupe/core/clock.hpp"
#include "troupe/core/executor.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/transport.hpp"

namespace troupe::net {

/// Names the files of mutual TLS: every node presents a certificate signed by
/// the cluster's CA and accepts only peers that do the same.
struct tls_config {
  /// The CA certificate(s) that sign every node's certificate (PEM).
  std::string ca_file;
  /// This node's certificate, optionally followed by intermediates (PEM).
  std::string cert_file;
  /// This node's private key (PEM, unencrypted).
  std::string key_file;
};

/// Configures a tcp_transport.
struct tcp_transport_config {
  /// Lends the transport's I/O to this executor's idle threads when it takes
  /// it (a thread_pool that runs no other transport's I/O; see
  /// thread_pool::attach_io): the thread that reads a message then runs the
  /// actor it wakes, with no hand-off between threads. Its threads are then
  /// "the transport's threads" below; once the executor stops, nothing but
  /// stop() runs the I/O, so stop the transport first. Null, or refused: the
  /// transport starts io_threads threads of its own.
  executor* io_executor = nullptr;
  /// Threads that run the transport's I/O and call its callbacks (at least 1),
  /// when no io_executor runs them.
  std::size_t io_threads = 1;
  /// Turns on mutual TLS 1.3 when set; plain TCP otherwise.
  std::optional<tls_config> tls;
  /// Sets SO_KEEPALIVE on every connection (TCP_NODELAY is always set).
  bool keep_alive = false;
  /// Bytes read at most per on_bytes() call (the size of each link's buffer).
  std::size_t read_buffer_size = std::size_t{64} << 10;
  /// Bytes asked for at most per pull().
  std::size_t max_write_bytes = std::size_t{256} << 10;
  /// A wake() that comes less than this long after the previous write on
  /// the caller's thread began leaves the write to the transport's threads,
  /// which gather everything queued meanwhile into one write: a burst of
  /// small messages costs a few syscalls, not one each, while a lone message
  /// (a request, a reply) still goes out at once. Zero: always write at once.
  duration inline_write_gap = std::chrono::microseconds(3);
  /// Bounds a dial: name resolution, connection and (with TLS) the handshake.
  duration dial_timeout = std::chrono::seconds(5);
  /// Bounds the TLS handshake of an accepted connection.
  duration handshake_timeout = std::chrono::seconds(5);
  /// Bounds a close(): flushing what is pending and waiting for the peer to
  /// close its side, after which the connection is cut.
  duration close_timeout = std::chrono::seconds(5);
};

/// The network seam over TCP (Boost.Asio), optionally with mutual TLS 1.3
/// (OpenSSL): the production troupe::transport.
///
/// Addresses are "host:port": an IPv4 address, a bracketed IPv6 address
/// ("[::1]:7001") or a name to resolve (but see send_to() under
/// "Datagrams."). listen(), dial() and bind() fail with
/// errc::invalid_argument for an address that does not parse. Addresses the
/// transport returns are numeric, with an IPv4-mapped IPv6 address written
/// as the IPv4 address it maps ("127.0.0.1:7001").
///
/// Links. Each link has its own strand: on_bytes() and on_closed() run on
/// one of the transport's threads, one at a time. Without TLS, a wake() that
/// finds no write under way writes at once on the calling thread (one
/// sendmsg of what pull() returns, for up to four pulls) and leaves the rest
/// to the transport's threads when the socket cannot take it all, or when
/// the previous such write began less than inline_write_gap ago; with TLS,
/// pull() and written() always run on the transport's threads. Either way
/// pull() and written() never run two at once for one link, what one pull()
/// returns is written with one gathered write, and wakes that arrive while a
/// write is under way are coalesced into the next pull(). A started link
/// lives until it is closed, even when nobody holds it any more; its handler
/// is released right after on_closed().
///
/// How a link ends, and what on_closed() receives:
/// - the peer closed the connection: errc::node_down, "connection closed by
///   peer";
/// - a read or write failed: errc::node_down with the system's error text;
/// - close(): what pull() returns is written (until it returns 0), the
///   sending side is shut, and the link waits for the peer to close its own
///   (at most close_timeout); then errc::node_down, "closed by this side";
/// - stop(): at once, errc::shutting_down, "transport stopped".
/// A link closed before start() reports its end to the handler that start()
/// passes, unless the transport has stopped (then nothing is called).
///
/// TLS. Both sides must present a certificate signed by a CA in ca_file;
/// only TLS 1.3 is spoken, and host names are not checked (the CA is the
/// cluster's; node names are authenticated by the session handshake). The
/// TLS handshake completes inside the transport before on_accept or the dial
/// callback sees the link; an accepted connection whose handshake fails or
/// does not end within handshake_timeout is dropped and counted by
/// refused_handshakes(). With TLS 1.3 a dialer whose certificate the
/// acceptor refuses learns it only when it reads: the dial succeeds and the
/// link then closes with errc::node_down. channel_binding() returns 32 bytes
/// of keying material exported under the label
/// "EXPORTER-troupe-channel-binding" (RFC 8446, section 7.5), the same on
/// both ends of one connection. Connections end without a TLS close_notify.
///
/// Datagrams. bind() opens a UDP socket on the transport's io_context, so
/// that its callback runs on the transport's threads (the io_executor's
/// workers when it drives the I/O), on a strand of its own: never two at
/// once for one socket. Its address takes the same forms as listen()'s
/// (names are resolved, once, by bind()); local_address() returns the
/// numeric address bound. A port in use fails with errc::invalid_argument.
/// send_to() only takes numeric destinations ("a.b.c.d:port", "[v6]:port",
/// what local_address() and a callback's `from` give): a name fails with
/// errc::invalid_argument, since resolving it would block the sender (an
/// actor's worker). It sends at once on the calling thread without
/// blocking: a datagram the socket has no room for (EAGAIN, ENOBUFS), or
/// that the host refuses to route (unreachable, filtered), is dropped,
/// counted by dropped_datagrams(), and send_to() still succeeds; nothing is
/// queued; any number of threads may send through one socket at once. A
/// socket bound to an IPv6 address reaches IPv4 peers through mapped
/// addresses (on a dual-stack host); one bound to IPv4 fails with
/// errc::invalid_argument for an IPv6 destination. A datagram larger than
/// max_datagram_size arrives truncated and is dropped (counted). close()
/// frees the port before it returns, and no callback starts after that; one
/// already running on another thread may still finish, and a callback may
/// close its own socket. The callback is released on the transport's
/// threads once the last call has returned.
/// Destroying the socket closes it; stop() closes every socket, after which
/// send_to() and bind() fail with errc::shutting_down.
///
/// Callbacks must not throw: a throw from on_accept, a dial callback, a
/// datagram callback or a link_handler call ends the process
/// (std::terminate).
///
/// Thread safety: every member may be called from any thread. on_accept
/// runs on the transport's threads, for different links possibly at the same
/// time; a dial callback runs on the transport's threads, except after
/// stop(), when dial() calls it on the calling thread with
/// errc::shutting_down. Destroying the transport stops it; it must not be
/// destroyed from one of its own callbacks.
class tcp_transport final : public transport {
 public:
  /// Returns a started transport (its threads running). Fails with
  /// errc::invalid_argument, its detail saying why, when a count, size or
  /// timeout is zero, or when a TLS file cannot be read or the key does not
  /// match the certificate.
  static result<std::unique_ptr<tcp_transport>> make(tcp_transport_config config);

  ~tcp_transport() override;
  tcp_transport(const tcp_transport&) = delete;
  tcp_transport& operator=(const tcp_transport&) = delete;

  /// Listens on `address` and calls `on_accept` with each new link (after its
  /// TLS handshake, with TLS). Returns the address bound: its numeric host
  /// and the port (a free one for port 0). Fails with errc::invalid_argument
  /// when the address does not parse, does not resolve or cannot be bound,
  /// and with errc::shutting_down after stop().
  result<std::string> listen(std::string_view address, accept_fn on_accept) override;
  /// Connects to `address` and calls `done` once: with the link (after its
  /// TLS handshake, with TLS), or with errc::node_down (the detail says why:
  /// refused, timed out after dial_timeout, TLS failure), errc::invalid_argument
  /// for an address that does not parse, errc::shutting_down when stop()
  /// ends the dial.
  void dial(std::string_view address, dial_fn done) override;
  /// Stops listening, ends pending dials and handshakes, closes every link
  /// (their on_closed() runs with errc::shutting_down) and every datagram
  /// socket, and joins the transport's threads. No callback runs after it
  /// returns. Links and datagram sockets that others still hold stay valid
  /// objects: wake() and close() do nothing, start() drops its handler,
  /// send_to() fails with errc::shutting_down. Called from one of the
  /// transport's own threads (from a callback), it starts all that and
  /// returns without waiting.
  void stop() noexcept override;
  /// Binds a UDP socket on `address` whose datagrams go to `on_datagram` (see
  /// "Datagrams." above). Fails with errc::invalid_argument when the address
  /// does not parse, does not resolve or cannot be bound (in use), or when
  /// `on_datagram` is empty, and with errc::shutting_down after stop().
  result<std::shared_ptr<datagram_socket>> bind(std::string_view address,
                                                datagram_fn on_datagram) override;

  /// Returns how many datagrams this transport's sockets dropped: sends the
  /// socket had no room for or the host would not route, and arrivals
  /// larger than max_datagram_size.
  [[nodiscard]] std::uint64_t dropped_datagrams() const noexcept;
  /// Returns how many accepted connections were dropped because their TLS
  /// handshake failed or timed out.
  [[nodiscard]] std::uint64_t refused_handshakes() const noexcept;

  class impl;

 private:
  explicit tcp_transport(std::shared_ptr<impl> impl);
  std::shared_ptr<impl> impl_;
};

}  // namespace troupe::net
