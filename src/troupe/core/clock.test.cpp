#include "troupe/core/clock.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <mutex>
#include <vector>

#include "troupe/core/random.hpp"
#include "troupe/core/real_clock.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/sim/manual_clock.hpp"

// The time seam: the timer queue's order, the manual clock, the real clock.

namespace {

using namespace std::chrono_literals;
using troupe::duration;
using troupe::time_point;

/// Records its id into a shared log when fired.
struct probe final : troupe::timer_node {
  probe() = default;
  probe(int i, time_point d, std::vector<int>* l) : id(i), log(l) { due = d; }
  void fire() noexcept override { log->push_back(id); }
  int id = 0;
  std::vector<int>* log = nullptr;
};

const time_point t0 = time_point(1h);

TEST(timer_queue, pops_by_due_time_and_ties_in_arming_order) {
  troupe::timer_queue q;
  std::vector<int> unused;
  std::vector<probe> p;
  p.reserve(6);
  p.emplace_back(0, t0 + 5ms, &unused);
  p.emplace_back(1, t0 + 1ms, &unused);
  p.emplace_back(2, t0 + 5ms, &unused);
  p.emplace_back(3, t0 + 3ms, &unused);
  p.emplace_back(4, t0 + 5ms, &unused);
  p.emplace_back(5, t0 + 1ms, &unused);
  for (auto& x : p) q.push(&x);
  EXPECT_EQ(q.size(), 6u);
  EXPECT_EQ(q.top(), &p[1]);
  std::vector<int> order;
  while (!q.empty()) order.push_back(static_cast<probe*>(q.pop())->id);
  EXPECT_EQ(order, (std::vector<int>{1, 5, 3, 0, 2, 4}));
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_EQ(q.top(), nullptr);
}

TEST(timer_queue, erase_removes_only_queued_nodes) {
  troupe::timer_queue q;
  std::vector<int> unused;
  probe a(0, t0 + 1ms, &unused), b(1, t0 + 2ms, &unused), c(2, t0 + 3ms, &unused);
  q.push(&a);
  q.push(&b);
  q.push(&c);
  EXPECT_TRUE(q.erase(&b));
  EXPECT_FALSE(q.erase(&b)) << "already gone";
  EXPECT_EQ(q.pop(), &a);
  EXPECT_FALSE(q.erase(&a)) << "popped";
  EXPECT_EQ(q.pop(), &c);
  EXPECT_TRUE(q.empty());
  probe never(3, t0, &unused);
  EXPECT_FALSE(q.erase(&never));
}

TEST(timer_queue, matches_a_stable_sort_under_random_pushes_and_erases) {
  troupe::xoshiro256 gen(2024);
  std::vector<int> unused;
  std::vector<probe> p(2000);
  troupe::timer_queue q;
  std::vector<int> expected;  // ids still queued, in arming order
  for (int i = 0; i < 2000; ++i) {
    p[i] = probe(i, t0 + std::chrono::milliseconds(gen() % 50), &unused);
    q.push(&p[i]);
    expected.push_back(i);
    if (gen() % 4 == 0) {  // erase a random queued one
      std::size_t k = gen() % expected.size();
      EXPECT_TRUE(q.erase(&p[expected[k]]));
      expected.erase(expected.begin() + static_cast<long>(k));
    }
  }
  std::stable_sort(expected.begin(), expected.end(),
                   [&](int a, int b) { return p[a].due < p[b].due; });
  std::vector<int> got;
  while (!q.empty()) got.push_back(static_cast<probe*>(q.pop())->id);
  EXPECT_EQ(got, expected);
}

TEST(manual_clock, moves_only_when_told_and_fires_in_order) {
  troupe::sim::manual_clock c(t0);
  std::vector<int> log;
  probe a(0, t0 + 10ms, &log), b(1, t0 + 5ms, &log), tie(2, t0 + 10ms, &log);
  c.arm(a);
  c.arm(b);
  c.arm(tie);
  EXPECT_EQ(c.now(), t0);
  EXPECT_EQ(c.armed(), 3u);
  EXPECT_EQ(c.next_due(), t0 + 5ms);
  EXPECT_FALSE(c.fire_next(t0 + 4ms)) << "nothing due by then";
  EXPECT_EQ(c.now(), t0);
  EXPECT_TRUE(c.fire_next(time_point::max()));
  EXPECT_EQ(c.now(), t0 + 5ms) << "firing moves time to the due time";
  EXPECT_TRUE(c.fire_next(t0 + 10ms));
  EXPECT_TRUE(c.fire_next(t0 + 10ms));
  EXPECT_EQ(log, (std::vector<int>{1, 0, 2}));
  EXPECT_FALSE(c.fire_next(time_point::max()));
  EXPECT_EQ(c.next_due(), time_point::max());
}

TEST(manual_clock, set_never_goes_back_and_past_timers_fire_at_once) {
  troupe::sim::manual_clock c(t0);
  c.set(t0 + 1s);
  c.set(t0);
  EXPECT_EQ(c.now(), t0 + 1s);
  std::vector<int> log;
  probe late(0, t0 + 10ms, &log);  // already in the past
  c.arm(late);
  EXPECT_TRUE(c.fire_next(c.now()));
  EXPECT_EQ(c.now(), t0 + 1s) << "a past due time does not move the clock back";
  EXPECT_EQ(log, std::vector<int>{0});
}

TEST(manual_clock, a_cancelled_timer_never_fires) {
  troupe::sim::manual_clock c(t0);
  std::vector<int> log;
  probe a(0, t0 + 1ms, &log), b(1, t0 + 2ms, &log);
  c.arm(a);
  c.arm(b);
  EXPECT_TRUE(c.cancel(a));
  EXPECT_FALSE(c.cancel(a));
  while (c.fire_next(time_point::max())) {
  }
  EXPECT_EQ(log, std::vector<int>{1});
  EXPECT_FALSE(c.cancel(b)) << "already fired";
}

TEST(manual_clock, starts_an_hour_after_the_epoch_by_default) {
  troupe::sim::manual_clock c;
  EXPECT_EQ(c.now(), time_point(1h));
}

/// Fires on the real clock's thread: records its id and counts a latch down.
struct real_probe final : troupe::timer_node {
  void fire() noexcept override {
    {
      std::lock_guard lock(*mu);
      log->push_back(id);
      fired_at = clock->now();
    }
    done->count_down();
  }
  int id = 0;
  std::mutex* mu = nullptr;
  std::vector<int>* log = nullptr;
  std::latch* done = nullptr;
  troupe::clock* clock = nullptr;
  time_point fired_at{};
};

TEST(real_clock, fires_timers_in_due_order_and_not_early) {
  troupe::testing::watchdog guard("real_clock.fires_timers_in_due_order_and_not_early");
  troupe::real_clock c;
  std::mutex mu;
  std::vector<int> log;
  std::latch done(3);
  real_probe p[4];
  const time_point start = c.now();
  const duration offsets[4] = {30ms, 10ms, 20ms, 15ms};
  for (int i = 0; i < 4; ++i) {
    p[i].id = i;
    p[i].mu = &mu;
    p[i].log = &log;
    p[i].done = &done;
    p[i].clock = &c;
    p[i].due = start + offsets[i];
  }
  for (auto& x : p) c.arm(x);
  EXPECT_TRUE(c.cancel(p[3])) << "cancelled before it was due";
  done.wait();
  c.stop();  // joins the timer thread: nothing fires any more
  std::lock_guard lock(mu);
  EXPECT_EQ(log, (std::vector<int>{1, 2, 0}));
  for (int i = 0; i < 3; ++i) EXPECT_GE(p[i].fired_at, p[i].due) << i;
  EXPECT_FALSE(c.cancel(p[0]));
}

TEST(real_clock, now_is_monotonic) {
  troupe::real_clock c;
  time_point prev = c.now();
  for (int i = 0; i < 10'000; ++i) {
    time_point n = c.now();
    ASSERT_GE(n, prev);
    prev = n;
  }
}

}  // namespace
