#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/testing/traced_counter.hpp"
#include "troupe/sim/runtime.hpp"

// Actor lifecycle on the deterministic runtime: start hooks and their
// failures, post_stop reasons, spawning after shutdown.

namespace {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::exit_reason;
using troupe::task;

using troupe::testing::counter;
using troupe::testing::fail_now;
using troupe::testing::get;
using troupe::testing::inc;
using troupe::testing::stop_self;
using troupe::testing::stop_via_endpoint;
using troupe::testing::trace;

TEST(lifecycle, post_start_runs_before_the_first_message_and_post_stop_once) {
  troupe::sim::runtime rt;
  trace t;
  {
    troupe::system sys(rt.config());
    auto c = sys.spawn<counter>(&t).value();
    EXPECT_TRUE(t.events.empty()) << "post_start runs on the executor, not inside spawn";
    c.tell(inc{});
    c.tell(inc{});
    rt.run();
    EXPECT_EQ(t.events, (std::vector<std::string>{"post_start", "inc 1", "inc 2"}));
    c.stop();
    c.stop();  // a second stop and a kill change nothing
    c.kill();
    rt.run();
  }
  EXPECT_EQ(t.events.back(), "post_stop normal");
  EXPECT_EQ(t.post_stops, 1);
  EXPECT_EQ(t.constructed, 1);
  EXPECT_EQ(t.destroyed, 1);
}

TEST(lifecycle, post_stop_gets_the_reason) {
  troupe::sim::runtime rt;
  trace normal, killed, failed, shutdown;
  troupe::system sys(rt.config());
  auto a = sys.spawn<counter>(&normal).value();
  auto b = sys.spawn<counter>(&killed).value();
  auto c = sys.spawn<counter>(&failed).value();
  auto d = sys.spawn<counter>(&shutdown).value();
  rt.run();
  a.stop();
  b.kill();
  auto f = c.ask(fail_now{});
  rt.run();
  troupe::result<int> failure = f.get();
  ASSERT_FALSE(failure.has_value());
  EXPECT_EQ(failure.error().code(), errc::handler_failed);
  EXPECT_EQ(failure.error().detail(), "handler gave up");
  EXPECT_EQ(sys.live_actors(), 1u);
  EXPECT_TRUE(sys.shutdown(1s).clean());

  EXPECT_EQ(normal.events.back(), "post_stop normal");
  EXPECT_EQ(killed.events.back(), "post_stop killed");
  EXPECT_EQ(failed.events.back(), "post_stop failed: handler gave up");
  EXPECT_EQ(shutdown.events.back(), "post_stop shutdown");
  for (const trace* t : {&normal, &killed, &failed, &shutdown}) {
    EXPECT_EQ(t->post_stops, 1);
    EXPECT_EQ(t->destroyed, 1) << "the actor object is destroyed once it stopped";
  }
  EXPECT_EQ(sys.live_actors(), 0u);
}

/// on_start variants: throw, refuse with an error, succeed.
enum class start_mode { ok, throws, refuses, returns_error, throws_non_std };

class picky : public troupe::actor<picky> {
 public:
  using handles = troupe::handles<inc>;
  picky(trace* t, start_mode m) : t_(t), mode_(m) { ++t_->constructed; }
  ~picky() { ++t_->destroyed; }

  troupe::result<void> on_start() {
    t_->events.push_back("on_start");
    // A timer armed in on_start must not outlive a refused start, nor may
    // the actor's own endpoint keep it alive.
    ticks_ = send_interval(1ms, inc{});
    me_ = self();
    switch (mode_) {
      case start_mode::ok:
        return {};
      case start_mode::throws:
        throw std::runtime_error("database unreachable");
      case start_mode::refuses:
        return troupe::error(errc::start_failed, "not ready");
      case start_mode::returns_error:
        return troupe::error(errc::unauthorized, "no permission");
      case start_mode::throws_non_std:
        throw 42;
    }
    return {};
  }
  void post_start() { t_->events.push_back("post_start"); }
  void post_stop(const exit_reason&) {
    ++t_->post_stops;
    t_->events.push_back("post_stop");
  }
  void handle(inc) { t_->events.push_back("inc"); }

 private:
  trace* t_;
  start_mode mode_;
  troupe::timer_handle ticks_;
  troupe::endpoint<picky> me_;
};

TEST(lifecycle, a_failing_on_start_refuses_the_spawn_and_leaves_nothing_behind) {
  struct want_t {
    start_mode mode;
    std::string message;
  };
  const std::vector<want_t> cases{
      {start_mode::throws, "start_failed: database unreachable"},
      {start_mode::refuses, "start_failed: not ready"},
      {start_mode::returns_error, "start_failed: unauthorized: no permission"},
      {start_mode::throws_non_std, "start_failed: unknown exception"},
  };
  for (const want_t& w : cases) {
    SCOPED_TRACE(w.message);
    troupe::sim::runtime rt;
    trace t;
    {
      troupe::system sys(rt.config());
      auto r = sys.spawn<picky>(&t, w.mode);
      ASSERT_FALSE(r.has_value());
      EXPECT_EQ(r.error().code(), errc::start_failed);
      EXPECT_EQ(r.error().message(), w.message);
      EXPECT_EQ(sys.live_actors(), 0u);
      EXPECT_EQ(rt.clock().armed(), 0u) << "the timer armed in on_start is cancelled";
      rt.advance(10ms);
      EXPECT_EQ(sys.dead_letters(), 0u) << "no tick reaches the dead actor's mailbox";
    }
    EXPECT_EQ(t.events, std::vector<std::string>{"on_start"}) << "no post_start, no post_stop";
    EXPECT_EQ(t.constructed, 1);
    EXPECT_EQ(t.destroyed, 1);
    EXPECT_EQ(rt.executor().queued(), 0u);
  }
}

/// Refuses to start by returning false.
class reluctant : public troupe::actor<reluctant> {
 public:
  using handles = troupe::handles<inc>;
  explicit reluctant(trace* t) : t_(t) {}
  ~reluctant() { ++t_->destroyed; }
  bool on_start() { return false; }
  void post_stop(const exit_reason&) { ++t_->post_stops; }
  void handle(inc) {}

 private:
  trace* t_;
};

TEST(lifecycle, an_on_start_returning_false_refuses_the_spawn) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto r = sys.spawn<reluctant>(&t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "start_failed: on_start returned false");
  rt.run();
  EXPECT_EQ(t.destroyed, 1);
  EXPECT_EQ(t.post_stops, 0);
}

TEST(lifecycle, a_successful_on_start_runs_before_post_start) {
  troupe::sim::runtime rt;
  trace t;
  {
    troupe::system sys(rt.config());
    auto p = sys.spawn<picky>(&t, start_mode::ok).value();
    EXPECT_EQ(t.events, std::vector<std::string>{"on_start"}) << "on_start runs inside spawn";
    rt.advance(2ms);
  }
  EXPECT_EQ(t.events,
            (std::vector<std::string>{"on_start", "post_start", "inc", "inc", "post_stop"}));
  EXPECT_EQ(t.destroyed, 1);
}

/// A constructor that throws (a std exception or anything else), after
/// arming a timer.
class fragile : public troupe::actor<fragile> {
 public:
  using handles = troupe::handles<inc>;
  explicit fragile(bool std_exception) {
    send_after(1ms, inc{});
    if (std_exception) throw std::invalid_argument("bad config");
    throw 7;
  }
  void handle(inc) {}
};

TEST(lifecycle, a_throwing_constructor_refuses_the_spawn) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<fragile>(true);
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code(), errc::start_failed);
  EXPECT_EQ(a.error().detail(), "bad config");
  auto b = sys.spawn<fragile>(false);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().message(), "start_failed: unknown exception");
  EXPECT_EQ(sys.live_actors(), 0u);
  EXPECT_EQ(rt.clock().armed(), 0u) << "the constructor's timers are cancelled";
  rt.advance(5ms);  // (a timer left armed would tick into freed memory)
  EXPECT_EQ(sys.dead_letters(), 0u);
}

/// Fails in post_start.
class late_failure : public troupe::actor<late_failure> {
 public:
  using handles = troupe::handles<get>;
  explicit late_failure(trace* t) : t_(t) {}
  void post_start() { throw std::runtime_error("post_start failed"); }
  int handle(get) {
    t_->events.push_back("get");
    return 0;
  }
  void post_stop(const exit_reason& why) { t_->events.push_back(why.to_string()); }

 private:
  trace* t_;
};

TEST(lifecycle, a_throwing_post_start_fails_the_actor_before_any_message) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto a = sys.spawn<late_failure>(&t).value();
  auto r = a.ask(get{});
  EXPECT_EQ(r.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(t.events, std::vector<std::string>{"failed: post_start failed"});
}

TEST(lifecycle, spawn_after_shutdown_is_refused) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  EXPECT_TRUE(sys.shutdown(1s).clean());
  auto r = sys.spawn<counter>(&t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), errc::shutting_down);
  EXPECT_EQ(t.constructed, 0);
}

TEST(lifecycle, endpoints_compare_and_carry_distinct_ids) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto a = sys.spawn<counter>(&t).value();
  auto b = sys.spawn<counter>(&t).value();
  auto a2 = a;
  EXPECT_EQ(a, a2);
  EXPECT_FALSE(a == b);
  EXPECT_NE(a.id(), b.id());
  EXPECT_NE(a.id(), 0u);
  EXPECT_EQ(troupe::endpoint<counter>().id(), 0u);
}

}  // namespace
