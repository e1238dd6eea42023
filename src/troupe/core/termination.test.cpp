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

// How actors end, on the deterministic runtime: kill, stop and drain (with
// suspended handlers, queued messages and reentrancy), and dead letters.

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

struct destroyed_flag {
  bool* flag;
  ~destroyed_flag() { *flag = true; }
};

struct park {
  using reply = int;
  static constexpr std::string_view type_name = "test.lifecycle.park";
  bool* destroyed;
  bool* resumed;
};
struct park_on_ask {
  using reply = int;
  static constexpr std::string_view type_name = "test.lifecycle.park_on_ask";
  bool* destroyed;
  bool* resumed;
};
struct slow_get {
  using reply = int;
  static constexpr std::string_view type_name = "test.lifecycle.slow_get";
};

/// Answers after 1 s of virtual time.
class slow_service : public troupe::actor<slow_service> {
 public:
  using handles = troupe::handles<slow_get>;
  task<int> handle(slow_get) {
    co_await sleep_for(1s);
    co_return 7;
  }
};

/// Handlers that stay suspended: on a long sleep, or on an ask.
class sleeper : public troupe::actor<sleeper> {
 public:
  using handles = troupe::handles<park, park_on_ask, get>;
  sleeper(trace* t, troupe::endpoint<slow_service> s) : t_(t), s_(s) {}

  task<int> handle(park m) {
    destroyed_flag guard{m.destroyed};
    co_await sleep_for(1h);
    *m.resumed = true;
    co_return 1;
  }
  task<int> handle(park_on_ask m) {
    destroyed_flag guard{m.destroyed};
    slow_get req;
    troupe::result<int> r = co_await s_.ask(req, 10s);
    *m.resumed = true;
    co_return r.value_or(-1);
  }
  int handle(get) { return 0; }
  void post_stop(const exit_reason& why) { t_->events.push_back(why.to_string()); }

 private:
  trace* t_;
  troupe::endpoint<slow_service> s_;
};

TEST(termination, kill_destroys_a_suspended_handler_without_resuming_it) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto svc = sys.spawn<slow_service>().value();
  auto s = sys.spawn<sleeper>(&t, svc).value();
  bool destroyed = false, resumed = false;
  auto r = s.ask(park{&destroyed, &resumed}, 3h);
  auto queued = s.ask(get{}, 3h);
  rt.advance(1min);
  EXPECT_FALSE(r.ready());
  EXPECT_FALSE(destroyed);
  s.kill();  // the system lane is read even while the handler is suspended
  rt.run();
  EXPECT_TRUE(destroyed) << "the coroutine frame is destroyed";
  EXPECT_FALSE(resumed);
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(queued.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(t.events, std::vector<std::string>{"killed"});
  EXPECT_EQ(rt.clock().armed(), 0u) << "the sleep's timer is cancelled";
  rt.advance(2h);
  EXPECT_FALSE(resumed);
}

TEST(termination, kill_while_awaiting_an_ask_ignores_the_late_reply) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto svc = sys.spawn<slow_service>().value();
  auto s = sys.spawn<sleeper>(&t, svc).value();
  bool destroyed = false, resumed = false;
  auto r = s.ask(park_on_ask{&destroyed, &resumed});
  rt.advance(500ms);
  s.kill();
  rt.run();
  EXPECT_TRUE(destroyed);
  EXPECT_EQ(r.get().error().code(), errc::actor_not_found);
  rt.advance(5s);  // the service replies at 1 s; nobody may resume the frame
  EXPECT_FALSE(resumed);
  EXPECT_EQ(sys.live_actors(), 1u);
}

struct wait_then {
  using reply = int;
  static constexpr std::string_view type_name = "test.lifecycle.wait_then";
  troupe::duration d;
  bool fail;
  bool* destroyed;
};

/// A reentrant actor whose handlers sleep, then reply or throw.
class juggler : public troupe::actor<juggler> {
 public:
  using handles = troupe::handles<wait_then>;
  static constexpr bool reentrant = true;
  explicit juggler(trace* t) : t_(t) {}
  task<int> handle(wait_then m) {
    destroyed_flag guard{m.destroyed};
    co_await sleep_for(m.d);
    if (m.fail) throw std::runtime_error("juggler dropped one");
    co_return 1;
  }
  void post_stop(const exit_reason& why) { t_->events.push_back(why.to_string()); }

 private:
  trace* t_;
};

TEST(termination, kill_destroys_every_suspended_handler_of_a_reentrant_actor) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto j = sys.spawn<juggler>(&t).value();
  bool destroyed[3] = {false, false, false};
  std::vector<troupe::response<int>> asks;
  for (int i = 0; i < 3; ++i)
    asks.push_back(j.ask(wait_then{1s * (i + 1), false, &destroyed[i]}, 1h));
  rt.run();
  j.kill();
  rt.run();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(destroyed[i]) << i;
    EXPECT_EQ(asks[i].get().error().code(), errc::actor_not_found) << i;
  }
  EXPECT_EQ(t.events, std::vector<std::string>{"killed"});
}

TEST(termination, a_failing_handler_ends_the_other_suspended_handlers) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto j = sys.spawn<juggler>(&t).value();
  bool d1 = false, d2 = false, d3 = false;
  auto ok = j.ask(wait_then{1s, false, &d1}, 1h);
  auto bad = j.ask(wait_then{2s, true, &d2}, 1h);
  auto cut = j.ask(wait_then{3s, false, &d3}, 1h);
  rt.advance(1s);
  EXPECT_EQ(ok.get().value(), 1);
  rt.advance(1s);
  troupe::result<int> failure = bad.get();
  ASSERT_FALSE(failure.has_value());
  EXPECT_EQ(failure.error().message(), "handler_failed: juggler dropped one");
  ASSERT_TRUE(cut.ready()) << "ended with the actor, not at its own time";
  EXPECT_EQ(cut.get().error().code(), errc::actor_not_found);
  EXPECT_TRUE(d1 && d2 && d3);
  EXPECT_EQ(t.events, std::vector<std::string>{"failed: juggler dropped one"});
}

TEST(termination, stop_waits_for_a_suspended_handler_and_refuses_the_queue) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto svc = sys.spawn<slow_service>().value();
  auto s = sys.spawn<sleeper>(&t, svc).value();
  bool destroyed = false, resumed = false;
  auto r = s.ask(park_on_ask{&destroyed, &resumed});
  auto queued = s.ask(get{});
  rt.advance(100ms);
  s.stop();
  rt.advance(899ms);
  EXPECT_FALSE(r.ready()) << "stop lets the suspended handler finish";
  EXPECT_TRUE(t.events.empty());
  rt.advance(1ms);
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get().value(), 7);
  EXPECT_TRUE(resumed);
  EXPECT_EQ(queued.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(t.events, std::vector<std::string>{"normal"});
}

TEST(termination, stop_takes_effect_after_the_current_message) {
  for (bool via_endpoint : {true, false}) {
    SCOPED_TRACE(via_endpoint ? "endpoint.stop()" : "actor::stop()");
    troupe::sim::runtime rt;
    trace t;
    troupe::system sys(rt.config());
    auto c = sys.spawn<counter>(&t).value();
    c.tell(inc{});
    c.tell(inc{});
    if (via_endpoint)
      c.tell(stop_via_endpoint{});
    else
      c.tell(stop_self{});
    const std::uint64_t dead_before = sys.dead_letters();
    c.tell(inc{});
    c.tell(inc{});
    auto late = c.ask(get{});
    rt.run();
    EXPECT_EQ(t.events, (std::vector<std::string>{"post_start", "inc 1", "inc 2", "stopping",
                                                  "post_stop normal"}));
    EXPECT_EQ(late.get().error().code(), errc::actor_not_found);
    EXPECT_EQ(sys.dead_letters(), dead_before + 2) << "the two queued incs";
  }
}

TEST(termination, drain_handles_the_queue_and_refuses_new_messages) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto c = sys.spawn<counter>(&t).value();
  for (int i = 0; i < 3; ++i) c.tell(inc{});
  auto queued = c.ask(get{});
  c.drain();
  const std::uint64_t dead_before = sys.dead_letters();
  troupe::send_result refused = c.tell(inc{});
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), errc::actor_not_found);
  EXPECT_EQ(sys.dead_letters(), dead_before + 1);
  auto refused_ask = c.ask(get{});
  ASSERT_TRUE(refused_ask.ready()) << "refused at once, before anything ran";
  EXPECT_EQ(refused_ask.get().error().code(), errc::actor_not_found);
  rt.run();
  EXPECT_EQ(queued.get().value(), 3);
  EXPECT_EQ(t.events.back(), "post_stop normal");
  EXPECT_EQ(t.post_stops, 1);
  EXPECT_EQ(sys.live_actors(), 0u);
}

TEST(termination, tells_to_a_dead_actor_are_dead_letters_and_asks_fail) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto c = sys.spawn<counter>(&t).value();
  c.kill();
  rt.run();
  EXPECT_EQ(sys.live_actors(), 0u);
  const std::uint64_t before = sys.dead_letters();
  for (int i = 0; i < 5; ++i) {
    troupe::send_result s = c.tell(inc{});
    EXPECT_EQ(s.error(), errc::actor_not_found);
  }
  EXPECT_EQ(sys.dead_letters(), before + 5);
  auto r = c.ask(get{});
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(sys.dead_letters(), before + 5) << "a failed ask is not a dead letter";

  // An empty endpoint refuses everything too.
  troupe::endpoint<counter> none;
  EXPECT_FALSE(none);
  EXPECT_EQ(none.tell(inc{}).error(), errc::actor_not_found);
  EXPECT_EQ(none.ask(get{}).get().error().code(), errc::actor_not_found);
}

TEST(termination, tells_queued_when_an_actor_dies_are_dead_letters) {
  troupe::sim::runtime rt;
  trace t;
  troupe::system sys(rt.config());
  auto c = sys.spawn<counter>(&t).value();
  rt.run();
  for (int i = 0; i < 4; ++i) c.tell(inc{});
  c.kill();
  const std::uint64_t before = sys.dead_letters();
  rt.run();
  EXPECT_EQ(sys.dead_letters(), before + 4);
  EXPECT_EQ(t.events, (std::vector<std::string>{"post_start", "post_stop killed"}));
}

}  // namespace
