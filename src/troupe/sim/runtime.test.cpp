#include "troupe/sim/runtime.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"

// The deterministic runtime: its executor runs work in posting order and only
// when driven, time moves only when told, and a seed replays a whole run.

namespace {

using namespace std::chrono_literals;
using troupe::task;

/// Appends its tag to a log each time it runs.
class step_item final : public troupe::schedulable {
 public:
  step_item(std::vector<int>* log, int tag) : log_(log), tag_(tag) {}
  void run() noexcept override { log_->push_back(tag_); }

 private:
  std::vector<int>* log_;
  int tag_;
};

TEST(sim_executor, runs_items_in_posting_order_only_when_driven) {
  troupe::sim::runtime rt;
  auto& ex = rt.executor();
  std::vector<int> log;
  step_item a(&log, 1), b(&log, 2), c(&log, 3);
  EXPECT_FALSE(ex.in_executor());
  ex.post(&b, troupe::post_hint::wake);
  ex.post(&a, troupe::post_hint::yield);
  ex.post(&c, troupe::post_hint::wake);
  EXPECT_EQ(ex.queued(), 3u);
  EXPECT_TRUE(log.empty()) << "nothing runs until driven";
  EXPECT_TRUE(ex.step());
  EXPECT_EQ(log, std::vector<int>{2});
  EXPECT_EQ(rt.run(), 2u);
  EXPECT_EQ(log, (std::vector<int>{2, 1, 3}));
  EXPECT_FALSE(ex.step());
  EXPECT_EQ(ex.queued(), 0u);
}

/// Checks in_executor() from inside a run.
class inside_item final : public troupe::schedulable {
 public:
  explicit inside_item(troupe::sim::sim_executor* ex) : ex_(ex) {}
  void run() noexcept override { inside = ex_->in_executor(); }
  bool inside = false;

 private:
  troupe::sim::sim_executor* ex_;
};

TEST(sim_executor, reports_being_inside_only_while_running_an_item) {
  troupe::sim::runtime rt;
  inside_item it(&rt.executor());
  rt.executor().post(&it, troupe::post_hint::wake);
  rt.run();
  EXPECT_TRUE(it.inside);
  EXPECT_FALSE(rt.executor().in_executor());
}

struct hello {
  static constexpr std::string_view type_name = "test.sim.hello";
  int from;
};
struct arm {
  static constexpr std::string_view type_name = "test.sim.arm";
  troupe::duration after;
  int tag;
};

/// Logs each message with the virtual time it saw (counted from the manual
/// clock's default start).
class logger : public troupe::actor<logger> {
 public:
  using handles = troupe::handles<hello, arm>;
  logger(std::vector<std::string>* log, int id) : log_(log), id_(id) {}

  void handle(hello m) {
    const auto ms = (now() - troupe::time_point(std::chrono::hours(1))) / 1ms;
    log_->push_back(std::to_string(id_) + " from " + std::to_string(m.from) + " at " +
                    std::to_string(ms) + "ms");
  }
  void handle(arm m) { send_after(m.after, hello{m.tag}); }

 private:
  std::vector<std::string>* log_;
  int id_;
};

TEST(sim_runtime, advance_fires_timers_in_order_and_runs_their_work_in_between) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto a = sys.spawn<logger>(&log, 1).value();
  rt.run();
  const troupe::time_point start = rt.now();
  a.tell(arm{30ms, 30});
  a.tell(arm{10ms, 10});
  a.tell(arm{20ms, 20});
  rt.advance(25ms);
  EXPECT_EQ(log, (std::vector<std::string>{"1 from 10 at 10ms", "1 from 20 at 20ms"}));
  EXPECT_EQ(rt.now(), start + 25ms) << "advance ends exactly at its target";
  rt.advance(5ms);
  EXPECT_EQ(log.back(), "1 from 30 at 30ms");
  rt.advance(0ns);
  EXPECT_EQ(rt.now(), start + 30ms);
  EXPECT_EQ(log.size(), 3u);
}

TEST(sim_runtime, time_does_not_move_while_work_runs) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto a = sys.spawn<logger>(&log, 1).value();
  const troupe::time_point start = rt.now();
  for (int i = 0; i < 1000; ++i) a.tell(hello{0});
  rt.run();
  EXPECT_EQ(rt.now(), start);
  EXPECT_EQ(log.size(), 1000u);
}

struct roll {
  using reply = std::vector<std::uint64_t>;
  static constexpr std::string_view type_name = "test.sim.roll";
  int n;
};
struct roll_and_sleep {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.sim.roll_and_sleep";
  int rounds;
};

/// Draws from the system's random source; sleeps for random virtual times.
class dice : public troupe::actor<dice> {
 public:
  using handles = troupe::handles<roll, roll_and_sleep>;
  std::vector<std::uint64_t> handle(roll m) {
    std::vector<std::uint64_t> v;
    for (int i = 0; i < m.n; ++i) v.push_back(random().below(1000));
    return v;
  }
  task<std::string> handle(roll_and_sleep m) {
    std::string trace;
    for (int i = 0; i < m.rounds; ++i) {
      const auto d = std::chrono::microseconds(random().below(5000));
      co_await sleep_for(d);
      trace += std::to_string(d.count()) + ",";
    }
    co_return trace;
  }
};

/// Runs a small random scenario and returns everything observable about it.
std::string scenario(std::uint64_t seed) {
  troupe::sim::runtime rt(seed);
  troupe::system sys(rt.config());
  std::vector<troupe::endpoint<dice>> ds;
  for (int i = 0; i < 3; ++i) ds.push_back(sys.spawn<dice>().value());
  std::vector<troupe::response<std::string>> pending;
  for (auto& d : ds) pending.push_back(d.ask(roll_and_sleep{20}, 1h));
  std::string out;
  for (auto& p : pending) out += p.get().value() + "|";
  const std::vector<std::uint64_t> rolled = ds[0].ask(roll{10}).get().value();
  for (std::uint64_t v : rolled) out += std::to_string(v) + ",";
  out += "|t=" + std::to_string((rt.now().time_since_epoch() - 1h) / 1us);
  return out;
}

TEST(sim_runtime, the_same_seed_replays_the_same_run) {
  const std::string first = scenario(42);
  EXPECT_EQ(scenario(42), first);
  EXPECT_NE(scenario(43), first);
}

TEST(seeded_random, replays_its_sequence) {
  troupe::sim::seeded_random a(99), b(99), c(100);
  std::vector<std::uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.next());
    vb.push_back(b.next());
    vc.push_back(c.next());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  troupe::sim::runtime r1(5), r2(5);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(r1.random().below(17), r2.random().below(17));
}

struct slow {
  using reply = int;
  static constexpr std::string_view type_name = "test.sim.slow";
  troupe::duration d;
};

class sleeper : public troupe::actor<sleeper> {
 public:
  using handles = troupe::handles<slow>;
  task<int> handle(slow m) {
    co_await sleep_for(m.d);
    co_return 1;
  }
};

TEST(sim_runtime, a_waiting_response_drives_work_and_time) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto s = sys.spawn<sleeper>().value();
  const troupe::time_point start = rt.now();
  EXPECT_EQ(s.ask(slow{3s}, 1min).get().value(), 1);
  EXPECT_EQ(rt.now() - start, 3s) << "get() stopped as soon as the reply came";
  EXPECT_EQ(rt.executor().queued(), 0u);
}

TEST(sim_runtime, actors_run_in_the_order_they_became_runnable) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto a = sys.spawn<logger>(&log, 1).value();
  auto b = sys.spawn<logger>(&log, 2).value();
  rt.run();
  a.tell(hello{0});
  b.tell(hello{0});
  a.tell(hello{9});
  rt.run();
  EXPECT_EQ(log,
            (std::vector<std::string>{"1 from 0 at 0ms", "1 from 9 at 0ms", "2 from 0 at 0ms"}))
      << "a became runnable first and handled both its messages in one turn";
}

TEST(sim_runtime, config_plugs_the_runtimes_seams_into_a_system) {
  troupe::sim::runtime rt(7);
  troupe::system_config cfg = rt.config();
  EXPECT_EQ(cfg.clock, &rt.clock());
  EXPECT_EQ(cfg.executor, &rt.executor());
  EXPECT_EQ(cfg.random, &rt.random());
  troupe::system sys(cfg);
  EXPECT_EQ(&sys.time(), &rt.clock());
}

}  // namespace

TEST(sim_runtime, advance_until_stops_when_the_condition_holds_or_at_the_limit) {
  troupe::sim::runtime rt;
  const troupe::time_point start = rt.now();
  // Holds after 250 ms of virtual time: found at the first 10 ms step past it.
  EXPECT_TRUE(rt.advance_until([&] { return rt.now() - start >= std::chrono::milliseconds(250); },
                               std::chrono::seconds(1)));
  EXPECT_EQ(rt.now() - start, std::chrono::milliseconds(250));
  // Never holds: gives up once the limit has passed, not before.
  const troupe::time_point second = rt.now();
  EXPECT_FALSE(rt.advance_until([] { return false; }, std::chrono::milliseconds(95)));
  EXPECT_GE(rt.now() - second, std::chrono::milliseconds(95));
  EXPECT_LT(rt.now() - second, std::chrono::milliseconds(110));
  // Already true: no time passes.
  const troupe::time_point third = rt.now();
  EXPECT_TRUE(rt.advance_until([] { return true; }, std::chrono::seconds(1)));
  EXPECT_EQ(rt.now(), third);
}
