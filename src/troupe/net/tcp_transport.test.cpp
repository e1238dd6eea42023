#include "troupe/net/tcp_transport.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "troupe/net/testing/test_certs.hpp"

namespace troupe::net {
namespace {

using namespace std::chrono_literals;
using link_ptr = std::shared_ptr<link>;
using bytes = std::vector<std::byte>;

// Bounds every wait.
constexpr auto patience = 10s;

std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Spins, yielding, until `pred` holds (for counters that nothing signals);
// false after `patience`.
template <class Pred>
bool eventually(Pred pred) {
  const auto until = std::chrono::steady_clock::now() + patience;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
  }
  return true;
}

// Records what a link does, sends what it is given, and checks the
// link_handler contract: on_bytes() never overlaps itself, pull() and
// written() never overlap each other, on_closed() runs once while nothing
// else runs, and nothing follows it.
class recorder final : public link_handler {
 public:
  explicit recorder(bool echo = false) : echo_(echo) {}

  // Starts `l` with this recorder.
  void start(const link_ptr& l) {
    {
      std::lock_guard lk(m_);
      link_ = l;
    }
    l->start(std::shared_ptr<recorder>(self_.lock()));
  }
  static std::shared_ptr<recorder> make(bool echo = false) {
    auto r = std::make_shared<recorder>(echo);
    r->self_ = r;
    return r;
  }

  // Queues `data` and wakes the link.
  void send(std::span<const std::byte> data) {
    std::shared_ptr<link> l;
    {
      std::lock_guard lk(m_);
      pending_.insert(pending_.end(), data.begin(), data.end());
      l = link_.lock();
    }
    if (l) l->wake();
  }

  void on_bytes(std::span<const std::byte> data) override {
    enter(reading_);
    std::shared_ptr<link> l;
    {
      std::lock_guard lk(m_);
      received_.insert(received_.end(), data.begin(), data.end());
      if (echo_) {
        pending_.insert(pending_.end(), data.begin(), data.end());
        l = link_.lock();
      }
    }
    cv_.notify_all();
    if (l) l->wake();
    leave(reading_);
  }

  std::size_t pull(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes) override {
    enter(writing_);
    {
      std::unique_lock g(gate_m_);
      if (hold_) {
        held_ = true;
        gate_cv_.notify_all();
        gate_cv_.wait_for(g, patience, [&] { return !hold_; });
      }
    }
    std::size_t n = 0;
    {
      std::lock_guard lk(m_);
      if (off_ == inflight_.size()) {
        inflight_.clear();
        off_ = 0;
        std::swap(inflight_, pending_);
      }
      n = std::min(max_bytes, inflight_.size() - off_);
      out.clear();
      if (n != 0) pull_threads_.push_back(std::this_thread::get_id());
      if (n != 0) {
        out.emplace_back(inflight_.data() + off_, n);
        ++nonempty_pulls_;
      }
    }
    leave(writing_);
    return n;
  }

  void written(std::size_t n) override {
    enter(writing_);
    {
      std::lock_guard lk(m_);
      off_ += n;
      written_ += n;
    }
    cv_.notify_all();
    leave(writing_);
  }

  void on_closed(const error& why) override {
    if (reading_.load() || writing_.load() || closed_flag_.load()) ++violations_;
    closed_flag_ = true;
    {
      std::lock_guard lk(m_);
      ++closed_;
      why_ = why;
    }
    cv_.notify_all();
  }

  // Makes the next pull() wait until release_pull() (at most `patience`).
  void hold_next_pull() {
    std::lock_guard g(gate_m_);
    hold_ = true;
  }
  // Waits until a pull() is held.
  bool wait_held() {
    std::unique_lock g(gate_m_);
    return gate_cv_.wait_for(g, patience, [&] { return held_; });
  }
  void release_pull() {
    {
      std::lock_guard g(gate_m_);
      hold_ = false;
    }
    gate_cv_.notify_all();
  }

  bool wait_received(std::size_t n) {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, patience, [&] { return received_.size() >= n; });
  }
  bool wait_closed() {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, patience, [&] { return closed_ > 0; });
  }
  bytes received() {
    std::lock_guard lk(m_);
    return received_;
  }
  std::string received_string() {
    const bytes b = received();
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  int closed() {
    std::lock_guard lk(m_);
    return closed_;
  }
  error why() {
    std::lock_guard lk(m_);
    return why_;
  }
  std::size_t nonempty_pulls() {
    std::lock_guard lk(m_);
    return nonempty_pulls_;
  }
  // The thread of each pull() that returned bytes, in order.
  std::vector<std::thread::id> pull_threads() {
    std::lock_guard lk(m_);
    return pull_threads_;
  }
  [[nodiscard]] bool is_closed() const { return closed_flag_.load(); }
  [[nodiscard]] int violations() const { return violations_.load(); }

 private:
  void enter(std::atomic<bool>& busy) {
    if (closed_flag_.load() || busy.exchange(true)) ++violations_;
  }
  static void leave(std::atomic<bool>& busy) { busy.store(false); }

  const bool echo_;
  std::weak_ptr<recorder> self_;
  std::mutex m_;
  std::condition_variable cv_;
  std::weak_ptr<link> link_;
  bytes received_;
  bytes pending_;   // queued by send()
  bytes inflight_;  // handed out by pull(), stable until written
  std::size_t off_ = 0;
  std::size_t written_ = 0;
  std::size_t nonempty_pulls_ = 0;
  std::vector<std::thread::id> pull_threads_;
  int closed_ = 0;
  error why_;
  std::mutex gate_m_;
  std::condition_variable gate_cv_;
  bool hold_ = false;
  bool held_ = false;
  std::atomic<bool> reading_{false};
  std::atomic<bool> writing_{false};
  std::atomic<bool> closed_flag_{false};
  std::atomic<int> violations_{0};
};

// Sends all of `out` (pulled from the buffer itself) and checks that what
// arrives is `in`.
class streamer final : public link_handler {
 public:
  streamer(std::shared_ptr<const bytes> out, std::shared_ptr<const bytes> in)
      : out_(std::move(out)), pattern_(std::move(in)) {}

  std::size_t pull(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes) override {
    const std::size_t n = std::min(max_bytes, out_->size() - sent_);
    out.clear();
    if (n != 0) out.emplace_back(out_->data() + sent_, n);
    return n;
  }
  void written(std::size_t n) override { sent_ += n; }
  void on_bytes(std::span<const std::byte> data) override {
    std::lock_guard lk(m_);
    const std::size_t room = pattern_->size() - std::min(pattern_->size(), received_);
    if (data.size() > room ||
        !std::equal(data.begin(), data.end(),
                    pattern_->begin() + static_cast<std::ptrdiff_t>(received_)))
      ++mismatches_;
    received_ += data.size();
    cv_.notify_all();
  }
  void on_closed(const error&) override {
    std::lock_guard lk(m_);
    closed_ = true;
    cv_.notify_all();
  }

  bool wait_received(std::size_t n) {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, patience, [&] { return received_ >= n; });
  }
  int mismatches() {
    std::lock_guard lk(m_);
    return mismatches_;
  }

 private:
  const std::shared_ptr<const bytes> out_;
  const std::shared_ptr<const bytes> pattern_;
  std::size_t sent_ = 0;  // the writer's
  std::mutex m_;
  std::condition_variable cv_;
  std::size_t received_ = 0;
  int mismatches_ = 0;
  bool closed_ = false;
};

std::shared_ptr<const bytes> make_pattern(std::size_t n, std::uint32_t seed) {
  auto p = std::make_shared<bytes>(n);
  std::uint32_t x = seed;
  for (auto& b : *p) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  return p;
}

// Collects accepted links.
class accept_box {
 public:
  transport::accept_fn fn() {
    return [this](link_ptr l) {
      {
        std::lock_guard lk(m_);
        links_.push_back(std::move(l));
      }
      cv_.notify_all();
    };
  }
  // Returns the next accepted link; null after `patience`.
  link_ptr next() {
    std::unique_lock lk(m_);
    if (!cv_.wait_for(lk, patience, [&] { return links_.size() > taken_; })) return nullptr;
    return links_[taken_++];
  }
  std::size_t count() {
    std::lock_guard lk(m_);
    return links_.size();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<link_ptr> links_;
  std::size_t taken_ = 0;
};

result<link_ptr> dial(transport& t, std::string_view address) {
  auto p = std::make_shared<std::promise<result<link_ptr>>>();
  auto f = p->get_future();
  t.dial(address, [p](result<link_ptr> r) { p->set_value(std::move(r)); });
  if (f.wait_for(patience) != std::future_status::ready)
    return error(errc::timeout, "the dial never answered");
  return f.get();
}

std::unique_ptr<tcp_transport> make_transport(tcp_transport_config config = {}) {
  auto t = tcp_transport::make(std::move(config));
  EXPECT_TRUE(t) << t.error().message();
  return std::move(t).value();
}

tcp_transport_config with_threads(std::size_t n) {
  tcp_transport_config c;
  c.io_threads = n;
  return c;
}

struct link_pair {
  link_ptr client;
  link_ptr server;
};

// Dials `address` (served by `box`) from `client`.
link_pair connect(transport& client, const std::string& address, accept_box& box) {
  link_pair p;
  auto c = dial(client, address);
  EXPECT_TRUE(c) << c.error().message();
  if (!c) return p;
  p.client = *c;
  p.server = box.next();
  EXPECT_TRUE(p.server);
  return p;
}

// Two transports joined by one connection over loopback: `c` is the
// client's end of it, `s` the server's.
struct joined {
  accept_box box;
  std::unique_ptr<tcp_transport> server;
  std::unique_ptr<tcp_transport> client;
  result<std::string> address = error(errc::invalid_argument, "not listening");
  link_ptr c;
  link_ptr s;
};

// Makes both transports, listens on the server and dials it from the
// client; null (with the failure reported) when any of it fails.
std::unique_ptr<joined> join(tcp_transport_config server_config = {},
                             tcp_transport_config client_config = {}) {
  auto j = std::make_unique<joined>();
  j->server = make_transport(std::move(server_config));
  j->client = make_transport(std::move(client_config));
  if (!j->server || !j->client) return nullptr;
  j->address = j->server->listen("127.0.0.1:0", j->box.fn());
  EXPECT_TRUE(j->address) << j->address.error().message();
  if (!j->address) return nullptr;
  auto [c, s] = connect(*j->client, *j->address, j->box);
  if (!c || !s) return nullptr;
  j->c = std::move(c);
  j->s = std::move(s);
  return j;
}

// Stops both transports and checks that each end's recorder saw its link
// end exactly once and kept the link_handler contract.
void stop_both(joined& j, recorder& one, recorder& other) {
  j.client->stop();
  j.server->stop();
  for (recorder* r : {&one, &other}) {
    EXPECT_EQ(r->closed(), 1);
    EXPECT_EQ(r->violations(), 0);
  }
}

constexpr int producers = 4;
constexpr std::uint32_t per_producer = 2500;
constexpr std::size_t record_size = 8;
constexpr std::size_t produced_bytes = std::size_t{producers} * per_producer * record_size;

// Sends per_producer records of record_size bytes through `rec` from each of
// `producers` threads, all at once, one wake per record.
void produce(recorder& rec) {
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int t = 0; t < producers; ++t) {
    threads.emplace_back([&rec, &ready, t] {
      ready.fetch_add(1);
      while (ready.load() < producers) std::this_thread::yield();
      for (std::uint32_t i = 0; i < per_producer; ++i) {
        std::array<std::byte, record_size> r{};
        r[0] = static_cast<std::byte>(t);
        std::memcpy(r.data() + 1, &i, sizeof i);
        r[7] = std::byte{0xab};
        rec.send(r);
      }
    });
  }
  for (auto& th : threads) th.join();
}

// Expects every record produce() sent, each thread's in order.
void expect_complete_and_in_order(const bytes& got) {
  ASSERT_EQ(got.size(), produced_bytes);
  std::array<std::uint32_t, producers> next{};
  for (std::size_t off = 0; off < got.size(); off += record_size) {
    const auto t = static_cast<std::size_t>(got[off]);
    ASSERT_LT(t, std::size_t{producers});
    std::uint32_t i = 0;
    std::memcpy(&i, got.data() + off + 1, sizeof i);
    ASSERT_EQ(i, next[t]) << "producer " << t << " out of order";
    ASSERT_EQ(got[off + 7], std::byte{0xab});
    ++next[t];
  }
}

// ---------------------------------------------------------------- plain TCP

TEST(TcpTransport, ListenReturnsTheBoundAddress) {
  accept_box box;
  auto t = make_transport();
  auto a = t->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(a->starts_with("127.0.0.1:"));
  EXPECT_NE(std::stoul(a->substr(10)), 0u);
  auto b = t->listen("localhost:0", box.fn());
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->find("localhost"), std::string::npos) << *b;
}

TEST(TcpTransport, BadAddressesAreInvalidArguments) {
  accept_box box;
  auto t = make_transport();
  for (const char* a :
       {"", "nonsense", "127.0.0.1", "127.0.0.1:", ":7000", "127.0.0.1:99999", "127.0.0.1:7x",
        "127.0.0.1:-1", "::1:7000", "[::1]7000", "[::1", "[]:7000"}) {
    auto r = t->listen(a, box.fn());
    ASSERT_FALSE(r) << a;
    EXPECT_EQ(r.error(), errc::invalid_argument) << a;
    EXPECT_FALSE(r.error().detail().empty());
    auto d = dial(*t, a);
    ASSERT_FALSE(d) << a;
    EXPECT_EQ(d.error(), errc::invalid_argument) << a << ": " << d.error().message();
  }
  // Well formed, but not ours to bind, or taken.
  auto foreign = t->listen("192.0.2.1:0", box.fn());
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error(), errc::invalid_argument);
  auto first = t->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(first);
  auto again = t->listen(*first, box.fn());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::invalid_argument) << again.error().message();
}

TEST(TcpTransport, MakeRejectsBadConfigurations) {
  const auto rejects = [](tcp_transport_config c) {
    auto t = tcp_transport::make(std::move(c));
    return !t && t.error() == errc::invalid_argument && !t.error().detail().empty();
  };
  tcp_transport_config c;
  c.io_threads = 0;
  EXPECT_TRUE(rejects(c));
  c = {};
  c.read_buffer_size = 0;
  EXPECT_TRUE(rejects(c));
  c = {};
  c.max_write_bytes = 0;
  EXPECT_TRUE(rejects(c));
  c = {};
  c.dial_timeout = duration::zero();
  EXPECT_TRUE(rejects(c));
}

TEST(TcpTransport, EchoesOverLoopback) {
  auto j = join(with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  EXPECT_EQ(c->remote_address(), *address);
  EXPECT_TRUE(s->remote_address().starts_with("127.0.0.1:"));
  EXPECT_TRUE(c->channel_binding().empty());
  EXPECT_TRUE(s->channel_binding().empty());

  auto echo = recorder::make(true);
  auto rec = recorder::make();
  echo->start(s);
  rec->start(c);
  rec->send(as_bytes("hello, "));
  rec->send(as_bytes("troupe"));
  ASSERT_TRUE(rec->wait_received(13));
  EXPECT_EQ(rec->received_string(), "hello, troupe");
  EXPECT_EQ(echo->received_string(), "hello, troupe");
  stop_both(*j, *rec, *echo);
}

TEST(TcpTransport, WakesBeforeStartAreKept) {
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  c->wake();  // nothing to pull yet: must not call anything
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->send(as_bytes("early"));  // no link yet: nothing woken
  rec->start(c);
  c->wake();
  ASSERT_TRUE(sink->wait_received(5));
  EXPECT_EQ(sink->received_string(), "early");
}

TEST(TcpTransport, CoalescesWakesThatArriveDuringAWrite) {
  auto j = join(with_threads(2), with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->hold_next_pull();
  rec->start(c);
  std::thread writer([l = c] { l->wake(); });  // becomes the writer, held in pull()
  ASSERT_TRUE(rec->wait_held());
  produce(*rec);  // every wake finds the write under way
  rec->release_pull();
  writer.join();
  ASSERT_TRUE(sink->wait_received(produced_bytes));
  expect_complete_and_in_order(sink->received());
  const std::size_t wakes = std::size_t{producers} * per_producer;
  EXPECT_LT(rec->nonempty_pulls() * 100, wakes) << rec->nonempty_pulls() << " writes";
  EXPECT_EQ(rec->violations(), 0);
  EXPECT_EQ(sink->violations(), 0);
}

// A wake soon after the previous write leaves the write to the transport's
// threads (which gather a burst into few writes); a wake after a quiet spell
// writes at once on the caller's thread. The gap is an hour here, so the
// second message always counts as part of a burst, or zero: never.
TEST(TcpTransport, LeavesBurstsToItsThreadsAndWritesALoneMessageAtOnce) {
  for (const auto gap : {duration(std::chrono::hours(1)), duration::zero()}) {
    SCOPED_TRACE(gap.count());
    tcp_transport_config config;
    config.inline_write_gap = gap;
    auto j = join({}, config);
    ASSERT_TRUE(j);
    auto& [box, server, client, address, c, s] = *j;
    auto sink = recorder::make();
    sink->start(s);
    auto rec = recorder::make();
    rec->start(c);
    sink->send(as_bytes("hi"));  // once it arrives, the client's link is started
    ASSERT_TRUE(rec->wait_received(2));
    rec->send(as_bytes("first"));
    ASSERT_TRUE(sink->wait_received(5));
    rec->send(as_bytes("second"));
    ASSERT_TRUE(sink->wait_received(11));
    EXPECT_EQ(sink->received_string(), "firstsecond");
    const auto threads = rec->pull_threads();
    ASSERT_EQ(threads.size(), 2u);
    EXPECT_EQ(threads[0], std::this_thread::get_id());  // nothing written before: at once
    if (gap == duration::zero()) {
      EXPECT_EQ(threads[1], std::this_thread::get_id());
    } else {
      EXPECT_NE(threads[1], std::this_thread::get_id());
    }
    client->stop();
    server->stop();
    EXPECT_EQ(rec->violations(), 0);
  }
}

TEST(TcpTransport, DeliversWritesFromManyThreadsCompleteAndInOrder) {
  auto j = join(with_threads(2), with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->start(c);
  produce(*rec);
  ASSERT_TRUE(sink->wait_received(produced_bytes));
  expect_complete_and_in_order(sink->received());
  // Writes happen inline when no write is under way, so how many wakes
  // share a write depends on how the producers' threads are scheduled.
  std::cout << "[   info   ] " << producers * per_producer << " wakes, " << rec->nonempty_pulls()
            << " writes\n";
  EXPECT_LE(rec->nonempty_pulls(), std::size_t{producers} * per_producer + 1);
  EXPECT_EQ(rec->violations(), 0);
  EXPECT_EQ(sink->violations(), 0);
}

TEST(TcpTransport, TransfersLargeStreamsBothWays) {
  constexpr std::size_t size = std::size_t{64} << 20;
  const auto up = make_pattern(size, 1);
  const auto down = make_pattern(size, 2);
  auto j = join(with_threads(2), with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto at_server = std::make_shared<streamer>(down, up);
  auto at_client = std::make_shared<streamer>(up, down);
  s->start(at_server);
  c->start(at_client);
  s->wake();
  c->wake();
  ASSERT_TRUE(at_server->wait_received(size));
  ASSERT_TRUE(at_client->wait_received(size));
  EXPECT_EQ(at_server->mismatches(), 0);
  EXPECT_EQ(at_client->mismatches(), 0);
}

TEST(TcpTransport, PeerCloseEndsTheOtherSideOnce) {
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto srec = recorder::make();
  auto crec = recorder::make();
  srec->start(s);
  crec->start(c);
  c->close();
  c->close();
  ASSERT_TRUE(srec->wait_closed());
  EXPECT_EQ(srec->why(), errc::node_down);
  EXPECT_EQ(srec->why().detail(), "connection closed by peer");
  ASSERT_TRUE(crec->wait_closed());
  EXPECT_EQ(crec->why(), errc::node_down);
  EXPECT_EQ(crec->why().detail(), "closed by this side");
  c->wake();
  s->close();
  stop_both(*j, *srec, *crec);
}

TEST(TcpTransport, CloseFlushesWhatIsPending) {
  constexpr std::size_t size = std::size_t{8} << 20;
  const auto data = make_pattern(size, 3);
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->start(c);
  rec->send(*data);
  c->close();
  ASSERT_TRUE(sink->wait_closed());
  EXPECT_EQ(sink->why().detail(), "connection closed by peer");
  EXPECT_TRUE(sink->received() == *data);
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  EXPECT_EQ(rec->violations(), 0);
}

TEST(TcpTransport, CloseGivesUpWhenThePeerNeverCloses) {
  tcp_transport_config quick;
  quick.close_timeout = 200ms;
  auto j = join({}, quick);  // the server never starts its link: never reads, never closes
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto rec = recorder::make();
  rec->start(c);
  rec->send(as_bytes("bye"));
  c->close();
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  EXPECT_EQ(rec->why().detail(), "closed by this side");
  EXPECT_EQ(rec->violations(), 0);
}

TEST(TcpTransport, CloseBeforeStartIsReportedAtStart) {
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto crec = recorder::make();
  crec->start(c);
  s->close();
  ASSERT_TRUE(crec->wait_closed());  // the server's side is gone
  EXPECT_EQ(crec->why().detail(), "connection closed by peer");
  auto srec = recorder::make();
  srec->start(s);
  ASSERT_TRUE(srec->wait_closed());
  EXPECT_EQ(srec->why(), errc::node_down);
  server->stop();
  EXPECT_EQ(srec->closed(), 1);
}

TEST(TcpTransport, DialToAClosedPortIsNodeDown) {
  accept_box box;
  std::string address;
  {
    auto gone = make_transport();
    auto a = gone->listen("127.0.0.1:0", box.fn());
    ASSERT_TRUE(a);
    address = *a;
  }
  auto t = make_transport();
  auto r = dial(*t, address);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::node_down);
  EXPECT_NE(r.error().detail().find("refused"), std::string::npos) << r.error().message();
}

TEST(TcpTransport, StopClosesLiveLinks) {
  accept_box box;
  auto server = make_transport(with_threads(2));
  auto client = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  std::vector<link_pair> pairs;
  std::vector<std::shared_ptr<recorder>> srecs;
  std::vector<std::shared_ptr<recorder>> crecs;
  for (int i = 0; i < 3; ++i) {
    pairs.push_back(connect(*client, *address, box));
    ASSERT_TRUE(pairs.back().client && pairs.back().server);
    srecs.push_back(recorder::make(true));
    crecs.push_back(recorder::make());
    srecs.back()->start(pairs.back().server);
    crecs.back()->start(pairs.back().client);
  }
  crecs[0]->send(as_bytes("ping"));
  ASSERT_TRUE(crecs[0]->wait_received(4));
  auto unstarted = connect(*client, *address, box);
  ASSERT_TRUE(unstarted.server);

  server->stop();
  for (auto& r : srecs) {  // at once: stop() waited for them
    EXPECT_EQ(r->closed(), 1);
    EXPECT_EQ(r->why(), errc::shutting_down);
    EXPECT_EQ(r->violations(), 0);
  }
  for (auto& r : crecs) {
    ASSERT_TRUE(r->wait_closed());
    EXPECT_EQ(r->why(), errc::node_down);
  }
  // The transport is gone: links stay valid objects that do nothing.
  pairs[0].server->wake();
  pairs[0].server->close();
  auto late = recorder::make();
  late->start(unstarted.server);
  EXPECT_EQ(late->closed(), 0);
  auto l = server->listen("127.0.0.1:0", box.fn());
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error(), errc::shutting_down);
  bool answered = false;
  server->dial(*address, [&](result<link_ptr> r) {
    answered = true;
    EXPECT_EQ(r.error(), errc::shutting_down);
  });
  EXPECT_TRUE(answered);
  server->stop();  // again: nothing left to do
}

TEST(TcpTransport, StopWhileOtherThreadsWrite) {
  auto j = join({}, with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->start(c);
  std::atomic<bool> done{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&] {
      const std::array<std::byte, 64> chunk{};
      while (!done.load()) rec->send(chunk);
    });
  }
  ASSERT_TRUE(sink->wait_received(1 << 20));
  client->stop();
  EXPECT_EQ(rec->closed(), 1);
  EXPECT_EQ(rec->why(), errc::shutting_down);
  rec->send(as_bytes("after stop"));
  done = true;
  for (auto& p : producers) p.join();
  EXPECT_EQ(rec->violations(), 0);
  ASSERT_TRUE(sink->wait_closed());
}

TEST(TcpTransport, ListensAndDialsOverIpv6) {
  accept_box box;
  auto t = make_transport();
  auto address = t->listen("[::1]:0", box.fn());
  if (!address) GTEST_SKIP() << "no IPv6 loopback: " << address.error().message();
  ASSERT_TRUE(address->starts_with("[::1]:")) << *address;
  auto [c, s] = connect(*t, *address, box);
  ASSERT_TRUE(c && s);
  EXPECT_EQ(c->remote_address(), *address);
  auto echo = recorder::make(true);
  echo->start(s);
  auto rec = recorder::make();
  rec->start(c);
  rec->send(as_bytes("v6"));
  ASSERT_TRUE(rec->wait_received(2));
  EXPECT_EQ(rec->received_string(), "v6");
}

// ---------------------------------------------------------------- TLS

// Makes, in a temporary directory, two CAs and node certificates: "a" and
// "b" signed by "ca", "rogue" signed by "ca2".
class TcpTransportTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<testing::test_certs>();
    ready_ = certs_->make_ca("ca") && certs_->make_ca("ca2") && certs_->make_node("a", "ca") &&
             certs_->make_node("b", "ca") && certs_->make_node("rogue", "ca2");
  }
  static void TearDownTestSuite() { certs_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(ready_) << "could not make certificates: " << certs_->failure();
  }

  static std::string file(const std::string& name) { return certs_->file(name); }
  // Returns the TLS files of node `name`, trusting `ca`.
  static tls_config node(const std::string& name, const std::string& ca = "ca") {
    return certs_->node(name, ca);
  }
  static std::unique_ptr<tcp_transport> make_tls(tls_config tls, tcp_transport_config c = {}) {
    c.tls = std::move(tls);
    return make_transport(std::move(c));
  }
  // Runs `openssl args...` (waiting at most `patience`) and returns what it
  // did.
  static testing::run_result openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    return testing::run_program(args, file("s_client.log"), patience);
  }

  static std::unique_ptr<testing::test_certs> certs_;
  static bool ready_;
};

std::unique_ptr<testing::test_certs> TcpTransportTls::certs_;
bool TcpTransportTls::ready_ = false;

TEST_F(TcpTransportTls, EchoesAndBindsTheChannel) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto client = make_tls(node("b"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address) << address.error().message();
  auto one = connect(*client, *address, box);
  auto two = connect(*client, *address, box);
  ASSERT_TRUE(one.client && one.server && two.client && two.server);
  EXPECT_EQ(one.client->channel_binding().size(), 32u);
  EXPECT_EQ(one.client->channel_binding(), one.server->channel_binding());
  EXPECT_EQ(two.client->channel_binding(), two.server->channel_binding());
  EXPECT_NE(one.client->channel_binding(), two.client->channel_binding());

  auto echo = recorder::make(true);
  auto rec = recorder::make();
  echo->start(one.server);
  rec->start(one.client);
  rec->send(as_bytes("over "));
  rec->send(as_bytes("TLS"));
  ASSERT_TRUE(rec->wait_received(8));
  EXPECT_EQ(rec->received_string(), "over TLS");
  EXPECT_EQ(server->refused_handshakes(), 0u);
  rec->send(as_bytes("!"));
  one.client->close();
  ASSERT_TRUE(echo->wait_closed());
  EXPECT_EQ(echo->why().detail(), "connection closed by peer");
  EXPECT_EQ(echo->received_string(), "over TLS!");
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->violations(), 0);
  EXPECT_EQ(echo->violations(), 0);
}

TEST_F(TcpTransportTls, DeliversLargeStreamsAndManyWriters) {
  constexpr std::size_t size = std::size_t{16} << 20;
  const auto up = make_pattern(size, 5);
  const auto down = make_pattern(size, 6);
  accept_box box;
  tcp_transport_config two_threads;
  two_threads.io_threads = 2;
  auto server = make_tls(node("a"), two_threads);
  auto client = make_tls(node("b"), two_threads);
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto big = connect(*client, *address, box);
  auto small = connect(*client, *address, box);
  ASSERT_TRUE(big.client && big.server && small.client && small.server);
  auto at_server = std::make_shared<streamer>(down, up);
  auto at_client = std::make_shared<streamer>(up, down);
  big.server->start(at_server);
  big.client->start(at_client);
  big.server->wake();
  big.client->wake();
  auto sink = recorder::make();
  sink->start(small.server);
  auto rec = recorder::make();
  rec->start(small.client);
  produce(*rec);
  ASSERT_TRUE(sink->wait_received(produced_bytes));
  expect_complete_and_in_order(sink->received());
  std::cout << "[   info   ] " << producers * per_producer << " wakes, " << rec->nonempty_pulls()
            << " writes\n";
  ASSERT_TRUE(at_server->wait_received(size));
  ASSERT_TRUE(at_client->wait_received(size));
  EXPECT_EQ(at_server->mismatches(), 0);
  EXPECT_EQ(at_client->mismatches(), 0);
  EXPECT_EQ(rec->violations(), 0);
}

TEST_F(TcpTransportTls, RefusesADialerWithACertificateFromAnotherCa) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto rogue = make_tls(node("rogue", "ca"));  // trusts the server; the server does not trust it
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*rogue, *address);
  if (r) {  // TLS 1.3: the dialer learns of the refusal when it reads
    auto rec = recorder::make();
    rec->start(*r);
    ASSERT_TRUE(rec->wait_closed());
    EXPECT_EQ(rec->why(), errc::node_down);
    EXPECT_TRUE(rec->received().empty());
  } else {
    EXPECT_EQ(r.error(), errc::node_down) << r.error().message();
  }
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, RefusesToDialAListenerWithACertificateFromAnotherCa) {
  accept_box box;
  auto rogue = make_tls(node("rogue", "ca"));
  auto client = make_tls(node("a"));
  auto address = rogue->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*client, *address);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::node_down);
  EXPECT_NE(r.error().detail().find("certificate verify failed"), std::string::npos)
      << r.error().message();
  ASSERT_TRUE(eventually([&] { return rogue->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, RefusesAPlainClientAndKeepsServing) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto plain = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*plain, *address);
  ASSERT_TRUE(r) << r.error().message();
  auto rec = recorder::make();
  rec->start(*r);
  rec->send(as_bytes("GET / HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);

  auto client = make_tls(node("b"));
  auto [c, s] = connect(*client, *address, box);
  ASSERT_TRUE(c && s);
  auto echo = recorder::make(true);
  echo->start(s);
  auto again = recorder::make();
  again->start(c);
  again->send(as_bytes("still here"));
  ASSERT_TRUE(again->wait_received(10));
  EXPECT_EQ(again->received_string(), "still here");
}

TEST_F(TcpTransportTls, DropsAnAcceptedConnectionWhoseHandshakeTimesOut) {
  accept_box box;
  tcp_transport_config quick;
  quick.handshake_timeout = 200ms;
  auto server = make_tls(node("a"), quick);
  auto plain = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*plain, *address);
  ASSERT_TRUE(r);
  auto rec = recorder::make();
  rec->start(*r);  // says nothing
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, DialTimesOutWhenTheHandshakeStalls) {
  accept_box box;
  auto silent = make_transport();  // accepts, never starts its links: never answers
  tcp_transport_config quick;
  quick.dial_timeout = 300ms;
  auto client = make_tls(node("a"), quick);
  auto address = silent->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*client, *address);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::node_down);
  EXPECT_NE(r.error().detail().find("timed out"), std::string::npos) << r.error().message();
}

TEST_F(TcpTransportTls, StopEndsPendingHandshakes) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto plain = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*plain, *address);  // the server now waits for a ClientHello
  ASSERT_TRUE(r);
  auto rec = recorder::make();
  rec->start(*r);
  server->stop();  // does not wait for the handshake timeout
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(server->refused_handshakes(), 0u);
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, StopEndsPendingDials) {
  accept_box box;
  auto silent = make_transport();
  auto client = make_tls(node("a"));
  auto address = silent->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  std::mutex m;
  std::optional<result<link_ptr>> answer;
  client->dial(*address, [&](result<link_ptr> r) {
    std::lock_guard lk(m);
    answer.emplace(std::move(r));
  });
  ASSERT_TRUE(box.next());  // connected: the dial now waits for the handshake
  client->stop();
  std::lock_guard lk(m);
  ASSERT_TRUE(answer.has_value());  // at once: stop() waited for it
  ASSERT_FALSE(*answer);
  EXPECT_EQ(answer->error(), errc::shutting_down);
}

TEST_F(TcpTransportTls, AcceptsOpensslWithANodeCertificate) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  const testing::run_result r =
      openssl({"s_client", "-connect", *address, "-tls1_3", "-cert", file("b.pem"), "-key",
               file("b.key"), "-CAfile", file("ca.pem")});
  ASSERT_FALSE(r.timed_out) << r.output;
  EXPECT_NE(r.output.find("Verify return code: 0 (ok)"), std::string::npos) << r.output;
  link_ptr l = box.next();  // the handshake completed on our side too
  ASSERT_TRUE(l);
  EXPECT_EQ(l->channel_binding().size(), 32u);
  auto rec = recorder::make();
  rec->start(l);
  ASSERT_TRUE(rec->wait_closed());  // openssl has gone
  EXPECT_EQ(server->refused_handshakes(), 0u);
}

TEST_F(TcpTransportTls, RefusesOpensslWithoutACertificate) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  const testing::run_result r =
      openssl({"s_client", "-connect", *address, "-tls1_3", "-CAfile", file("ca.pem")});
  ASSERT_FALSE(r.timed_out) << r.output;
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; })) << r.output;
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, RefusesOpensslSpeakingTls12) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  const testing::run_result r =
      openssl({"s_client", "-connect", *address, "-tls1_2", "-cert", file("b.pem"), "-key",
               file("b.key"), "-CAfile", file("ca.pem")});
  ASSERT_FALSE(r.timed_out) << r.output;
  EXPECT_NE(r.status, 0) << r.output;
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; })) << r.output;
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, MakeRejectsUnusableFiles) {
  const auto rejects = [](tls_config tls, const std::string& needle) {
    tcp_transport_config c;
    c.tls = std::move(tls);
    auto t = tcp_transport::make(std::move(c));
    EXPECT_FALSE(t);
    if (t) return;
    EXPECT_EQ(t.error(), errc::invalid_argument);
    EXPECT_NE(t.error().detail().find(needle), std::string::npos) << t.error().message();
  };
  tls_config missing_ca = node("a");
  missing_ca.ca_file = file("nowhere.pem");
  rejects(missing_ca, "nowhere.pem");
  tls_config missing_cert = node("a");
  missing_cert.cert_file = file("nothing.pem");
  rejects(missing_cert, "nothing.pem");
  tls_config not_a_key = node("a");
  not_a_key.key_file = file("a.pem");
  rejects(not_a_key, "a.pem");
  tls_config wrong_key = node("a");
  wrong_key.key_file = file("b.key");
  rejects(wrong_key, "b.key");
}

}  // namespace
}  // namespace troupe::net
