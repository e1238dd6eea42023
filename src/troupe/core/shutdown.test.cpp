#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/sim/runtime.hpp"

// system::shutdown: every actor gets post_stop; a stuck handler cannot hold
// the shutdown (or the destructor) past its deadline.

namespace {

using namespace std::chrono_literals;
using troupe::task;

struct work {
  static constexpr std::string_view type_name = "test.shutdown.work";
};
struct nap {
  static constexpr std::string_view type_name = "test.shutdown.nap";
  troupe::duration d;
  std::latch* entered = nullptr;
};
struct hang {
  static constexpr std::string_view type_name = "test.shutdown.hang";
  std::latch* entered;
  std::latch* release;
};

/// Counts post_stop calls by reason.
struct stops {
  std::atomic<int> normal{0}, shutdown{0}, killed{0}, other{0};
  std::atomic<int> total{0};
  std::atomic<int> naps_done{0};
};

class member : public troupe::actor<member> {
 public:
  using handles = troupe::handles<work, nap, hang>;
  explicit member(stops* s, std::latch* stopped = nullptr) : s_(s), stopped_(stopped) {}

  void handle(work) {}
  task<void> handle(nap m) {
    if (m.entered) m.entered->count_down();
    co_await sleep_for(m.d);
    s_->naps_done.fetch_add(1);
  }
  void handle(hang m) {
    m.entered->count_down();
    m.release->wait();
  }
  void post_stop(const troupe::exit_reason& why) {
    using k = troupe::exit_reason::kind;
    (why.what() == k::shutdown ? s_->shutdown
     : why.what() == k::normal ? s_->normal
     : why.what() == k::killed ? s_->killed
                               : s_->other)
        .fetch_add(1);
    s_->total.fetch_add(1);
    if (stopped_) stopped_->count_down();
  }

 private:
  stops* s_;
  std::latch* stopped_;
};

TEST(shutdown, on_the_sim_every_actor_stops_with_reason_shutdown) {
  troupe::sim::runtime rt;
  stops s;
  troupe::system sys(rt.config());
  for (int i = 0; i < 50; ++i) {
    auto m = sys.spawn<member>(&s).value();
    m.tell(work{});
    if (i % 10 == 0) m.tell(nap{1s});  // a suspended handler finishes first
  }
  rt.run();
  EXPECT_EQ(sys.live_actors(), 50u);
  const troupe::time_point start = rt.now();
  troupe::shutdown_report rep = sys.shutdown(10s);
  EXPECT_TRUE(rep.clean());
  EXPECT_EQ(s.shutdown.load(), 50);
  EXPECT_EQ(s.total.load(), 50);
  EXPECT_EQ(s.naps_done.load(), 5);
  EXPECT_EQ(rt.now() - start, 1s) << "virtual time ran until the naps ended";
  EXPECT_EQ(sys.live_actors(), 0u);
  troupe::shutdown_report again = sys.shutdown(10s);
  EXPECT_TRUE(again.clean()) << "a second shutdown does nothing";
  EXPECT_EQ(s.total.load(), 50);
}

TEST(shutdown, on_real_threads_every_actor_gets_post_stop) {
  troupe::testing::watchdog guard("shutdown.on_real_threads_every_actor_gets_post_stop");
  stops s;
  {
    troupe::system sys(troupe::system_config{.workers = 2});
    for (int i = 0; i < 200; ++i) {
      troupe::spawn_options opts;
      opts.dedicated_thread = i % 50 == 0;
      auto m = sys.spawn_with<member>(opts, &s).value();
      for (int k = 0; k < 100; ++k) m.tell(work{});
      if (i % 20 == 0) m.tell(nap{10ms});
    }
    troupe::shutdown_report rep = sys.shutdown(20s);
    EXPECT_TRUE(rep.clean()) << rep.stuck_actors << " actors, " << rep.stuck_threads << " threads";
    EXPECT_EQ(sys.live_actors(), 0u);
    EXPECT_EQ(s.total.load(), 200) << "post_stop ran before shutdown returned";
  }
  EXPECT_EQ(s.total.load(), 200);
  EXPECT_EQ(s.shutdown.load() + s.normal.load(), 200);
  EXPECT_EQ(s.other.load(), 0);
}

TEST(shutdown, a_long_suspended_handler_is_killed_at_half_the_deadline) {
  troupe::testing::watchdog guard("shutdown.a_long_suspended_handler_is_killed");
  stops s;
  troupe::system sys(troupe::system_config{.workers = 2});
  auto napping = sys.spawn<member>(&s).value();
  for (int i = 0; i < 10; ++i) (void)sys.spawn<member>(&s).value();
  std::latch entered(1);
  napping.tell(nap{1h, &entered});
  entered.wait();  // suspended now, not stuck: its thread is free
  const troupe::duration timeout = 800ms;
  const auto t0 = std::chrono::steady_clock::now();
  troupe::shutdown_report rep = sys.shutdown(timeout);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(rep.clean()) << rep.stuck_actors << " actors, " << rep.stuck_threads << " threads";
  EXPECT_GE(took, timeout / 2) << "the stop waited for the handler until half the deadline";
  EXPECT_LT(took, timeout);
  EXPECT_EQ(s.killed.load(), 1) << "then it was killed";
  EXPECT_EQ(s.shutdown.load(), 10);
  EXPECT_EQ(s.naps_done.load(), 0);
}

/// Runs shutdown(timeout) with one handler stuck on a latch until shutdown has
/// returned, then checks the report and lets the handler go.
void shutdown_with_a_stuck_handler(bool dedicated) {
  stops s;
  std::latch entered(1), release(1), stopped(1);
  auto sys = std::make_unique<troupe::system>(troupe::system_config{.workers = 2});
  troupe::spawn_options opts;
  opts.dedicated_thread = dedicated;
  auto stuck = sys->spawn_with<member>(opts, &s, &stopped).value();
  for (int i = 0; i < 20; ++i) (void)sys->spawn<member>(&s).value();
  stuck.tell(hang{&entered, &release});
  entered.wait();

  const troupe::duration timeout = 600ms;
  const auto t0 = std::chrono::steady_clock::now();
  troupe::shutdown_report rep = sys->shutdown(timeout);
  const auto took = std::chrono::steady_clock::now() - t0;

  EXPECT_EQ(rep.stuck_actors, 1u);
  EXPECT_EQ(rep.stuck_threads, 1u) << (dedicated ? "its dedicated thread" : "its pool worker");
  EXPECT_FALSE(rep.clean());
  EXPECT_EQ(s.total.load(), 20) << "the others all stopped";
  EXPECT_GE(took, timeout) << "it waited for the stuck actor up to the deadline";
  // The deadline, plus two short grace periods (100 ms each) for threads to
  // join, plus scheduling slack.
  EXPECT_LT(took, timeout + 1s);
  sys.reset();  // the destructor returns at once: the shutdown already happened

  release.count_down();  // now the handler returns and its actor ends
  stopped.wait();
  EXPECT_EQ(s.total.load(), 21);
}

TEST(shutdown, a_stuck_pool_handler_cannot_hold_shutdown_past_its_deadline) {
  troupe::testing::watchdog guard("shutdown.a_stuck_pool_handler");
  shutdown_with_a_stuck_handler(false);
}

TEST(shutdown, a_stuck_dedicated_handler_cannot_hold_shutdown_past_its_deadline) {
  troupe::testing::watchdog guard("shutdown.a_stuck_dedicated_handler");
  shutdown_with_a_stuck_handler(true);
}

TEST(shutdown, the_destructor_never_hangs) {
  troupe::testing::watchdog guard("shutdown.the_destructor_never_hangs");
  stops s;
  std::latch entered(1), release(1), stopped(1);
  const auto t0 = std::chrono::steady_clock::now();
  {
    troupe::system_config cfg;
    cfg.workers = 2;
    cfg.shutdown_timeout = 300ms;
    troupe::system sys(cfg);
    auto stuck = sys.spawn<member>(&s, &stopped).value();
    stuck.tell(hang{&entered, &release});
    entered.wait();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 300ms + 1s);
  release.count_down();
  stopped.wait();
  EXPECT_EQ(s.total.load(), 1);
}

}  // namespace
