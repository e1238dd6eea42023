#pragma once

// The inside of a tcp_transport, shared by tcp_transport.cpp (links,
// listening, dialing, stopping) and tcp_transport_datagram.cpp (UDP
// sockets). Not part of the public API.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>

#include "troupe/net/tcp_transport.hpp"

namespace troupe::net {
namespace detail {

namespace asio = boost::asio;
using strand_type = asio::strand<asio::io_context::executor_type>;
using work_guard = asio::executor_work_guard<asio::io_context::executor_type>;

inline error invalid(std::string detail) { return {errc::invalid_argument, std::move(detail)}; }
inline error node_down(std::string detail) { return {errc::node_down, std::move(detail)}; }
inline error stopped() { return {errc::shutting_down, "transport stopped"}; }

/// The two parts of "host:port" or "[v6]:port" (brackets removed), viewing
/// the address they were split from.
struct address_parts {
  std::string_view host;
  std::string_view port;
  std::uint16_t port_number = 0;
};

/// Splits "host:port" or "[v6]:port"; fails with errc::invalid_argument, the
/// detail saying why. Allocates only on failure.
result<address_parts> split_address(std::string_view a);

/// The two parts of an address, owned.
struct host_port {
  std::string host;
  std::string port;
};

/// Splits "host:port" or "[v6]:port" like split_address(), into strings.
inline result<host_port> parse_address(std::string_view a) {
  auto p = split_address(a);
  if (!p) return p.error();
  return host_port{std::string(p->host), std::string(p->port)};
}

/// Returns "a.b.c.d:port" or "[v6]:port"; an IPv4-mapped IPv6 address is
/// written as the IPv4 address it maps.
std::string format_address(const asio::ip::address& a, unsigned short port);

/// Something stop() must end: a listener, a dial, a link, a datagram socket.
class abortable {
 public:
  /// Ends it (on its own strand, or at once); may be called from any thread
  /// while the transport's threads run.
  virtual void abort(const error& why) noexcept = 0;

 protected:
  ~abortable() = default;
};

}  // namespace detail

/// Owns the io_context, the threads (or the executor attachment) that run
/// it, the TLS context and the registry of what stop() must end.
///
/// Thread safety: every member function may be called from any thread.
class tcp_transport::impl : public std::enable_shared_from_this<impl> {
 public:
  /// Makes the io_context; start_threads() runs it.
  explicit impl(tcp_transport_config config)
      : config_(std::move(config)),
        ctx_(static_cast<int>(config_.io_threads)),
        work_(ctx_.get_executor()) {}
  ~impl() { stop(); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  /// Loads the TLS files into tls_.
  result<void> init_tls(const tls_config& c);
  /// Lends the I/O to config_.io_executor's idle threads when it takes it,
  /// else starts config_.io_threads threads.
  void start_threads();
  /// See tcp_transport::listen().
  result<std::string> listen(std::string_view address, accept_fn on_accept);
  /// See tcp_transport::dial().
  void dial(std::string_view address, dial_fn done);
  /// See tcp_transport::bind() (tcp_transport_datagram.cpp).
  result<std::shared_ptr<datagram_socket>> bind(std::string_view address, datagram_fn on_datagram);
  /// See tcp_transport::stop().
  void stop() noexcept;

  /// Registers `a` for stop() and sets `id`; false once stop() has begun.
  bool enroll(const std::shared_ptr<detail::abortable>& a, std::uint64_t& id) {
    std::lock_guard lk(m_);
    if (stopping_) return false;
    id = next_id_++;
    live_.emplace(id, a);
    return true;
  }
  /// Forgets what enroll() registered under `id`.
  void withdraw(std::uint64_t id) {
    std::lock_guard lk(m_);
    live_.erase(id);
  }

  /// Posts `f` unless the threads are gone for good (false then). Posts that
  /// may come after every link is done (from start(), close(), listen(),
  /// dial()) go through here; stop() runs what slipped in before the gate
  /// closed, so that no handler (which may hold a link, which holds this)
  /// stays queued.
  template <class Executor, class F>
  bool post(const Executor& ex, F&& f) {
    std::lock_guard lk(gate_m_);
    if (!gate_open_) return false;
    detail::asio::post(ex, std::forward<F>(f));
    return true;
  }

  const tcp_transport_config config_;
  detail::asio::io_context ctx_;
  std::optional<detail::asio::ssl::context> tls_;
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> dropped_datagrams_{0};
  std::atomic<bool> interrupting_{false};  // an io_driver interrupt is queued

 private:
  std::mutex work_m_;
  std::optional<detail::work_guard> work_;
  std::mutex join_m_;
  std::vector<std::thread> threads_;
  std::unique_ptr<io_attachment> attachment_;  // guarded by join_m_

  std::mutex m_;
  bool stopping_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<detail::abortable>> live_;

  std::mutex gate_m_;
  bool gate_open_ = true;
};

}  // namespace troupe::net
