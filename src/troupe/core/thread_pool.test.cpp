#include "troupe/core/thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
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

}  // namespace
