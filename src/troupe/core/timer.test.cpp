#include "troupe/core/timer.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <string>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/sim/runtime.hpp"

// Actor timers: send_after, send_interval (on the grid, no drift), cancelling
// through a handle and by stopping the actor.

namespace {

using namespace std::chrono_literals;
using troupe::time_point;

struct tick {
  static constexpr std::string_view type_name = "test.timer.tick";
  int id;
};
struct start_once {
  static constexpr std::string_view type_name = "test.timer.start_once";
  int id;
  troupe::duration delay;
};
struct start_every {
  static constexpr std::string_view type_name = "test.timer.start_every";
  int id;
  troupe::duration period;
};
struct cancel_all {
  static constexpr std::string_view type_name = "test.timer.cancel_all";
};
struct handles_active {
  using reply = std::vector<bool>;
  static constexpr std::string_view type_name = "test.timer.handles_active";
};

/// One tick as seen by the actor: which timer, and when.
struct seen {
  int id;
  time_point at;
  bool operator==(const seen&) const = default;
};

/// Starts timers on request and records each tick with its time.
class ticker : public troupe::actor<ticker> {
 public:
  using handles = troupe::handles<tick, start_once, start_every, cancel_all, handles_active>;
  explicit ticker(std::vector<seen>* log) : log_(log) {}

  void handle(tick t) { log_->push_back({t.id, now()}); }
  void handle(start_once m) { timers_.push_back(send_after(m.delay, tick{m.id})); }
  void handle(start_every m) { timers_.push_back(send_interval(m.period, tick{m.id})); }
  void handle(cancel_all) {
    for (auto& t : timers_) t.cancel();
  }
  std::vector<bool> handle(handles_active) {
    std::vector<bool> v;
    for (auto& t : timers_) v.push_back(t.active());
    return v;
  }

 private:
  std::vector<seen>* log_;
  std::vector<troupe::timer_handle> timers_;
};

TEST(timer, send_after_fires_once_at_its_due_time) {
  troupe::sim::runtime rt;
  std::vector<seen> log;
  troupe::system sys(rt.config());
  auto t = sys.spawn<ticker>(&log).value();
  const time_point start = rt.now();
  t.tell(start_once{1, 30ms});
  t.tell(start_once{2, 10ms});
  rt.advance(10ms - 1ns);
  EXPECT_TRUE(log.empty());
  rt.advance(1ns);
  EXPECT_EQ(log, (std::vector<seen>{{2, start + 10ms}}));
  rt.advance(1h);
  EXPECT_EQ(log, (std::vector<seen>{{2, start + 10ms}, {1, start + 30ms}}));
  EXPECT_EQ(t.ask(handles_active{}).get().value(), (std::vector<bool>{false, false}));
  EXPECT_EQ(rt.clock().armed(), 0u);
}

TEST(timer, timers_due_at_the_same_time_fire_in_arming_order) {
  troupe::sim::runtime rt;
  std::vector<seen> log;
  troupe::system sys(rt.config());
  auto t = sys.spawn<ticker>(&log).value();
  for (int id = 0; id < 5; ++id) t.tell(start_once{id, 5ms});
  rt.advance(5ms);
  ASSERT_EQ(log.size(), 5u);
  for (int id = 0; id < 5; ++id) EXPECT_EQ(log[id].id, id);
}

TEST(timer, send_interval_stays_on_its_grid_for_1000_ticks) {
  troupe::sim::runtime rt;
  std::vector<seen> log;
  troupe::system sys(rt.config());
  auto t = sys.spawn<ticker>(&log).value();
  rt.run();
  const troupe::duration period = 3ms;
  const time_point start = rt.now();
  t.tell(start_every{7, period});
  // Let time pass in uneven steps that never line up with the period.
  const troupe::duration steps[] = {1ms, 7ms, 2500us, 11ms, 333us, 4ms};
  troupe::duration elapsed{};
  for (int i = 0; elapsed + 11ms < 1000 * period; ++i) {
    const troupe::duration step = steps[i % std::size(steps)];
    rt.advance(step);
    elapsed += step;
  }
  rt.advance(1000 * period - elapsed);
  ASSERT_EQ(log.size(), 1000u);
  for (std::size_t k = 0; k < log.size(); ++k) {
    ASSERT_EQ(log[k].at, start + static_cast<int>(k + 1) * period) << "tick " << k + 1;
  }
  EXPECT_EQ(t.ask(handles_active{}).get().value(), std::vector<bool>{true});
}

TEST(timer, send_interval_catches_up_after_late_ticks_instead_of_drifting) {
  troupe::sim::runtime rt;
  std::vector<seen> log;
  troupe::system sys(rt.config());
  auto t = sys.spawn<ticker>(&log).value();
  rt.run();
  const time_point start = rt.now();
  t.tell(start_every{1, 10ms});
  rt.advance(10ms);
  ASSERT_EQ(log.size(), 1u);
  // The clock jumps past three due times at once (a timer thread that woke
  // late): those ticks come late, but the grid does not move.
  rt.clock().set(start + 45ms);
  rt.advance(0ns);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[3].at, start + 45ms);
  rt.advance(5ms);
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[4].at, start + 50ms) << "back on the grid";
  rt.advance(950ms);
  EXPECT_EQ(log.size(), 100u) << "exactly one tick per period overall";
  EXPECT_EQ(log.back().at, start + 1000ms);
}

TEST(timer, a_cancelled_timer_stops_ticking) {
  troupe::sim::runtime rt;
  std::vector<seen> log;
  troupe::system sys(rt.config());
  auto t = sys.spawn<ticker>(&log).value();
  t.tell(start_every{1, 10ms});
  t.tell(start_once{2, 35ms});
  rt.advance(30ms);
  EXPECT_EQ(log.size(), 3u);
  t.tell(cancel_all{});
  rt.run();
  EXPECT_EQ(t.ask(handles_active{}).get().value(), (std::vector<bool>{false, false}));
  EXPECT_EQ(rt.clock().armed(), 0u);
  rt.advance(1s);
  EXPECT_EQ(log.size(), 3u) << "neither the interval nor the pending one-shot fired";
  // Cancelling again, or an empty handle, is harmless.
  t.tell(cancel_all{});
  troupe::timer_handle empty;
  empty.cancel();
  EXPECT_FALSE(empty.active());
  rt.run();
}

TEST(timer, stopping_the_actor_cancels_its_timers) {
  for (bool kill : {false, true}) {
    SCOPED_TRACE(kill ? "kill" : "stop");
    troupe::sim::runtime rt;
    std::vector<seen> log;
    troupe::system sys(rt.config());
    auto t = sys.spawn<ticker>(&log).value();
    t.tell(start_every{1, 1ms});
    t.tell(start_once{2, 1h});
    rt.advance(5ms);
    EXPECT_EQ(log.size(), 5u);
    EXPECT_EQ(rt.clock().armed(), 2u);
    if (kill)
      t.kill();
    else
      t.stop();
    rt.run();
    EXPECT_EQ(rt.clock().armed(), 0u);
    const std::uint64_t dead = sys.dead_letters();
    rt.advance(2h);
    EXPECT_EQ(log.size(), 5u);
    EXPECT_EQ(sys.dead_letters(), dead) << "no tick is even sent";
  }
}

/// Counts ticks on real time, cancels its timer and releases a latch at the
/// n-th.
class real_ticker : public troupe::actor<real_ticker> {
 public:
  using handles = troupe::handles<tick, start_every>;
  real_ticker(std::latch* done, int want) : done_(done), want_(want) {}

  void handle(tick) {
    if (++n_ == want_) {
      timer_.cancel();
      done_->count_down();
    }
  }
  void handle(start_every m) { timer_ = send_interval(m.period, tick{m.id}); }

 private:
  std::latch* done_;
  int want_;
  int n_ = 0;
  troupe::timer_handle timer_;
};

TEST(timer, timers_fire_on_the_real_clock) {
  troupe::testing::watchdog guard("timer.timers_fire_on_the_real_clock");
  troupe::system sys(troupe::system_config{.workers = 2});
  std::latch done(1);
  auto t = sys.spawn<real_ticker>(&done, 20).value();
  const time_point start = sys.time().now();
  t.tell(start_every{1, 1ms});
  done.wait();
  EXPECT_GE(sys.time().now() - start, 20ms) << "20 ticks of 1 ms cannot come sooner";
  EXPECT_TRUE(sys.shutdown(5s).clean());
}

}  // namespace
