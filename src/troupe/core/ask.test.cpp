#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"
#include "troupe/sim/runtime.hpp"

// Ask deadlines and outcomes on the deterministic runtime: every ask ends,
// with the reply or a typed error, exactly when virtual time says so.

namespace {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::task;

struct work {
  using reply = int;
  static constexpr std::string_view type_name = "test.ask.work";
  troupe::duration takes;
  int value;
};
struct fire_and_forget {
  static constexpr std::string_view type_name = "test.ask.fire_and_forget";
};
struct throws {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.ask.throws";
};
struct count {
  using reply = int;
  static constexpr std::string_view type_name = "test.ask.count";
};

/// Replies after `takes` of virtual time (reentrant, so asks overlap).
class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<work, fire_and_forget, throws, count>;
  static constexpr bool reentrant = true;

  task<int> handle(work m) {
    co_await sleep_for(m.takes);
    ++done_;
    co_return m.value;
  }
  void handle(fire_and_forget) { ++done_; }
  std::string handle(throws) { throw std::domain_error("no such thing"); }
  int handle(count) { return done_; }

 private:
  int done_ = 0;
};

TEST(ask, a_per_call_timeout_ends_the_ask_exactly_at_its_deadline) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  auto r = w.ask(work{10s, 1}, 250ms);
  rt.advance(250ms - 1ns);
  EXPECT_FALSE(r.ready());
  rt.advance(1ns);
  ASSERT_TRUE(r.ready());
  troupe::result<int> got = r.get();
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), errc::timeout);
  rt.advance(10s);  // the late reply is dropped without harm
  EXPECT_EQ(w.ask(count{}).get().value(), 1);
}

TEST(ask, get_drives_virtual_time_to_the_deadline) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  const troupe::time_point start = rt.now();
  troupe::result<int> got = w.ask(work{1h, 1}, 90s).get();
  EXPECT_EQ(got.error().code(), errc::timeout);
  EXPECT_EQ(rt.now() - start, 90s);
}

TEST(ask, a_reply_just_before_the_deadline_wins) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  auto r = w.ask(work{100ms - 1ns, 42}, 100ms);
  const troupe::time_point start = rt.now();
  EXPECT_EQ(r.get().value(), 42);
  EXPECT_EQ(rt.now() - start, 100ms - 1ns);
  EXPECT_EQ(rt.clock().armed(), 0u) << "the deadline was disarmed by the reply";
}

TEST(ask, the_default_deadline_comes_from_the_system_config) {
  troupe::sim::runtime rt;
  troupe::system_config cfg = rt.config();
  cfg.default_ask_timeout = 2s;
  troupe::system sys(cfg);
  auto w = sys.spawn<worker>().value();
  auto slow = w.ask(work{3s, 1});
  auto fast = w.ask(work{2s - 1ns, 2});
  rt.advance(2s - 1ns);
  ASSERT_TRUE(fast.ready());
  EXPECT_EQ(fast.get().value(), 2);
  EXPECT_FALSE(slow.ready());
  rt.advance(1ns);
  ASSERT_TRUE(slow.ready());
  EXPECT_EQ(slow.get().error().code(), errc::timeout);
}

TEST(ask, the_built_in_default_deadline_is_five_seconds) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  const troupe::time_point start = rt.now();
  EXPECT_EQ(w.ask(work{1h, 1}).get().error().code(), errc::timeout);
  EXPECT_EQ(rt.now() - start, 5s);
}

TEST(ask, many_overlapping_deadlines_end_in_order) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  std::vector<troupe::response<int>> pending;
  // Ask i takes i ms and may wait 50.5 ms: asks 0..50 succeed, the rest time out.
  for (int i = 0; i < 100; ++i) pending.push_back(w.ask(work{i * 1ms, i}, 50500us));
  rt.advance(50500us);
  int ok = 0, timed_out = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(pending[i].ready()) << i;
    troupe::result<int> r = pending[i].get();
    if (r) {
      EXPECT_EQ(*r, i);
      EXPECT_LE(i, 50);
      ++ok;
    } else {
      EXPECT_EQ(r.error().code(), errc::timeout);
      EXPECT_GT(i, 50);
      ++timed_out;
    }
  }
  EXPECT_EQ(ok, 51);
  EXPECT_EQ(timed_out, 49);
}

TEST(ask, asking_a_tell_only_message_replies_void_once_handled) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  auto r = w.ask(fire_and_forget{});
  EXPECT_FALSE(r.ready());
  troupe::result<void> got = r.get();
  EXPECT_TRUE(got.has_value());
  EXPECT_EQ(w.ask(count{}).get().value(), 1);
}

TEST(ask, a_throwing_handler_ends_the_ask_with_handler_failed) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  troupe::result<std::string> r = w.ask(throws{}).get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), errc::handler_failed);
  EXPECT_EQ(r.error().message(), "handler_failed: no such thing");
  EXPECT_EQ(sys.live_actors(), 0u);
}

TEST(ask, in_flight_asks_end_with_actor_not_found_when_the_actor_dies) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  auto in_handler = w.ask(work{1s, 1}, 1h);
  rt.run();
  auto queued = w.ask(count{}, 1h);
  w.kill();
  rt.run();
  EXPECT_EQ(in_handler.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(queued.get().error().code(), errc::actor_not_found);
  auto after = w.ask(count{}, 1h);
  ASSERT_TRUE(after.ready());
  EXPECT_EQ(after.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(rt.clock().armed(), 0u) << "every ended ask disarmed its deadline";
}

TEST(ask, every_error_code_has_a_stable_name) {
  EXPECT_EQ(troupe::to_string(errc::timeout), "timeout");
  EXPECT_EQ(troupe::to_string(errc::actor_not_found), "actor_not_found");
  EXPECT_EQ(troupe::to_string(errc::node_down), "node_down");
  EXPECT_EQ(troupe::to_string(errc::mailbox_full), "mailbox_full");
  EXPECT_EQ(troupe::to_string(errc::decode_error), "decode_error");
  EXPECT_EQ(troupe::to_string(errc::handler_failed), "handler_failed");
  EXPECT_EQ(troupe::to_string(errc::unauthorized), "unauthorized");
  EXPECT_EQ(troupe::to_string(errc::start_failed), "start_failed");
  EXPECT_EQ(troupe::to_string(errc::shutting_down), "shutting_down");
  EXPECT_EQ(troupe::to_string(errc::dropped), "dropped");
  EXPECT_EQ(troupe::error(errc::timeout).message(), "timeout");
  EXPECT_EQ(troupe::error(errc::timeout, "late").message(), "timeout: late");
}

}  // namespace
