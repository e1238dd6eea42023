#include "troupe/core/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "troupe/core/testing/watchdog.hpp"

// The work-stealing pool on its own: posted items run, each on one thread at
// a time; stop() keeps its deadline even with a stuck item.

namespace {

using namespace std::chrono_literals;

/// Counts its runs and releases a latch after the last one.
class counted final : public troupe::schedulable {
 public:
  explicit counted(std::latch* done) : done_(done) {}
  void run() noexcept override {
    runs.fetch_add(1);
    done_->count_down();
  }
  std::atomic<int> runs{0};

 private:
  std::latch* done_;
};

TEST(thread_pool, runs_items_posted_from_outside) {
  troupe::testing::watchdog guard("thread_pool.runs_items_posted_from_outside");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 3});
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_FALSE(pool.in_executor());
  constexpr int n = 10'000;
  std::latch done(n);
  std::vector<std::unique_ptr<counted>> items;
  for (int i = 0; i < n; ++i) items.push_back(std::make_unique<counted>(&done));
  std::thread other([&] {
    for (int i = 0; i < n; i += 2) pool.post(items[i].get(), troupe::post_hint::wake);
  });
  for (int i = 1; i < n; i += 2) pool.post(items[i].get(), troupe::post_hint::wake);
  other.join();
  done.wait();
  for (auto& it : items) EXPECT_EQ(it->runs.load(), 1);
  EXPECT_EQ(pool.stop(5s), 0u);
}

/// Reposts itself `left` times from inside the pool (alternating the hints),
/// checking that no two threads ever run it at once.
class relay_item final : public troupe::schedulable {
 public:
  relay_item(troupe::thread_pool& pool, int left, std::latch* done)
      : pool_(pool), left_(left), done_(done) {}
  void run() noexcept override {
    if (busy_.exchange(true)) overlap_.store(true);
    inside_ = inside_ && pool_.in_executor();
    const bool again = --left_ > 0;
    const auto hint = (left_ % 2) ? troupe::post_hint::wake : troupe::post_hint::yield;
    busy_.store(false);
    if (again)
      pool_.post(this, hint);
    else
      done_->count_down();
  }
  bool overlapped() const { return overlap_.load(); }
  bool always_inside() const { return inside_; }

 private:
  troupe::thread_pool& pool_;
  int left_;
  std::latch* done_;
  std::atomic<bool> busy_{false};
  std::atomic<bool> overlap_{false};
  bool inside_ = true;
};

TEST(thread_pool, items_reposted_from_workers_run_one_at_a_time) {
  troupe::testing::watchdog guard("thread_pool.items_reposted_from_workers_run_one_at_a_time");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 2});
  constexpr int chains = 8;
  std::latch done(chains);
  std::vector<std::unique_ptr<relay_item>> items;
  for (int i = 0; i < chains; ++i)
    items.push_back(std::make_unique<relay_item>(pool, 20'000, &done));
  for (auto& it : items) pool.post(it.get(), troupe::post_hint::wake);
  done.wait();
  for (auto& it : items) {
    EXPECT_FALSE(it->overlapped());
    EXPECT_TRUE(it->always_inside());
  }
  EXPECT_EQ(pool.stop(5s), 0u);
}

/// Blocks inside run() until released; says when it entered and left.
class stuck_item final : public troupe::schedulable {
 public:
  void run() noexcept override {
    entered.count_down();
    release.wait();
    left.store(true);
    left.notify_all();
  }
  std::latch entered{1};
  std::latch release{1};
  std::atomic<bool> left{false};
};

TEST(thread_pool, stop_keeps_its_deadline_with_a_stuck_item) {
  troupe::testing::watchdog guard("thread_pool.stop_keeps_its_deadline_with_a_stuck_item");
  // Static: the detached worker may still return from run() after the test.
  static stuck_item stuck;
  auto pool = std::make_unique<troupe::thread_pool>(troupe::thread_pool_options{.workers = 2});
  pool->post(&stuck, troupe::post_hint::wake);
  stuck.entered.wait();
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t late = pool->stop(200ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(late, 1u) << "the stuck worker is detached and reported";
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 2s);
  pool.reset();  // destroying a stopped pool does not wait again
  stuck.release.count_down();
  stuck.left.wait(false);
}

TEST(thread_pool, an_idle_pool_stops_at_once_and_later_posts_run_inline) {
  troupe::testing::watchdog guard("thread_pool.an_idle_pool_stops_at_once");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 4});
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(pool.stop(10s), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(pool.stop(10s), 0u) << "a second stop does nothing";
  std::latch ran(1);
  counted c(&ran);
  pool.post(&c, troupe::post_hint::wake);
  EXPECT_EQ(c.runs.load(), 1) << "ran inline on the posting thread";
}

TEST(thread_pool, defaults_to_one_worker_per_hardware_thread) {
  troupe::thread_pool pool;
  EXPECT_EQ(pool.size(), std::max(1u, std::thread::hardware_concurrency()));
}

// ---------------------------------------------------------------------------
// Driving I/O (attach_io): idle workers wait inside an io_driver.

/// An io_driver over a queue of "ready I/O" callbacks the test pushes. It
/// records which threads enter it and whether two ever were inside at once.
class fake_driver final : public troupe::io_driver {
 public:
  outcome run_until(std::chrono::steady_clock::time_point deadline) noexcept override {
    enter();
    waits.fetch_add(1);
    std::unique_lock lk(m_);
    waiting.store(true);
    cv_.wait_until(lk, deadline, [&] { return !ready_.empty() || interrupted_ || finish_; });
    waiting.store(false);
    outcome o = outcome::idle;
    if (finish_) {
      o = outcome::finished;
    } else if (!ready_.empty()) {
      std::function<void()> f = std::move(ready_.front());
      ready_.pop_front();
      lk.unlock();
      f();
      lk.lock();
      o = outcome::ran;
    } else if (interrupted_) {
      o = outcome::ran;
    }
    interrupted_ = false;
    lk.unlock();
    leave();
    return o;
  }

  outcome poll() noexcept override {
    enter();
    polls.fetch_add(1);
    std::unique_lock lk(m_);
    outcome o = outcome::idle;
    while (!ready_.empty()) {
      std::function<void()> f = std::move(ready_.front());
      ready_.pop_front();
      lk.unlock();
      f();
      lk.lock();
      o = outcome::ran;
    }
    lk.unlock();
    leave();
    return o;
  }

  void interrupt() noexcept override {
    std::lock_guard lk(m_);
    interrupted_ = true;
    cv_.notify_all();
  }

  void push(std::function<void()> f) {
    std::lock_guard lk(m_);
    ready_.push_back(std::move(f));
    cv_.notify_all();
  }

  void finish() {
    std::lock_guard lk(m_);
    finish_ = true;
    cv_.notify_all();
  }

  std::atomic<int> waits{0};
  std::atomic<int> polls{0};
  std::atomic<bool> waiting{false};  // a thread waits inside run_until()
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::atomic<bool> detached{false};       // set by the test once attach_io's handle is gone
  std::atomic<bool> used_detached{false};  // entered after that

 private:
  void enter() {
    if (detached.load()) used_detached.store(true);
    if (inside.fetch_add(1) != 0) overlap.store(true);
  }
  void leave() { inside.fetch_sub(1); }

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> ready_;
  bool interrupted_ = false;
  bool finish_ = false;
};

/// Records the thread it ran on.
class where_item final : public troupe::schedulable {
 public:
  void run() noexcept override {
    ran_on = std::this_thread::get_id();
    done.count_down();
  }
  std::thread::id ran_on;
  std::latch done{1};
};

/// Waits (bounded) until `pred` holds; returns whether it did.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(thread_pool_io, an_idle_worker_reads_and_runs_what_it_woke_on_its_own_thread) {
  troupe::testing::watchdog guard("thread_pool_io.reads_and_runs");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 2});
  auto d = std::make_shared<fake_driver>();
  auto attached = pool.attach_io(d);
  ASSERT_NE(attached, nullptr);
  ASSERT_TRUE(eventually([&] { return d->waits.load() > 0; })) << "an idle worker waits in it";
  for (int round = 0; round < 50; ++round) {
    // A worker waits in the driver (no other thread can hold it then), so
    // what arrives now is read by that worker. Between rounds the keeper may
    // poll instead: that is its job when no worker is inside.
    ASSERT_TRUE(eventually([&] { return d->waiting.load(); })) << "round " << round;
    where_item item;
    std::thread::id read_on;
    bool in_pool = false;
    d->push([&] {
      read_on = std::this_thread::get_id();
      in_pool = pool.in_executor();
      pool.post(&item, troupe::post_hint::wake);
    });
    item.done.wait();
    EXPECT_TRUE(in_pool) << "the I/O ran on a pool worker";
    EXPECT_EQ(item.ran_on, read_on) << "round " << round << ": no hand-off to another thread";
  }
  attached.reset();
  d->detached.store(true);
  EXPECT_EQ(d->inside.load(), 0);
  EXPECT_FALSE(d->overlap.load());
  EXPECT_EQ(pool.stop(5s), 0u);
  EXPECT_FALSE(d->used_detached.load()) << "nothing entered the driver after detaching";
}

TEST(thread_pool_io, a_post_from_outside_interrupts_the_worker_waiting_for_io) {
  troupe::testing::watchdog guard("thread_pool_io.post_interrupts");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 1});
  auto d = std::make_shared<fake_driver>();
  auto attached = pool.attach_io(d);
  ASSERT_NE(attached, nullptr);
  for (int round = 0; round < 20; ++round) {
    const int before = d->waits.load();
    ASSERT_TRUE(eventually([&] { return d->waits.load() > before; }));
    where_item item;
    pool.post(&item, troupe::post_hint::wake);
    // The one worker waits up to 500 ms in the driver unless interrupted;
    // the watchdog and the round count bound the test either way.
    const auto t0 = std::chrono::steady_clock::now();
    item.done.wait();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms) << "round " << round;
  }
  EXPECT_FALSE(d->overlap.load());
}

TEST(thread_pool_io, the_keeper_reads_while_every_worker_is_inside_a_long_turn) {
  troupe::testing::watchdog guard("thread_pool_io.keeper");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 1});
  auto d = std::make_shared<fake_driver>();
  auto attached = pool.attach_io(d);
  ASSERT_NE(attached, nullptr);
  stuck_item stuck;
  pool.post(&stuck, troupe::post_hint::wake);
  stuck.entered.wait();
  std::latch read(1);
  bool in_pool = true;
  d->push([&] {
    in_pool = pool.in_executor();
    read.count_down();
  });
  EXPECT_TRUE(eventually([&] { return read.try_wait(); }, 5s)) << "I/O waited for the turn";
  EXPECT_FALSE(stuck.left.load()) << "the only worker was still in its turn";
  EXPECT_FALSE(in_pool) << "the keeper read it";
  stuck.release.count_down();
  stuck.left.wait(false);
  read.wait();
  attached.reset();
  EXPECT_EQ(pool.stop(5s), 0u);
  EXPECT_FALSE(d->overlap.load());
}

TEST(thread_pool_io, one_thread_at_a_time_is_inside_the_driver_under_load) {
  troupe::testing::watchdog guard("thread_pool_io.one_at_a_time");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 4});
  auto d = std::make_shared<fake_driver>();
  auto attached = pool.attach_io(d);
  ASSERT_NE(attached, nullptr);
  constexpr int n = 20'000;
  std::latch done(2 * n);
  std::vector<std::unique_ptr<counted>> from_io;
  std::vector<std::unique_ptr<counted>> from_outside;
  for (int i = 0; i < n; ++i) {
    from_io.push_back(std::make_unique<counted>(&done));
    from_outside.push_back(std::make_unique<counted>(&done));
  }
  std::thread feeder([&] {
    for (int i = 0; i < n; ++i) {
      counted* c = from_io[i].get();
      d->push([&pool, c] { pool.post(c, troupe::post_hint::wake); });
    }
  });
  for (int i = 0; i < n; ++i) pool.post(from_outside[i].get(), troupe::post_hint::wake);
  feeder.join();
  done.wait();
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(from_io[i]->runs.load(), 1);
    EXPECT_EQ(from_outside[i]->runs.load(), 1);
  }
  EXPECT_FALSE(d->overlap.load()) << "two threads were inside the driver at once";
  attached.reset();
  d->detached.store(true);
  EXPECT_EQ(pool.stop(5s), 0u);
  EXPECT_FALSE(d->used_detached.load());
}

TEST(thread_pool_io, a_second_driver_is_refused_and_a_finished_one_is_let_go) {
  troupe::testing::watchdog guard("thread_pool_io.second_and_finished");
  troupe::thread_pool pool(troupe::thread_pool_options{.workers = 2});
  auto first = std::make_shared<fake_driver>();
  auto second = std::make_shared<fake_driver>();
  auto a = pool.attach_io(first);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(pool.attach_io(second), nullptr) << "a pool drives one loop";
  EXPECT_EQ(pool.attach_io(nullptr), nullptr);
  ASSERT_TRUE(eventually([&] { return first->waits.load() > 0; }));
  first->finish();
  // Once it says finished, no worker enters it again; the pool still runs work.
  ASSERT_TRUE(eventually([&] { return first->inside.load() == 0; }));
  std::this_thread::sleep_for(20ms);  // room for a wrong re-entry to show
  const int calls = first->waits.load() + first->polls.load();
  std::latch ran(1);
  counted c(&ran);
  pool.post(&c, troupe::post_hint::wake);
  ran.wait();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(first->waits.load() + first->polls.load(), calls);
  EXPECT_EQ(pool.attach_io(second), nullptr) << "still attached until its handle goes";
  a.reset();
  auto b = pool.attach_io(second);
  EXPECT_NE(b, nullptr) << "free again once the first handle is gone";
  ASSERT_TRUE(eventually([&] { return second->waits.load() > 0; }));
  // Stopping the pool with a driver attached interrupts the waiting worker.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(pool.stop(5s), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 400ms);
  b.reset();  // detaching from a stopped pool is fine
  EXPECT_EQ(pool.attach_io(first), nullptr) << "a stopped pool drives nothing";
}

}  // namespace
