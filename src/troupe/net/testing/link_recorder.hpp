#pragma once

// Test kit for transports: a link_handler that records what its link does
// and checks the link_handler contract, a streaming handler, and set-ups
// that join two tcp_transports over loopback. Used by the tcp_transport
// test files.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "troupe/net/tcp_transport.hpp"

namespace troupe::net::testing {

using namespace std::chrono_literals;
using link_ptr = std::shared_ptr<link>;
using bytes = std::vector<std::byte>;

// Bounds every wait.
inline constexpr auto patience = 10s;

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Spins, yielding, until `pred` holds (for counters that nothing signals);
// false after `patience`.
template <class Pred>
inline bool eventually(Pred pred) {
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

  // Runs inside every on_bytes() (set it before start()).
  std::function<void()> on_read;

  void on_bytes(std::span<const std::byte> data) override {
    enter(reading_);
    if (on_read) on_read();
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

inline std::shared_ptr<const bytes> make_pattern(std::size_t n, std::uint32_t seed) {
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

inline result<link_ptr> dial(transport& t, std::string_view address) {
  auto p = std::make_shared<std::promise<result<link_ptr>>>();
  auto f = p->get_future();
  t.dial(address, [p](result<link_ptr> r) { p->set_value(std::move(r)); });
  if (f.wait_for(patience) != std::future_status::ready)
    return error(errc::timeout, "the dial never answered");
  return f.get();
}

inline std::unique_ptr<tcp_transport> make_transport(tcp_transport_config config = {}) {
  auto t = tcp_transport::make(std::move(config));
  EXPECT_TRUE(t) << t.error().message();
  return std::move(t).value();
}

inline tcp_transport_config with_threads(std::size_t n) {
  tcp_transport_config c;
  c.io_threads = n;
  return c;
}

struct link_pair {
  link_ptr client;
  link_ptr server;
};

// Dials `address` (served by `box`) from `client`.
inline link_pair connect(transport& client, const std::string& address, accept_box& box) {
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
inline std::unique_ptr<joined> join(tcp_transport_config server_config = {},
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
inline void stop_both(joined& j, recorder& one, recorder& other) {
  j.client->stop();
  j.server->stop();
  for (recorder* r : {&one, &other}) {
    EXPECT_EQ(r->closed(), 1);
    EXPECT_EQ(r->violations(), 0);
  }
}

inline constexpr int producers = 4;
inline constexpr std::uint32_t per_producer = 2500;
inline constexpr std::size_t record_size = 8;
inline constexpr std::size_t produced_bytes = std::size_t{producers} * per_producer * record_size;

// Sends per_producer records of record_size bytes through `rec` from each of
// `producers` threads, all at once, one wake per record.
inline void produce(recorder& rec) {
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
inline void expect_complete_and_in_order(const bytes& got) {
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

}  // namespace troupe::net::testing
