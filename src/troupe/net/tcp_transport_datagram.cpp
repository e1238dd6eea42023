// The UDP sockets of a tcp_transport: binding, sending on the caller's
// thread, the receive loop on a strand, closing (see the "Datagrams."
// paragraph of tcp_transport.hpp).

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "troupe/net/internal/tcp_transport_impl.hpp"
#include "troupe/net/tcp_transport.hpp"

namespace troupe::net {
namespace {

using namespace detail;
using udp = boost::asio::ip::udp;
using boost::system::error_code;
using impl_ptr = std::shared_ptr<tcp_transport::impl>;

// How long the receive loop waits after an unexpected receive error.
constexpr auto receive_retry = std::chrono::milliseconds(10);
// A numeric host is at most this long (an IPv6 address with a zone).
constexpr std::size_t max_numeric_host = 63;

// Parses a numeric "a.b.c.d:port" or "[v6]:port" into `ep` without
// allocating (but for the error).
result<void> parse_numeric(std::string_view address, udp::endpoint& ep) {
  auto parts = split_address(address);
  if (!parts) return parts.error();
  char host[max_numeric_host + 1];
  error_code ec;
  asio::ip::address a;
  if (parts->host.size() <= max_numeric_host) {
    std::memcpy(host, parts->host.data(), parts->host.size());
    host[parts->host.size()] = '\0';
    a = asio::ip::make_address(static_cast<const char*>(host), ec);
  }
  if (parts->host.size() > max_numeric_host || ec) {
    return invalid("bad address '" + std::string(address) +
                   "': a datagram goes to a numeric address, not a name");
  }
  ep = udp::endpoint(a, parts->port_number);
  return {};
}

// One bound UDP socket, shared by its handle, its receive loop and the
// transport's registry (for stop()).
//
// gate_ holds `closed` (and `by_stop`) and the number of send_to() calls
// inside the descriptor: close() sets `closed`, then waits for that number
// to drop to 0 before it closes the descriptor, so no send ever reaches a
// descriptor number that was closed (and maybe reused). sock_m_ serializes
// the calls on socket_ and retry_ (starting a receive or a wait, closing).
// Everything else of the receive loop belongs to the strand.
class udp_binding final : public abortable, public std::enable_shared_from_this<udp_binding> {
 public:
  udp_binding(impl_ptr t, udp::socket socket, const udp::endpoint& bound, datagram_fn on_datagram)
      : local_(format_address(bound.address(), bound.port())),
        t_(std::move(t)),
        socket_(std::move(socket)),
        retry_(socket_.get_executor()),
        fd_(socket_.native_handle()),
        v6_(bound.address().is_v6()),
        on_datagram_(std::move(on_datagram)),
        rbuf_(max_datagram_size + 1) {}

  // --- any thread ---

  // Starts the receive loop (once, right after enroll()).
  void start() {
    if (!receive()) on_datagram_ = nullptr;  // stop() came first; no loop ran
  }

  result<void> send_to(std::string_view address, std::span<const std::byte> data) {
    if (const std::uint32_t s = gate_.load(std::memory_order_acquire); s & closed) return gone(s);
    if (data.size() > max_datagram_size) {
      return invalid("a datagram of " + std::to_string(data.size()) + " bytes exceeds the " +
                     std::to_string(max_datagram_size) + "-byte maximum");
    }
    udp::endpoint to;
    if (auto r = parse_numeric(address, to); !r) return r.error();
    if (!match_family(to))
      return invalid("bad address '" + std::string(address) + "': this socket speaks IPv4");
    if (const std::uint32_t s = gate_.fetch_add(1, std::memory_order_acquire); s & closed) {
      gate_.fetch_sub(1, std::memory_order_release);
      return gone(s);
    }
    ssize_t sent;
    do {
      sent = ::sendto(fd_, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL, to.data(),
                      to.size());
    } while (sent < 0 && errno == EINTR);
    const int err = sent < 0 ? errno : 0;
    gate_.fetch_sub(1, std::memory_order_release);
    switch (err) {
      case 0:
        return {};
      case EINVAL:
      case EAFNOSUPPORT:
      case EDESTADDRREQ:
      case EACCES:  // a broadcast address
        return invalid("send to '" + std::string(address) + "': " + std::strerror(err));
      default:  // no room (EAGAIN, ENOBUFS), unreachable, filtered (EPERM): lost
        t_->dropped_datagrams_.fetch_add(1, std::memory_order_relaxed);
        return {};
    }
  }

  // Closes the socket: no callback starts after this returns.
  void close() noexcept { shut(0); }

  void abort(const error&) noexcept override { shut(by_stop); }

  const std::string local_;  // the address bound
  std::uint64_t id_ = 0;     // set by enroll(), before start()

 private:
  enum : std::uint32_t { closed = 1u << 31, by_stop = 1u << 30, senders = by_stop - 1 };

  static error gone(std::uint32_t s) {
    return {errc::shutting_down, (s & by_stop) ? "transport stopped" : "datagram socket closed"};
  }

  // Makes `to` one this socket can reach: a v4 destination of a v6 socket
  // becomes a mapped address, a mapped one of a v4 socket plain v4; false
  // for a true v6 destination of a v4 socket.
  [[nodiscard]] bool match_family(udp::endpoint& to) const {
    const asio::ip::address a = to.address();
    if (v6_ && a.is_v4()) {
      to.address(asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()));
    } else if (!v6_ && a.is_v6()) {
      if (!a.to_v6().is_v4_mapped()) return false;
      to.address(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()));
    }
    return true;
  }

  void shut(std::uint32_t why) noexcept {
    std::uint32_t s = gate_.load(std::memory_order_acquire);
    do {
      if (s & closed) return;
    } while (!gate_.compare_exchange_weak(s, s | closed | why, std::memory_order_acq_rel,
                                          std::memory_order_acquire));
    // Each sender inside is one non-blocking syscall away from leaving.
    while ((gate_.load(std::memory_order_acquire) & senders) != 0) std::this_thread::yield();
    {
      std::lock_guard lk(sock_m_);
      error_code ec;
      socket_.close(ec);  // frees the port now; a pending receive ends aborted
      try {
        retry_.cancel();
      } catch (...) {  // cannot fail on Linux; the wait then ends on its own
      }
    }
    t_->withdraw(id_);
  }

  [[nodiscard]] bool is_closed() const noexcept {
    return (gate_.load(std::memory_order_acquire) & closed) != 0;
  }

  // Starts the next receive; false once closed (nothing started).
  bool receive() {
    std::lock_guard lk(sock_m_);
    if (is_closed()) return false;
    socket_.async_receive_from(asio::buffer(rbuf_), sender_,
                               [self = shared_from_this()](const error_code& ec, std::size_t n) {
                                 self->on_received(ec, n);
                               });
    return true;
  }

  // --- strand ---

  void on_received(const error_code& ec, std::size_t n) {
    if (is_closed() || ec == asio::error::operation_aborted) return retire();
    if (ec) return on_error(ec);
    if (n > max_datagram_size) {  // truncated: it was larger than the buffer allows
      t_->dropped_datagrams_.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (sender_ != last_sender_ || from_.empty()) {
        from_ = format_address(sender_.address(), sender_.port());
        last_sender_ = sender_;
      }
      on_datagram_(from_, std::span<const std::byte>(rbuf_.data(), n));
    }
    if (!receive()) retire();
  }

  // An ICMP report (possible on Linux) or a shortage: try again, soon for
  // what is not a report, so that a lasting error does not spin.
  void on_error(const error_code& ec) {
    if (ec == asio::error::connection_refused || ec == asio::error::connection_reset ||
        ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) {
      if (!receive()) retire();
      return;
    }
    {
      std::lock_guard lk(sock_m_);
      if (!is_closed()) {
        retry_.expires_after(receive_retry);
        retry_.async_wait([self = shared_from_this()](const error_code& e) {
          if (e || !self->receive()) self->retire();
        });
        return;
      }
    }
    retire();  // not under sock_m_: the callback's captures may close this
  }

  // Ends the loop: releases the callback (its captures may call back in).
  void retire() noexcept {
    datagram_fn gone = std::move(on_datagram_);
    on_datagram_ = nullptr;
  }

  const impl_ptr t_;
  std::atomic<std::uint32_t> gate_{0};
  std::mutex sock_m_;
  udp::socket socket_;        // bound to the strand: its handlers run there
  asio::steady_timer retry_;  // likewise
  const int fd_;
  const bool v6_;

  // The strand's (the receive loop's).
  datagram_fn on_datagram_;
  std::vector<std::byte> rbuf_;  // one byte more than the largest datagram
  udp::endpoint sender_;
  udp::endpoint last_sender_;
  std::string from_;  // sender_ formatted
};

// The socket bind() hands out: closes the binding when destroyed.
class udp_socket final : public datagram_socket {
 public:
  explicit udp_socket(std::shared_ptr<udp_binding> b) : b_(std::move(b)) {}
  ~udp_socket() override { b_->close(); }
  udp_socket(const udp_socket&) = delete;
  udp_socket& operator=(const udp_socket&) = delete;

  result<void> send_to(std::string_view address, std::span<const std::byte> data) override {
    return b_->send_to(address, data);
  }
  [[nodiscard]] std::string local_address() const override { return b_->local_; }
  void close() noexcept override { b_->close(); }

 private:
  const std::shared_ptr<udp_binding> b_;
};

}  // namespace

result<std::shared_ptr<datagram_socket>> tcp_transport::impl::bind(std::string_view address,
                                                                   datagram_fn on_datagram) {
  if (!on_datagram) return invalid("bind: no datagram callback");
  auto hp = parse_address(address);
  if (!hp) return hp.error();
  const std::string where = "bind " + std::string(address) + ": ";
  error_code ec;
  udp::resolver resolver(ctx_);
  const auto results = resolver.resolve(hp->host, hp->port, udp::resolver::numeric_service, ec);
  if (ec || results.empty())
    return invalid(where + (ec ? ec.message() : std::string("no address")));
  const udp::endpoint ep = results.begin()->endpoint();
  udp::socket socket(asio::make_strand(ctx_));
  socket.open(ep.protocol(), ec);
  if (!ec) socket.bind(ep, ec);  // no SO_REUSEADDR: it would let a second socket share the port
  if (ec) return invalid(where + ec.message());
  const udp::endpoint bound = socket.local_endpoint(ec);
  if (ec) return invalid(where + ec.message());
  auto b = std::make_shared<udp_binding>(shared_from_this(), std::move(socket), bound,
                                         std::move(on_datagram));
  if (!enroll(b, b->id_)) return stopped();  // the socket closes with b
  b->start();
  return std::shared_ptr<datagram_socket>(std::make_shared<udp_socket>(std::move(b)));
}

result<std::shared_ptr<datagram_socket>> tcp_transport::bind(std::string_view address,
                                                             datagram_fn on_datagram) {
  return impl_->bind(address, std::move(on_datagram));
}

std::uint64_t tcp_transport::dropped_datagrams() const noexcept {
  return impl_->dropped_datagrams_.load(std::memory_order_relaxed);
}

}  // namespace troupe::net
