#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "troupe/core/thread_pool.hpp"
#include "troupe/net/tcp_transport.hpp"
#include "troupe/net/testing/link_recorder.hpp"

// tcp_transport's UDP sockets (transport::bind()): addresses, round trips
// over loopback, typed errors, many senders, close() and stop(), a callback
// that closes its socket or stops the transport, IPv6, truncated datagrams,
// and the I/O driven by a thread_pool.

namespace troupe::net {
namespace {

using namespace std::chrono_literals;
using namespace troupe::net::testing;

/// Records what a datagram socket receives and checks that its callback
/// never runs twice at once.
class inbox {
 public:
  struct item {
    std::string from;
    std::string data;
    std::thread::id thread;
  };

  /// Runs inside every call, before it is recorded (set it before bind()).
  std::function<void(std::string_view from, std::string_view data)> hook;

  void on_datagram(std::string_view from, std::span<const std::byte> data) {
    if (busy_.exchange(true)) overlaps_.fetch_add(1);
    const std::string s(reinterpret_cast<const char*>(data.data()), data.size());
    if (hook) hook(from, s);
    {
      std::lock_guard lk(m_);
      items_.push_back({std::string(from), s, std::this_thread::get_id()});
    }
    busy_.store(false);
    cv_.notify_all();
  }

  /// Waits until `n` datagrams have arrived; false after `patience`.
  bool wait_count(std::size_t n) {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, patience, [&] { return items_.size() >= n; });
  }
  std::size_t count() {
    std::lock_guard lk(m_);
    return items_.size();
  }
  std::vector<item> items() {
    std::lock_guard lk(m_);
    return items_;
  }
  std::vector<std::string> payloads() {
    std::vector<std::string> v;
    for (const item& i : items()) v.push_back(i.data);
    return v;
  }
  [[nodiscard]] int overlaps() const { return overlaps_.load(); }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<item> items_;
  std::atomic<bool> busy_{false};
  std::atomic<int> overlaps_{0};
};

/// Returns a callback that records into `in` (and holds it: use_count()
/// tells whether the socket still holds its callback).
datagram_fn record(const std::shared_ptr<inbox>& in) {
  return
      [in](std::string_view from, std::span<const std::byte> data) { in->on_datagram(from, data); };
}

datagram_fn ignore() {
  return [](std::string_view, std::span<const std::byte>) {};
}

using socket_ptr = std::shared_ptr<datagram_socket>;

socket_ptr bind_ok(transport& t, std::string_view address, datagram_fn fn) {
  auto s = t.bind(address, std::move(fn));
  EXPECT_TRUE(s) << address << ": " << s.error().message();
  return s ? *s : nullptr;
}

void send(datagram_socket& s, std::string_view to, std::string_view data) {
  const result<void> r = s.send_to(to, as_bytes(data));
  EXPECT_TRUE(r) << "to " << to << ": " << r.error().message();
}

std::uint16_t port_of(const std::string& address) {
  return static_cast<std::uint16_t>(std::stoul(address.substr(address.rfind(':') + 1)));
}

tcp_transport_config on(executor& pool) {
  tcp_transport_config c;
  c.io_executor = &pool;
  return c;
}

TEST(TcpTransportDatagram, RoundTripOnLoopbackCarriesTheSenderAddress) {
  auto at_a = std::make_shared<inbox>();
  auto at_b = std::make_shared<inbox>();
  auto t = make_transport();
  auto a = bind_ok(*t, "127.0.0.1:0", record(at_a));
  auto b = bind_ok(*t, "127.0.0.1:0", record(at_b));
  ASSERT_TRUE(a && b);
  send(*a, b->local_address(), "hello");
  send(*a, b->local_address(), "");
  ASSERT_TRUE(at_b->wait_count(2));
  auto got = at_b->items();
  EXPECT_EQ(got[0].from, a->local_address()) << "from is the sender's bound address";
  EXPECT_EQ(got[0].data, "hello");
  EXPECT_EQ(got[1].data, "") << "an empty datagram is a datagram";
  EXPECT_NE(got[0].thread, std::this_thread::get_id()) << "on the transport's threads";

  send(*b, got[0].from, "back");
  ASSERT_TRUE(at_a->wait_count(1));
  EXPECT_EQ(at_a->items()[0].from, b->local_address());
  EXPECT_EQ(at_a->items()[0].data, "back");

  const std::string biggest(max_datagram_size, 'z');
  send(*a, b->local_address(), biggest);
  ASSERT_TRUE(at_b->wait_count(3));
  EXPECT_EQ(at_b->items()[2].data.size(), max_datagram_size) << "max_datagram_size passes whole";
  EXPECT_EQ(t->dropped_datagrams(), 0u);
  EXPECT_EQ(at_a->overlaps() + at_b->overlaps(), 0);
}

TEST(TcpTransportDatagram, PortZeroPicksAFreePortAndTheAddressIsNumeric) {
  auto t = make_transport();
  auto a = bind_ok(*t, "127.0.0.1:0", ignore());
  auto b = bind_ok(*t, "127.0.0.1:0", ignore());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->local_address().starts_with("127.0.0.1:")) << a->local_address();
  EXPECT_NE(port_of(a->local_address()), 0u);
  EXPECT_NE(a->local_address(), b->local_address());
  auto named = bind_ok(*t, "localhost:0", ignore());
  ASSERT_TRUE(named);
  EXPECT_EQ(named->local_address().find("localhost"), std::string::npos)
      << "a name is resolved once, by bind(): " << named->local_address();
  EXPECT_NE(port_of(named->local_address()), 0u);
}

TEST(TcpTransportDatagram, APortInUseIsAnInvalidArgument) {
  auto t = make_transport();
  auto other = make_transport();
  auto a = bind_ok(*t, "127.0.0.1:0", ignore());
  ASSERT_TRUE(a);
  for (transport* x : {static_cast<transport*>(t.get()), static_cast<transport*>(other.get())}) {
    auto again = x->bind(a->local_address(), ignore());
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error(), errc::invalid_argument) << again.error().message();
    EXPECT_FALSE(again.error().detail().empty());
  }
}

TEST(TcpTransportDatagram, BadAddressesAndOversizeDatagramsAreInvalidArguments) {
  auto in = std::make_shared<inbox>();
  auto t = make_transport();
  for (const char* a :
       {"", "nonsense", "127.0.0.1", "127.0.0.1:", ":7000", "127.0.0.1:99999", "127.0.0.1:7x",
        "127.0.0.1:-1", "::1:7000", "[::1]7000", "[::1", "[]:7000", "192.0.2.1:0"}) {
    auto r = t->bind(a, record(in));
    ASSERT_FALSE(r) << a;
    EXPECT_EQ(r.error(), errc::invalid_argument) << a << ": " << r.error().message();
    EXPECT_FALSE(r.error().detail().empty());
  }
  auto none = t->bind("127.0.0.1:0", nullptr);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), errc::invalid_argument) << "no callback";

  auto a = bind_ok(*t, "127.0.0.1:0", ignore());
  auto b = bind_ok(*t, "127.0.0.1:0", record(in));
  ASSERT_TRUE(a && b);
  const std::string port = std::to_string(port_of(b->local_address()));
  for (const std::string& to :
       {std::string(""), std::string("nonsense"), std::string("127.0.0.1"),
        std::string("127.0.0.1:"), std::string("127.0.0.1:99999"), std::string("::1:") + port,
        "localhost:" + port, "no.such.host.invalid:" + port, "[::1]:" + port}) {
    auto r = a->send_to(to, as_bytes("x"));
    ASSERT_FALSE(r) << to;
    EXPECT_EQ(r.error(), errc::invalid_argument) << to << ": " << r.error().message();
  }
  const std::string too_big(max_datagram_size + 1, 'z');
  auto r = a->send_to(b->local_address(), as_bytes(too_big));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_argument) << "larger than max_datagram_size";

  send(*a, b->local_address(), "fine");
  ASSERT_TRUE(in->wait_count(1));
  EXPECT_EQ(in->payloads(), std::vector<std::string>{"fine"}) << "the refused ones were not sent";
  EXPECT_EQ(t->dropped_datagrams(), 0u) << "refusals are not drops";
}

TEST(TcpTransportDatagram, ManyThreadsSendThroughOneSocket) {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  constexpr int total = threads * per_thread;
  constexpr int window = 64;  // in flight at most: loopback drops what overflows the receiver
  auto in = std::make_shared<inbox>();
  auto t = make_transport(with_threads(2));
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  auto tx = bind_ok(*t, "127.0.0.1:0", ignore());
  ASSERT_TRUE(rx && tx);
  const std::string to = rx->local_address();
  std::atomic<int> sent{0};
  std::atomic<int> failed{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> senders;
  for (int k = 0; k < threads; ++k) {
    senders.emplace_back([&, k] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();
      for (int i = 0; i < per_thread; ++i) {
        const auto until = std::chrono::steady_clock::now() + 1s;
        while (sent.load() - static_cast<int>(in->count()) >= window &&
               std::chrono::steady_clock::now() < until)
          std::this_thread::yield();
        const std::string d = std::to_string(k) + "/" + std::to_string(i);
        if (tx->send_to(to, as_bytes(d)))
          sent.fetch_add(1);
        else
          failed.fetch_add(1);
      }
    });
  }
  for (auto& th : senders) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(sent.load(), total);
  // Loopback may still drop under pressure: wait for all, accept 99%.
  in->wait_count(total);
  const std::vector<inbox::item> got = in->items();
  EXPECT_GE(got.size(), std::size_t{total} * 99 / 100) << "dropped: " << t->dropped_datagrams();
  std::set<std::string> seen;
  for (const inbox::item& i : got) {
    EXPECT_EQ(i.from, tx->local_address());
    const auto slash = i.data.find('/');
    ASSERT_NE(slash, std::string::npos) << i.data;
    EXPECT_LT(std::stoi(i.data.substr(0, slash)), threads);
    EXPECT_LT(std::stoi(i.data.substr(slash + 1)), per_thread);
    EXPECT_TRUE(seen.insert(i.data).second) << "twice: " << i.data;
  }
  EXPECT_EQ(in->overlaps(), 0) << "the callback never ran twice at once";
}

TEST(TcpTransportDatagram, CloseStopsCallbacksAndFreesThePortAtOnce) {
  auto in = std::make_shared<inbox>();
  auto later = std::make_shared<inbox>();
  auto t = make_transport(with_threads(2));
  auto tx = bind_ok(*t, "127.0.0.1:0", ignore());
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  ASSERT_TRUE(tx && rx);
  const std::string address = rx->local_address();
  send(*tx, address, "before");
  ASSERT_TRUE(in->wait_count(1));

  rx->close();
  rx->close();
  EXPECT_EQ(rx->local_address(), address);
  auto r = rx->send_to(tx->local_address(), as_bytes("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::shutting_down);
  auto rx2 = bind_ok(*t, address, record(later));
  ASSERT_TRUE(rx2) << "close() freed the port before it returned";
  send(*tx, address, "after");
  ASSERT_TRUE(later->wait_count(1));
  EXPECT_EQ(in->payloads(), std::vector<std::string>{"before"}) << "no callback after close()";
  EXPECT_TRUE(eventually([&] { return in.use_count() == 1; })) << "the callback was released";

  rx2.reset();
  auto rx3 = t->bind(address, ignore());
  EXPECT_TRUE(rx3) << "destroying the socket closed it";
  EXPECT_TRUE(eventually([&] { return later.use_count() == 1; }));
}

TEST(TcpTransportDatagram, CloseNeedsNoneOfTheTransportsThreads) {
  auto in = std::make_shared<inbox>();
  auto held = std::make_shared<inbox>();
  std::atomic<bool> entered{false};
  std::atomic<bool> released{false};
  held->hook = [&](std::string_view, std::string_view) {
    entered.store(true);
    EXPECT_TRUE(eventually([&] { return released.load(); }));
  };
  auto t = make_transport(with_threads(1));
  auto tx = bind_ok(*t, "127.0.0.1:0", ignore());
  auto blocker = bind_ok(*t, "127.0.0.1:0", record(held));
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  ASSERT_TRUE(tx && blocker && rx);
  const std::string address = rx->local_address();
  send(*tx, blocker->local_address(), "hold the only thread");
  EXPECT_TRUE(eventually([&] { return entered.load(); }));
  rx->close();  // the transport's only thread is inside the callback
  auto again = t->bind(address, record(in));
  EXPECT_TRUE(again) << "closed and freed without the transport's threads";
  released.store(true);
  ASSERT_TRUE(held->wait_count(1));
  send(*tx, address, "to the new socket");
  EXPECT_TRUE(in->wait_count(1));
}

TEST(TcpTransportDatagram, CloseWhileOtherThreadsSendEndsEverySenderCleanly) {
  constexpr int threads = 3;
  constexpr int max_sends = 5'000'000;  // per thread; close() comes long before
  auto in = std::make_shared<inbox>();
  auto t = make_transport(with_threads(2));
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  auto tx = bind_ok(*t, "127.0.0.1:0", ignore());
  ASSERT_TRUE(rx && tx);
  const std::string to = rx->local_address();
  std::atomic<int> ok{0};
  std::atomic<int> other{0};
  std::atomic<int> ended{0};
  std::vector<std::thread> senders;
  for (int k = 0; k < threads; ++k) {
    senders.emplace_back([&] {
      const auto until = std::chrono::steady_clock::now() + patience;
      for (int i = 0; i < max_sends && std::chrono::steady_clock::now() < until; ++i) {
        const result<void> r = tx->send_to(to, as_bytes("flood"));
        if (r) {
          ok.fetch_add(1);
        } else {
          if (r.error() == errc::shutting_down)
            ended.fetch_add(1);
          else
            other.fetch_add(1);
          return;
        }
      }
    });
  }
  EXPECT_TRUE(eventually([&] { return ok.load() >= 1000; }));
  tx->close();  // waits for the sends inside the descriptor, never for the others
  for (auto& th : senders) th.join();
  EXPECT_EQ(ended.load(), threads) << "every sender saw shutting_down once closed";
  EXPECT_EQ(other.load(), 0);
  auto again = t->bind(tx->local_address(), ignore());
  EXPECT_TRUE(again) << "the port is free";
}

TEST(TcpTransportDatagram, StopClosesSocketsAndLaterCallsAreShuttingDown) {
  auto in = std::make_shared<inbox>();
  auto t = make_transport(with_threads(2));
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  ASSERT_TRUE(rx);
  const std::string address = rx->local_address();
  t->stop();
  EXPECT_EQ(in.use_count(), 1) << "no callback is held (or runs) after stop()";
  auto r = rx->send_to(address, as_bytes("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::shutting_down);
  EXPECT_EQ(r.error().detail(), "transport stopped");
  auto again = t->bind("127.0.0.1:0", ignore());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::shutting_down);
  rx->close();  // harmless

  auto other = make_transport();
  auto reuse = other->bind(address, ignore());
  EXPECT_TRUE(reuse) << "stop() freed the port";
  t.reset();
  rx.reset();  // outlives its transport harmlessly
}

TEST(TcpTransportDatagram, ACallbackMayCloseItsOwnSocket) {
  auto in = std::make_shared<inbox>();
  auto later = std::make_shared<inbox>();
  std::mutex m;
  std::weak_ptr<datagram_socket> self;  // guarded by m
  auto t = make_transport(with_threads(2));
  in->hook = [&](std::string_view, std::string_view) {
    std::lock_guard lk(m);
    if (auto s = self.lock()) s->close();
  };
  auto tx = bind_ok(*t, "127.0.0.1:0", ignore());
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  ASSERT_TRUE(tx && rx);
  {
    std::lock_guard lk(m);
    self = rx;
  }
  const std::string address = rx->local_address();
  for (const char* d : {"1", "2", "3"}) send(*tx, address, d);
  ASSERT_TRUE(in->wait_count(1));
  auto rx2 = bind_ok(*t, address, record(later));
  ASSERT_TRUE(rx2) << "the close from inside freed the port";
  send(*tx, address, "4");
  ASSERT_TRUE(later->wait_count(1));
  EXPECT_EQ(later->payloads(), std::vector<std::string>{"4"});
  EXPECT_EQ(in->payloads(), std::vector<std::string>{"1"}) << "nothing after the close";
  EXPECT_EQ(rx->send_to(address, as_bytes("x")).error(), errc::shutting_down);
  EXPECT_TRUE(eventually([&] { return in.use_count() == 1; }));
}

TEST(TcpTransportDatagram, ACallbackMayStopTheTransport) {
  auto in = std::make_shared<inbox>();
  std::atomic<bool> returned{false};
  auto t = make_transport(with_threads(2));
  in->hook = [raw = t.get(), &returned](std::string_view, std::string_view) {
    raw->stop();  // starts stopping, does not wait for itself
    returned.store(true);
  };
  auto tx = bind_ok(*t, "127.0.0.1:0", ignore());
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  ASSERT_TRUE(tx && rx);
  send(*tx, rx->local_address(), "stop");
  ASSERT_TRUE(in->wait_count(1));
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(tx->send_to(rx->local_address(), as_bytes("x")).error(), errc::shutting_down);
  t.reset();  // from outside: joins the threads
  EXPECT_EQ(in.use_count(), 1);
  EXPECT_EQ(in->count(), 1u);
}

TEST(TcpTransportDatagram, TruncatedDatagramsAreDroppedAndCounted) {
  auto in = std::make_shared<inbox>();
  auto t = make_transport();
  auto rx = bind_ok(*t, "127.0.0.1:0", record(in));
  ASSERT_TRUE(rx);
  // A peer that is not troupe may send more than max_datagram_size.
  boost::asio::io_context io;
  boost::asio::ip::udp::socket raw(io, boost::asio::ip::udp::v4());
  const boost::asio::ip::udp::endpoint to(boost::asio::ip::make_address("127.0.0.1"),
                                          port_of(rx->local_address()));
  const std::vector<char> too_big(max_datagram_size + 1, 'z');
  raw.send_to(boost::asio::buffer(too_big), to);
  raw.send_to(boost::asio::buffer(std::string_view("small")), to);
  ASSERT_TRUE(in->wait_count(1));
  EXPECT_TRUE(eventually([&] { return t->dropped_datagrams() == 1; }));
  EXPECT_EQ(in->payloads(), std::vector<std::string>{"small"});
}

TEST(TcpTransportDatagram, WorksOverIpv6AndReachesIpv4FromADualStackSocket) {
  auto at_a = std::make_shared<inbox>();
  auto at_b = std::make_shared<inbox>();
  auto t = make_transport();
  auto a = t->bind("[::1]:0", record(at_a));
  if (!a) GTEST_SKIP() << "no IPv6 loopback: " << a.error().message();
  ASSERT_TRUE((*a)->local_address().starts_with("[::1]:")) << (*a)->local_address();
  auto b = bind_ok(*t, "[::1]:0", record(at_b));
  ASSERT_TRUE(b);
  send(**a, b->local_address(), "v6");
  ASSERT_TRUE(at_b->wait_count(1));
  EXPECT_EQ(at_b->items()[0].from, (*a)->local_address());
  auto r = (*a)->send_to("[::1]:" + std::to_string(port_of(b->local_address())), as_bytes("x"));
  EXPECT_TRUE(r);

  std::ifstream only("/proc/sys/net/ipv6/bindv6only");
  int v6only = 1;
  if (!(only >> v6only) || v6only != 0) GTEST_SKIP() << "IPv6 sockets are not dual-stack here";
  auto at_any = std::make_shared<inbox>();
  auto at_v4 = std::make_shared<inbox>();
  auto any = bind_ok(*t, "[::]:0", record(at_any));
  auto v4 = bind_ok(*t, "127.0.0.1:0", record(at_v4));
  ASSERT_TRUE(any && v4);
  const std::string any_port = std::to_string(port_of(any->local_address()));
  send(*v4, "127.0.0.1:" + any_port, "mapped");
  ASSERT_TRUE(at_any->wait_count(1));
  EXPECT_EQ(at_any->items()[0].from, v4->local_address()) << "a mapped sender reads as IPv4";
  send(*any, at_any->items()[0].from, "reply");
  ASSERT_TRUE(at_v4->wait_count(1));
  EXPECT_EQ(at_v4->items()[0].from, "127.0.0.1:" + any_port);
  auto cross = v4->send_to(b->local_address(), as_bytes("x"));
  ASSERT_FALSE(cross);
  EXPECT_EQ(cross.error(), errc::invalid_argument) << "an IPv4 socket cannot reach [::1]";
}

TEST(TcpTransportDatagram, DrivenByAThreadPoolCallbacksRunOnItsWorkers) {
  thread_pool pool(thread_pool_options{.workers = 2});
  auto at_rx = std::make_shared<inbox>();
  auto at_tx = std::make_shared<inbox>();
  std::atomic<int> inside{0};
  std::atomic<int> outside{0};
  const auto where = [&] { (pool.in_executor() ? inside : outside).fetch_add(1); };
  std::mutex m;
  std::weak_ptr<datagram_socket> echo;  // guarded by m
  at_rx->hook = [&](std::string_view from, std::string_view data) {
    where();
    std::lock_guard lk(m);
    if (auto s = echo.lock()) {
      EXPECT_TRUE(s->send_to(from, as_bytes(data)));
    }
  };
  at_tx->hook = [&](std::string_view, std::string_view) { where(); };
  auto t = make_transport(on(pool));
  auto rx = bind_ok(*t, "127.0.0.1:0", record(at_rx));
  auto tx = bind_ok(*t, "127.0.0.1:0", record(at_tx));
  ASSERT_TRUE(rx && tx);
  {
    std::lock_guard lk(m);
    echo = rx;
  }
  // Echo at least 20 datagrams, and more until a callback has run on a
  // worker: on an idle machine every one does, but the pool's keeper thread
  // polls the I/O when every worker has been away from it for 2 ms, which
  // a loaded machine causes (the keeper then runs most callbacks for a
  // while).
  int n = 0;
  const auto until = std::chrono::steady_clock::now() + patience;
  while ((n < 20 || inside.load() == 0) && std::chrono::steady_clock::now() < until) {
    send(*tx, rx->local_address(), std::to_string(n));
    ++n;
    ASSERT_TRUE(at_tx->wait_count(static_cast<std::size_t>(n))) << "echo " << n;
  }
  EXPECT_EQ(at_tx->items()[0].from, rx->local_address());
  EXPECT_GT(inside.load(), 0) << "the callbacks ran on the pool's workers";
  EXPECT_EQ(inside.load() + outside.load(), 2 * n);
  EXPECT_EQ(at_rx->overlaps() + at_tx->overlaps(), 0);

  t->stop();
  EXPECT_EQ(tx->send_to(rx->local_address(), as_bytes("x")).error(), errc::shutting_down);
  EXPECT_EQ(at_rx.use_count(), 1) << "stop() released the callbacks";
  EXPECT_EQ(at_tx.use_count(), 1);
  EXPECT_EQ(pool.stop(5s), 0u);
}

}  // namespace
}  // namespace troupe::net
