#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/error.hpp"
#include "troupe/core/result.hpp"

namespace troupe {

/// What a link tells its owner (a node session).
///
/// A link calls its handler from the transport's threads, and for writing
/// also from a thread that calls wake(). Reading calls (on_bytes) never run
/// two at once for one link, nor do writing calls (pull, written); a reading
/// and a writing call may run at the same time. on_closed() runs once no
/// other call runs, and nothing follows it.
class link_handler {
 public:
  virtual ~link_handler() = default;
  /// Bytes arrived from the peer (valid only during the call).
  virtual void on_bytes(std::span<const std::byte> data) = 0;
  /// Replaces `out` with the bytes to write next, at most `max_bytes`, and
  /// returns their total (0: nothing to write now). The buffers stay valid
  /// until written() has covered them.
  virtual std::size_t pull(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes) = 0;
  /// The first `n` bytes of what the last pull() returned were written.
  virtual void written(std::size_t n) = 0;
  /// The link is closed: by the peer, by an error, or by close(). Called
  /// exactly once for a started link.
  virtual void on_closed(const error& why) = 0;
};

/// One byte stream to a peer: a TCP connection (optionally TLS), or a pipe of
/// the simulated network.
///
/// Thread safety: wake() and close() may be called from any thread.
class link {
 public:
  virtual ~link() = default;
  /// Starts reading; from now on `h` receives the link's events. Call once.
  virtual void start(std::shared_ptr<link_handler> h) = 0;
  /// Says that the handler has bytes to write: the link will pull() them
  /// (at once on this thread, or soon on the transport's).
  virtual void wake() noexcept = 0;
  /// Closes the link once what was pulled has been written (best effort);
  /// the handler's on_closed() follows.
  virtual void close() noexcept = 0;
  /// Returns the peer's address, for logs ("127.0.0.1:7001").
  [[nodiscard]] virtual std::string remote_address() const = 0;
  /// Returns bytes that identify the secure channel, the same on both ends
  /// (TLS: exported keying material); empty without TLS.
  [[nodiscard]] virtual std::vector<std::byte> channel_binding() const = 0;
};

/// Receives a datagram: the sender's bound address ("host:port") and the
/// bytes, valid only during the call.
using datagram_fn = std::function<void(std::string_view from, std::span<const std::byte> data)>;

/// The largest datagram a datagram_socket sends.
inline constexpr std::size_t max_datagram_size = 65'000;

/// An unreliable datagram endpoint bound to one address (UDP, or the
/// simulated network's): what membership gossip runs on. A datagram arrives
/// whole or not at all, possibly more than once, in any order.
///
/// Thread safety: send_to() and close() may be called from any thread. The
/// socket's callback runs on the transport's threads, never two at once.
class datagram_socket {
 public:
  virtual ~datagram_socket() = default;
  /// Hands `data` to the network for `address` ("host:port"), best effort.
  /// Fails with errc::invalid_argument for an address that does not parse
  /// or data larger than max_datagram_size, errc::node_down when the host
  /// cannot send (crashed), errc::shutting_down after close(). Success says
  /// nothing about arrival.
  virtual result<void> send_to(std::string_view address, std::span<const std::byte> data) = 0;
  /// Returns the bound address ("host:port", the port chosen for port 0).
  [[nodiscard]] virtual std::string local_address() const = 0;
  /// Stops receiving: no callback starts after it returns (one running on
  /// another thread may still finish). Destroying the socket closes it.
  virtual void close() noexcept = 0;
};

/// The network seam: makes links: listens for peers and dials them. TCP over Boost.Asio in
/// production (troupe::net::tcp_transport), troupe::sim::network, an in-memory network in tests.
///
/// Thread safety: every member may be called from any thread. Callbacks run
/// on the transport's threads.
class transport {
 public:
  using accept_fn = std::function<void(std::shared_ptr<link>)>;
  using dial_fn = std::function<void(result<std::shared_ptr<link>>)>;

  virtual ~transport() = default;
  /// Listens on `address` ("host:port"; port 0 picks a free one) and calls
  /// `on_accept` for each new link. Returns the address actually bound.
  virtual result<std::string> listen(std::string_view address, accept_fn on_accept) = 0;
  /// Connects to `address`; `done` gets the link or the error
  /// (errc::node_down when nobody answers).
  virtual void dial(std::string_view address, dial_fn done) = 0;
  /// Stops listening, closes every link and ends the transport's threads.
  /// No callback runs after it returns.
  virtual void stop() noexcept = 0;
  /// Binds a datagram socket on `address` ("host:port"; port 0 picks a free
  /// one) whose datagrams go to `on_datagram`. Fails with
  /// errc::invalid_argument for an address that does not parse or cannot be
  /// bound (in use), errc::shutting_down after stop(). A transport without
  /// datagrams fails with errc::invalid_argument (the default).
  virtual result<std::shared_ptr<datagram_socket>> bind(std::string_view address,
                                                        datagram_fn on_datagram) {
    (void)address, (void)on_datagram;
    return error(errc::invalid_argument, "this transport has no datagrams");
  }
};

}  // namespace troupe
