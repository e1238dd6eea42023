#include "troupe/net/tcp_transport.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "troupe/net/internal/tcp_transport_impl.hpp"

namespace troupe::net {

namespace detail {

result<address_parts> split_address(std::string_view a) {
  const auto bad = [a](const char* why) {
    return invalid("bad address '" + std::string(a) + "': " + why);
  };
  address_parts p;
  if (!a.empty() && a.front() == '[') {
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':')
      return bad("expected [address]:port");
    p.host = a.substr(1, close - 1);
    p.port = a.substr(close + 2);
  } else {
    const std::size_t colon = a.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    p.host = a.substr(0, colon);
    p.port = a.substr(colon + 1);
    if (p.host.find(':') != std::string_view::npos) return bad("an IPv6 address needs brackets");
  }
  if (p.host.empty()) return bad("empty host");
  unsigned long port = 0;
  const char* const end = p.port.data() + p.port.size();
  if (p.port.empty() || p.port.size() > 5 ||
      !std::all_of(p.port.begin(), p.port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::from_chars(p.port.data(), end, port).ptr != end)
    return bad("the port must be a number");
  if (port > 65535) return bad("the port must be at most 65535");
  p.port_number = static_cast<std::uint16_t>(port);
  return p;
}

std::string format_address(const asio::ip::address& a, unsigned short port) {
  std::string s;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    s = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  else
    s = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return s + ":" + std::to_string(port);
}

}  // namespace detail

namespace {

using namespace detail;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using steady = std::chrono::steady_clock;

constexpr std::size_t max_iov = 1024;  // Linux's IOV_MAX
constexpr int max_inline_rounds = 4;   // pulls a wake() may write on its caller's thread
constexpr char binding_label[] = "EXPORTER-troupe-channel-binding";
constexpr std::size_t binding_size = 32;
constexpr auto accept_retry = std::chrono::milliseconds(100);
constexpr std::size_t max_poll_handlers = 8;  // per io_driver::poll()

std::string format(const tcp::endpoint& ep) { return format_address(ep.address(), ep.port()); }

void set_options(tcp::socket& s, bool keep_alive) {
  error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  if (keep_alive) s.set_option(asio::socket_base::keep_alive(true), ec);
}

thread_local const void* current_transport = nullptr;

}  // namespace

namespace {

using impl_ptr = std::shared_ptr<tcp_transport::impl>;

// One connection. All members not marked otherwise belong to the strand.
//
// Writing is owned by whoever holds the `writing` bit of w_: a thread in
// wake() (plain TCP: it writes inline), or the strand (async writes, TLS,
// close). wake() sets `dirty` when it cannot take the bit; the writer clears
// `dirty` before each pull() and may drop the bit only when it is still
// clear, so no wake() is lost. `shut` ends writing for good: the writer drops
// the bit and tells the strand; `close_req` makes the writer hand over to the
// strand when it runs dry; `paused` holds writes until start().
class tcp_link final : public link,
                       public abortable,
                       public std::enable_shared_from_this<tcp_link> {
 public:
  tcp_link(impl_ptr t, strand_type strand, tcp::socket socket)
      : t_(std::move(t)),
        strand_(std::move(strand)),
        socket_(std::move(socket)),
        fd_(socket_.native_handle()),
        work_(t_->ctx_.get_executor()),
        timer_(strand_),
        max_write_(t_->config_.max_write_bytes),
        inline_gap_ns_(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t_->config_.inline_write_gap)
                .count()),
        rbuf_(t_->config_.read_buffer_size) {
    error_code ec;
    const tcp::endpoint ep = socket_.remote_endpoint(ec);
    remote_ = ec ? std::string("?") : format(ep);
    if (t_->tls_) tls_.emplace(socket_, *t_->tls_);
  }

  // --- link (any thread) ---

  void start(std::shared_ptr<link_handler> h) override {
    if (!h || start_called_.exchange(true)) return;
    t_->post(strand_, [self = shared_from_this(), h = std::move(h)]() mutable {
      self->on_start(std::move(h));
    });
  }

  void wake() noexcept override {
    std::uint32_t s = w_.load(std::memory_order_acquire);
    for (;;) {
      if (s & shut) return;
      if (s & (writing | paused)) {
        if ((s & dirty) || w_.compare_exchange_weak(s, s | dirty, std::memory_order_acq_rel,
                                                    std::memory_order_acquire))
          return;
      } else if (w_.compare_exchange_weak(s, s | writing, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        break;
      }
    }
    if (tls_ || in_burst())
      asio::post(strand_, [self = shared_from_this()] { self->write_step(); });
    else
      write_inline();
  }

  void close() noexcept override {
    t_->post(strand_,
             [self = shared_from_this()] { self->begin_close(node_down("closed by this side")); });
  }

  [[nodiscard]] std::string remote_address() const override { return remote_; }
  [[nodiscard]] std::vector<std::byte> channel_binding() const override { return binding_; }

  void abort(const error& why) noexcept override {
    asio::post(strand_, [self = shared_from_this(), why] { self->on_abort(why); });
  }

  // --- strand ---

  // Runs the TLS handshake, bounded by `deadline`; `done` gets the failure
  // (the link is then finished) or nothing.
  void handshake(ssl::stream_base::handshake_type role, steady::time_point deadline,
                 std::function<void(std::optional<error>)> done) {
    if (finishing_) {
      done(final_error_);
      return;
    }
    handshaking_ = true;
    auto self = shared_from_this();
    timer_.expires_at(deadline);
    timer_.async_wait([self](const error_code& ec) {
      if (ec || !self->handshaking_) return;
      self->handshake_timed_out_ = true;
      self->shut_socket();
    });
    tls_->async_handshake(role, [self, done = std::move(done)](const error_code& ec) {
      self->handshaking_ = false;
      self->timer_.cancel();
      std::optional<error> failure;
      if (self->abort_error_)
        failure = *self->abort_error_;
      else if (self->handshake_timed_out_)
        failure = node_down("TLS handshake timed out");
      else if (ec)
        failure = node_down("TLS handshake failed: " + ec.message());
      else if (!self->export_binding())
        failure = node_down("TLS: cannot export keying material");
      const std::optional<error> copy = failure;
      done(std::move(failure));  // before the peer sees the connection end
      if (copy) self->finish(*copy);
    });
  }

  [[nodiscard]] bool aborted() const noexcept { return abort_error_.has_value(); }

  void on_abort(const error& why) {
    if (!abort_error_) abort_error_ = why;
    if (handshaking_) {
      shut_socket();
      return;
    }
    finish(why);
  }

  // Ends the link now: no more writes, reads end, then on_closed().
  void finish(const error& why) {
    if (finishing_) return;
    finishing_ = true;
    final_error_ = why;
    timer_.cancel();
    shut_socket();
    const std::uint32_t prev = w_.fetch_or(shut, std::memory_order_acq_rel);
    if (!(prev & writing)) writer_gone_ = true;
    maybe_complete();
  }

  std::uint64_t id_ = 0;  // set once, right after construction

 private:
  enum : std::uint32_t { writing = 1, dirty = 2, close_req = 4, shut = 8, paused = 16 };
  enum class idle_result { idle, again, handoff, released };

  void on_start(std::shared_ptr<link_handler> h) {
    if (completed_) {
      h->on_closed(final_error_);
      return;
    }
    handler_ = std::move(h);
    started_ = true;
    if (finishing_) {
      maybe_complete();  // it reports once the link is done
      return;
    }
    start_read();
    if (w_.fetch_and(~std::uint32_t{paused}, std::memory_order_acq_rel) & dirty) wake();
  }

  void start_read() {
    reading_ = true;
    auto cb = [self = shared_from_this()](const error_code& ec, std::size_t n) {
      self->on_read(ec, n);
    };
    if (tls_)
      tls_->async_read_some(asio::buffer(rbuf_), std::move(cb));
    else
      socket_.async_read_some(asio::buffer(rbuf_), std::move(cb));
  }

  void on_read(const error_code& ec, std::size_t n) {
    reading_ = false;
    if (finishing_) {
      maybe_complete();
      return;
    }
    if (ec) {
      finish(closing_ ? close_error_ : io_error(ec));
      return;
    }
    handler_->on_bytes(std::span<const std::byte>(rbuf_.data(), n));
    if (finishing_)
      maybe_complete();
    else
      start_read();
  }

  static error io_error(const error_code& ec) {
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
      return node_down("connection closed by peer");
    return node_down(ec.message());
  }

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // True when writing last began or went idle less than inline_write_gap ago
  // (and notes this wake as the latest start): messages come faster than one
  // syscall each is worth, so the strand gathers them. Holds `writing`.
  bool in_burst() noexcept {
    if (inline_gap_ns_ <= 0) return false;
    const std::int64_t now = now_ns();
    const std::int64_t last = std::exchange(last_write_ns_, now);
    return now - last < inline_gap_ns_;
  }

  // Writes on the caller's thread (plain TCP) while the socket takes it all;
  // hands the rest to the strand. Holds `writing`.
  void write_inline() noexcept {
    for (int round = 0; round < max_inline_rounds; ++round) {
      if (w_.fetch_and(~std::uint32_t{dirty}, std::memory_order_acq_rel) & shut) {
        release_writer();
        return;
      }
      bufs_.clear();
      const std::size_t n = handler_->pull(bufs_, max_write_);
      if (n == 0) {
        const idle_result r = try_idle();
        if (r == idle_result::again) continue;
        if (r == idle_result::handoff) break;
        return;
      }
      std::size_t offered = 0;
      int err = 0;
      const ssize_t sent = send_now(offered, err);
      if (sent > 0) handler_->written(static_cast<std::size_t>(sent));
      if (sent >= 0 && static_cast<std::size_t>(sent) == offered) continue;
      if (sent < 0 && err != EAGAIN && err != EWOULDBLOCK) {
        // Post while still the writer: the link cannot end before this runs.
        asio::post(strand_, [self = shared_from_this(), why = node_down(std::strerror(err))] {
          self->finish(why);
        });
        release_writer();
        return;
      }
      break;  // the socket is full: the strand waits for room
    }
    asio::post(strand_, [self = shared_from_this()] { self->write_step(); });
  }

  ssize_t send_now(std::size_t& offered, int& err) noexcept {
    const std::size_t count = std::min(bufs_.size(), max_iov);
    iov_.resize(count);
    offered = 0;
    for (std::size_t i = 0; i < count; ++i) {
      iov_[i].iov_base = const_cast<std::byte*>(bufs_[i].data());
      iov_[i].iov_len = bufs_[i].size();
      offered += bufs_[i].size();
    }
    msghdr msg{};
    msg.msg_iov = iov_.data();
    msg.msg_iovlen = count;
    ssize_t r;
    do {
      r = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (r < 0 && errno == EINTR);
    err = r < 0 ? errno : 0;
    return r;
  }

  // One step of writing on the strand: pull, then one asynchronous write.
  // Holds `writing`.
  void write_step() noexcept {
    for (;;) {
      if (w_.fetch_and(~std::uint32_t{dirty}, std::memory_order_acq_rel) & shut) {
        release_writer();
        return;
      }
      bufs_.clear();
      const std::size_t n = handler_->pull(bufs_, max_write_);
      if (n != 0) break;
      switch (try_idle()) {
        case idle_result::again:
          continue;
        case idle_result::handoff:
          close_flushed();
          return;
        case idle_result::idle:
        case idle_result::released:
          return;
      }
    }
    auto cb = [self = shared_from_this()](const error_code& ec, std::size_t k) {
      self->on_written(ec, k);
    };
    if (tls_) {
      // TLS writes one buffer per record anyway: join small pieces first.
      asio::const_buffer one(bufs_[0].data(), bufs_[0].size());
      if (bufs_.size() > 1) {
        staging_.clear();
        for (const auto& b : bufs_) staging_.insert(staging_.end(), b.begin(), b.end());
        one = asio::buffer(staging_);
      }
      asio::async_write(*tls_, one, std::move(cb));
    } else {
      abufs_.clear();
      for (const auto& b : bufs_) abufs_.emplace_back(b.data(), b.size());
      socket_.async_write_some(abufs_, std::move(cb));
    }
  }

  void on_written(const error_code& ec, std::size_t k) noexcept {
    if (ec) {
      release_writer();
      finish(io_error(ec));
      return;
    }
    handler_->written(k);
    write_step();
  }

  idle_result try_idle() noexcept {
    if (inline_gap_ns_ > 0) last_write_ns_ = now_ns();  // written before the bit is dropped
    std::uint32_t s = w_.load(std::memory_order_acquire);
    for (;;) {
      if (s & shut) {
        release_writer();
        return idle_result::released;
      }
      if (s & dirty) return idle_result::again;
      if (s & close_req) return idle_result::handoff;
      if (w_.compare_exchange_weak(s, s & ~std::uint32_t{writing}, std::memory_order_acq_rel,
                                   std::memory_order_acquire))
        return idle_result::idle;
    }
  }

  // Drops `writing`; tells the strand when the link is being finished.
  void release_writer() noexcept {
    const std::uint32_t prev =
        w_.fetch_and(~std::uint32_t{writing | dirty}, std::memory_order_acq_rel);
    if (prev & shut) {
      // The link holds work until the writer is gone: the threads run this.
      asio::post(strand_, [self = shared_from_this()] {
        self->writer_gone_ = true;
        self->maybe_complete();
      });
    }
  }

  void begin_close(const error& why) {
    if (closing_ || finishing_) return;
    closing_ = true;
    close_error_ = why;
    if (!started_) {
      finish(why);
      return;
    }
    timer_.expires_after(t_->config_.close_timeout);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->finish(self->close_error_);
    });
    std::uint32_t s = w_.load(std::memory_order_acquire);
    while (!w_.compare_exchange_weak(s, s | close_req | writing, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
    }
    if (!(s & writing)) write_step();  // the strand is the writer now
  }

  // Everything pulled is written: shut the sending side and let the reader
  // wait for the peer's end.
  void close_flushed() noexcept {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    w_.fetch_or(shut, std::memory_order_acq_rel);
    release_writer();
  }

  void shut_socket() {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
  }

  void maybe_complete() {
    if (!finishing_ || completed_ || reading_ || !writer_gone_ || handshaking_) return;
    completed_ = true;
    error_code ec;
    socket_.close(ec);
    if (handler_) {
      const std::shared_ptr<link_handler> h = std::move(handler_);
      h->on_closed(final_error_);
    }
    work_.reset();
    t_->withdraw(id_);
  }

  bool export_binding() {
    std::array<unsigned char, binding_size> out{};
    if (SSL_export_keying_material(tls_->native_handle(), out.data(), out.size(), binding_label,
                                   sizeof(binding_label) - 1, nullptr, 0, 0) != 1)
      return false;
    binding_.resize(out.size());
    std::memcpy(binding_.data(), out.data(), out.size());
    return true;
  }

  // Immutable after construction (and, for binding_, after the handshake,
  // which ends before the link is handed out).
  const impl_ptr t_;
  const strand_type strand_;
  tcp::socket socket_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  const int fd_;
  std::string remote_;
  std::vector<std::byte> binding_;

  std::atomic<std::uint32_t> w_{paused};
  std::atomic<bool> start_called_{false};

  // The writer's (whoever holds `writing`).
  std::vector<std::span<const std::byte>> bufs_;
  std::vector<iovec> iov_;
  std::vector<asio::const_buffer> abufs_;
  std::vector<std::byte> staging_;

  // The strand's.
  work_guard work_;
  asio::steady_timer timer_;  // the handshake's deadline, then close()'s
  const std::size_t max_write_;
  const std::int64_t inline_gap_ns_;  // inline_write_gap in nanoseconds
  std::int64_t last_write_ns_ = 0;    // the writer's: when writing last began or went idle
  std::vector<std::byte> rbuf_;
  std::shared_ptr<link_handler> handler_;
  std::optional<error> abort_error_;
  error close_error_;
  error final_error_;
  bool handshaking_ = false;
  bool handshake_timed_out_ = false;
  bool started_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool finishing_ = false;
  bool writer_gone_ = false;
  bool completed_ = false;
};

// Accepts connections on one address until stop().
class listener final : public abortable, public std::enable_shared_from_this<listener> {
 public:
  listener(impl_ptr t, strand_type strand, tcp::acceptor acceptor, transport::accept_fn on_accept)
      : t_(std::move(t)),
        strand_(std::move(strand)),
        acceptor_(std::move(acceptor)),
        retry_(strand_),
        on_accept_(std::move(on_accept)) {}

  void abort(const error&) noexcept override {
    asio::post(strand_, [self = shared_from_this()] {
      self->closed_ = true;
      error_code ec;
      self->acceptor_.close(ec);
      self->retry_.cancel();
      self->t_->withdraw(self->id_);
    });
  }

  void accept_next() {
    if (closed_) return;
    next_strand_.emplace(asio::make_strand(t_->ctx_));
    next_.emplace(*next_strand_);
    acceptor_.async_accept(
        *next_, [self = shared_from_this()](const error_code& ec) { self->on_accepted(ec); });
  }

  std::uint64_t id_ = 0;

 private:
  void on_accepted(const error_code& ec) {
    if (closed_ || ec == asio::error::operation_aborted) return;
    if (ec) {  // out of descriptors or the like: try again a little later
      retry_.expires_after(accept_retry);
      retry_.async_wait([self = shared_from_this()](const error_code& e) {
        if (!e) self->accept_next();
      });
      return;
    }
    tcp::socket socket = std::move(*next_);
    const strand_type strand = *next_strand_;
    accept_next();
    set_options(socket, t_->config_.keep_alive);
    auto l = std::make_shared<tcp_link>(t_, strand, std::move(socket));
    if (!t_->enroll(l, l->id_)) return;  // stopping: the socket closes with l
    if (!t_->tls_) {
      on_accept_(l);
      return;
    }
    const auto deadline = steady::now() + t_->config_.handshake_timeout;
    asio::post(strand, [self = shared_from_this(), l, deadline] {
      l->handshake(ssl::stream_base::server, deadline, [self, l](std::optional<error> failure) {
        if (!failure)
          self->on_accept_(l);
        else if (!l->aborted())
          self->t_->refused_.fetch_add(1, std::memory_order_relaxed);
      });
    });
  }

  const impl_ptr t_;
  const strand_type strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  const transport::accept_fn on_accept_;
  std::optional<strand_type> next_strand_;
  std::optional<tcp::socket> next_;
  bool closed_ = false;
};

// One dial: resolve, connect, TLS handshake; calls `done` once.
class dial_op final : public abortable, public std::enable_shared_from_this<dial_op> {
 public:
  dial_op(impl_ptr t, std::string address, host_port hp, transport::dial_fn done)
      : t_(std::move(t)),
        strand_(asio::make_strand(t_->ctx_)),
        resolver_(strand_),
        socket_(strand_),
        timer_(strand_),
        address_(std::move(address)),
        hp_(std::move(hp)),
        done_(std::move(done)) {}

  void begin() {
    if (finished_) return;
    deadline_ = steady::now() + t_->config_.dial_timeout;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->end_with(self->failure("timed out"));
    });
    resolver_.async_resolve(
        hp_.host, hp_.port, tcp::resolver::numeric_service,
        [self = shared_from_this()](const error_code& ec, tcp::resolver::results_type r) {
          self->on_resolved(ec, std::move(r));
        });
  }

  void abort(const error& why) noexcept override {
    asio::post(strand_, [self = shared_from_this(), why] { self->end_with(why); });
  }

  [[nodiscard]] const strand_type& strand() const noexcept { return strand_; }
  std::uint64_t id_ = 0;

 private:
  error failure(const std::string& why) const { return node_down("dial " + address_ + ": " + why); }

  // Stops whatever is under way; its completion reports `why`.
  void end_with(const error& why) {
    if (finished_ || aborted_) return;
    aborted_ = why;
    timer_.cancel();
    resolver_.cancel();
    error_code ec;
    socket_.close(ec);
    if (link_) link_->on_abort(why);
    if (!connecting_) fail(why);  // nothing under way would report it
  }

  void on_resolved(const error_code& ec, tcp::resolver::results_type results) {
    if (finished_) return;
    if (aborted_) return fail(*aborted_);
    if (ec) return fail(failure(ec.message()));
    connecting_ = true;
    asio::async_connect(socket_, results,
                        [self = shared_from_this()](const error_code& e, const tcp::endpoint&) {
                          self->on_connected(e);
                        });
  }

  void on_connected(const error_code& ec) {
    if (aborted_) return fail(*aborted_);
    if (ec) return fail(failure(ec.message()));
    set_options(socket_, t_->config_.keep_alive);
    link_ = std::make_shared<tcp_link>(t_, strand_, std::move(socket_));
    if (!t_->enroll(link_, link_->id_)) return fail(stopped());
    if (!t_->tls_) return succeed();
    timer_.cancel();
    link_->handshake(ssl::stream_base::client, deadline_,
                     [self = shared_from_this()](std::optional<error> f) {
                       if (!f) return self->succeed();
                       if (self->aborted_) return self->fail(*self->aborted_);
                       if (self->link_->aborted()) return self->fail(*f);  // stop() got there first
                       self->fail(self->failure(f->detail()));
                     });
  }

  void succeed() {
    finished_ = true;
    timer_.cancel();
    t_->withdraw(id_);
    std::shared_ptr<link> l = std::move(link_);
    done_(std::move(l));
  }

  void fail(const error& why) {
    if (finished_) return;
    finished_ = true;
    timer_.cancel();
    t_->withdraw(id_);
    link_.reset();
    done_(why);
  }

  const impl_ptr t_;
  const strand_type strand_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  const std::string address_;
  const host_port hp_;
  const transport::dial_fn done_;
  steady::time_point deadline_{};
  std::shared_ptr<tcp_link> link_;
  std::optional<error> aborted_;
  bool connecting_ = false;
  bool finished_ = false;
};

}  // namespace

result<void> tcp_transport::impl::init_tls(const tls_config& c) {
  tls_.emplace(ssl::context::tls);
  SSL_CTX* native = tls_->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1)
    return invalid("TLS: cannot require TLS 1.3");
  SSL_CTX_set_num_tickets(native, 0);  // sessions are never resumed
  error_code ec;
  tls_->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  tls_->load_verify_file(c.ca_file, ec);
  if (ec) return invalid("TLS: cannot load CA file '" + c.ca_file + "': " + ec.message());
  tls_->use_certificate_chain_file(c.cert_file, ec);
  if (ec)
    return invalid("TLS: cannot load certificate file '" + c.cert_file + "': " + ec.message());
  tls_->use_private_key_file(c.key_file, ssl::context::pem, ec);
  if (ec) return invalid("TLS: cannot load key file '" + c.key_file + "': " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1)
    return invalid("TLS: the key in '" + c.key_file + "' does not match the certificate");
  tls_->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return invalid("TLS: " + ec.message());
  return {};
}

namespace {

// Runs the transport's io_context on the threads of an executor that drives
// I/O (see io_driver). Used only while attached: stop() detaches it before
// the transport goes.
class asio_driver final : public io_driver {
 public:
  // `interrupting` belongs to the transport: an interrupt still queued when
  // the driver is detached runs later, on stop()'s thread.
  asio_driver(asio::io_context& ctx, std::atomic<bool>& interrupting, const void* owner)
      : ctx_(ctx), interrupting_(interrupting), owner_(owner) {}

  outcome run_until(steady::time_point deadline) noexcept override {
    return run([&] { return ctx_.run_one_until(deadline); });
  }
  // Bounded: with data streaming in, each read completes at once when it is
  // rearmed, and an unbounded poll() would never return to the actors.
  outcome poll() noexcept override {
    return run([&] {
      std::size_t n = 0;
      while (n < max_poll_handlers && ctx_.poll_one() != 0) ++n;
      return n;
    });
  }
  void interrupt() noexcept override {
    if (interrupting_.exchange(true, std::memory_order_acq_rel)) return;
    try {
      asio::post(ctx_, [flag = &interrupting_] { flag->store(false, std::memory_order_release); });
    } catch (...) {
      interrupting_.store(false, std::memory_order_release);
    }
  }

 private:
  template <class F>
  outcome run(F&& f) noexcept {
    if (ctx_.stopped()) return outcome::finished;
    const void* outer = std::exchange(current_transport, owner_);
    std::size_t n = 0;
    try {
      n = f();
    } catch (...) {
      std::terminate();  // handlers do not throw (see the class comment)
    }
    current_transport = outer;
    if (n != 0) return outcome::ran;
    return ctx_.stopped() ? outcome::finished : outcome::idle;
  }

  asio::io_context& ctx_;
  std::atomic<bool>& interrupting_;
  const void* owner_;
};

}  // namespace

void tcp_transport::impl::start_threads() {
  if (config_.io_executor != nullptr) {
    attachment_ =
        config_.io_executor->attach_io(std::make_shared<asio_driver>(ctx_, interrupting_, this));
    if (attachment_) return;
  }
  threads_.reserve(config_.io_threads);
  for (std::size_t i = 0; i < config_.io_threads; ++i) {
    threads_.emplace_back([this] {
      current_transport = this;
      ctx_.run();
      current_transport = nullptr;
    });
  }
}

result<std::string> tcp_transport::impl::listen(std::string_view address, accept_fn on_accept) {
  if (!on_accept) return invalid("listen: no accept callback");
  auto hp = parse_address(address);
  if (!hp) return hp.error();
  const std::string where = "listen " + std::string(address) + ": ";
  error_code ec;
  tcp::resolver resolver(ctx_);
  const auto results = resolver.resolve(hp->host, hp->port, tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    return invalid(where + (ec ? ec.message() : std::string("no address")));
  const tcp::endpoint ep = results.begin()->endpoint();
  strand_type strand = asio::make_strand(ctx_);
  tcp::acceptor acceptor(strand);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return invalid(where + ec.message());
  const tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return invalid(where + ec.message());
  auto l = std::make_shared<listener>(shared_from_this(), strand, std::move(acceptor),
                                      std::move(on_accept));
  if (!enroll(l, l->id_)) return stopped();
  if (!post(strand, [l] { l->accept_next(); })) return stopped();
  return format(bound);
}

void tcp_transport::impl::dial(std::string_view address, dial_fn done) {
  if (!done) return;
  auto hp = parse_address(address);
  if (!hp) {
    const error why = hp.error();
    if (!post(ctx_.get_executor(), [done, why] { done(why); })) done(why);
    return;
  }
  auto op =
      std::make_shared<dial_op>(shared_from_this(), std::string(address), std::move(*hp), done);
  if (!enroll(op, op->id_)) {
    done(stopped());
    return;
  }
  // Refused only once stop() has ended the dial (and called `done`).
  post(op->strand(), [op] { op->begin(); });
}

void tcp_transport::impl::stop() noexcept {
  std::vector<std::shared_ptr<abortable>> victims;
  {
    std::lock_guard lk(m_);
    if (!stopping_) {
      stopping_ = true;
      for (auto& [id, w] : live_)
        if (auto a = w.lock()) victims.push_back(std::move(a));
    }
  }
  const error why = stopped();
  for (const auto& a : victims) a->abort(why);
  victims.clear();
  {
    std::lock_guard lk(work_m_);
    work_.reset();
  }
  if (current_transport == this) return;  // cannot wait for itself
  std::lock_guard lk(join_m_);
  attachment_.reset();  // no executor thread is inside the io_context after this
  for (auto& th : threads_) th.join();
  threads_.clear();
  ctx_.run();  // what detaching left (threads ran it to the end themselves)
  {
    std::lock_guard g(gate_m_);
    gate_open_ = false;
  }
  ctx_.restart();
  ctx_.poll();
}

result<std::unique_ptr<tcp_transport>> tcp_transport::make(tcp_transport_config config) {
  if (config.io_threads == 0) return invalid("io_threads must be at least 1");
  if (config.read_buffer_size == 0) return invalid("read_buffer_size must not be 0");
  if (config.max_write_bytes == 0) return invalid("max_write_bytes must not be 0");
  if (config.dial_timeout <= duration::zero() || config.handshake_timeout <= duration::zero() ||
      config.close_timeout <= duration::zero())
    return invalid("timeouts must be positive");
  std::shared_ptr<impl> i;
  try {
    const std::optional<tls_config> tls = config.tls;
    i = std::make_shared<impl>(std::move(config));
    if (tls) {
      if (auto r = i->init_tls(*tls); !r) return r.error();
    }
  } catch (const std::exception& e) {
    return invalid(std::string("cannot set up the transport: ") + e.what());
  }
  try {
    i->start_threads();
  } catch (const std::exception& e) {
    i->stop();
    return error(errc::start_failed, std::string("cannot start I/O threads: ") + e.what());
  }
  return std::unique_ptr<tcp_transport>(new tcp_transport(std::move(i)));
}

tcp_transport::tcp_transport(std::shared_ptr<impl> impl) : impl_(std::move(impl)) {}

tcp_transport::~tcp_transport() {
  if (current_transport == impl_.get()) std::terminate();  // destroyed by its own callback
  impl_->stop();
}

result<std::string> tcp_transport::listen(std::string_view address, accept_fn on_accept) {
  return impl_->listen(address, std::move(on_accept));
}

void tcp_transport::dial(std::string_view address, dial_fn done) {
  impl_->dial(address, std::move(done));
}

void tcp_transport::stop() noexcept { impl_->stop(); }

std::uint64_t tcp_transport::refused_handshakes() const noexcept {
  return impl_->refused_.load(std::memory_order_relaxed);
}

}  // namespace troupe::net
