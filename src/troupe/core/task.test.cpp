#include "troupe/core/task.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

// Coroutine handlers on the deterministic runtime: awaiting asks, timers and
// other tasks; reentrancy; failures. (g++ 12: every value handed to a
// co_await'ed call is bound to a named local first, see DESIGN.md.)

namespace {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::exit_reason;
using troupe::task;

struct double_it {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.double_it";
  int n;
};

/// Replies 2n at once.
class doubler : public troupe::actor<doubler> {
 public:
  using handles = troupe::handles<double_it>;
  int handle(double_it m) { return 2 * m.n; }
};

struct slow_double {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.slow_double";
  int n;
  troupe::duration delay;
};

/// Replies 2n after a virtual delay (a coroutine handler that sleeps).
class slow_doubler : public troupe::actor<slow_doubler> {
 public:
  using handles = troupe::handles<slow_double>;
  static constexpr bool reentrant = true;  // serve overlapping asks
  task<int> handle(slow_double m) {
    co_await sleep_for(m.delay);
    co_return 2 * m.n;
  }
};

struct relay_req {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.relay_req";
  int n;
};

/// Asks a doubler and a slow doubler from inside a coroutine handler.
class relay : public troupe::actor<relay> {
 public:
  using handles = troupe::handles<relay_req>;
  relay(troupe::endpoint<doubler> d, troupe::endpoint<slow_doubler> s) : fast_(d), slow_(s) {}

  task<int> handle(relay_req m) {
    double_it first{m.n};
    troupe::result<int> a = co_await fast_.ask(first);
    slow_double second{a.value(), 3ms};
    troupe::result<int> b = co_await slow_.ask(second);
    co_return b.value() + 1;
  }

 private:
  troupe::endpoint<doubler> fast_;
  troupe::endpoint<slow_doubler> slow_;
};

TEST(task, a_handler_coroutine_awaits_asks_to_other_actors) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto d = sys.spawn<doubler>().value();
  auto s = sys.spawn<slow_doubler>().value();
  auto r = sys.spawn<relay>(d, s).value();

  const troupe::time_point start = rt.now();
  auto reply = r.ask(relay_req{5});
  rt.run();
  EXPECT_FALSE(reply.ready()) << "the slow doubler is still sleeping";
  rt.advance(3ms - 1ns);
  EXPECT_FALSE(reply.ready());
  rt.advance(1ns);
  ASSERT_TRUE(reply.ready());
  EXPECT_EQ(reply.get().value(), 21);  // (5 * 2) * 2 + 1
  EXPECT_EQ(rt.now() - start, 3ms);
}

struct nap {
  using reply = troupe::duration;
  static constexpr std::string_view type_name = "test.task.nap";
  troupe::duration d;
};

/// Sleeps and replies how much virtual time passed while it slept.
class napper : public troupe::actor<napper> {
 public:
  using handles = troupe::handles<nap>;
  task<troupe::duration> handle(nap m) {
    const troupe::time_point before = now();
    co_await sleep_for(m.d);
    co_return now() - before;
  }
};

TEST(task, sleep_for_resumes_the_handler_after_exactly_its_delay) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto n = sys.spawn<napper>().value();
  auto r = n.ask(nap{250ms});
  rt.advance(249ms);
  EXPECT_FALSE(r.ready());
  rt.advance(1ms);
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get().value(), 250ms);
  // A zero or negative delay does not suspend at all.
  EXPECT_EQ(n.ask(nap{0ns}).get().value(), 0ns);
  EXPECT_EQ(n.ask(nap{-5ms}).get().value(), 0ns);
}

struct long_job {
  static constexpr std::string_view type_name = "test.task.long_job";
  int id;
  troupe::duration d;
};
struct note {
  static constexpr std::string_view type_name = "test.task.note";
  int id;
};
struct read_log {
  using reply = std::vector<std::string>;
  static constexpr std::string_view type_name = "test.task.read_log";
};

/// Logs the beginning and end of long (suspending) jobs and short notes.
template <bool Reentrant>
class journal : public troupe::actor<journal<Reentrant>> {
 public:
  using handles = troupe::handles<long_job, note, read_log>;
  static constexpr bool reentrant = Reentrant;

  task<void> handle(long_job m) {
    log_.push_back("begin " + std::to_string(m.id));
    co_await this->sleep_for(m.d);
    log_.push_back("end " + std::to_string(m.id));
  }
  void handle(note m) { log_.push_back("note " + std::to_string(m.id)); }
  std::vector<std::string> handle(read_log) { return log_; }

 private:
  std::vector<std::string> log_;
};

TEST(task, a_suspended_handler_blocks_other_user_messages_by_default) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto j = sys.spawn<journal<false>>().value();
  j.tell(long_job{1, 10ms});
  j.tell(note{1});
  auto mid = j.ask(read_log{});
  j.tell(long_job{2, 5ms});
  j.tell(note{2});
  rt.run();
  EXPECT_FALSE(mid.ready()) << "the read waits behind the suspended job";
  rt.advance(10ms - 1ns);
  EXPECT_FALSE(mid.ready());
  rt.advance(1ns);
  ASSERT_TRUE(mid.ready()) << "job 1 ended at 10 ms";
  const std::vector<std::string> at_10ms{"begin 1", "end 1", "note 1"};
  EXPECT_EQ(mid.get().value(), at_10ms);
  auto late = j.ask(read_log{});
  rt.run();
  EXPECT_FALSE(late.ready()) << "job 2 is suspended now";
  rt.advance(5ms);
  ASSERT_TRUE(late.ready());
  const std::vector<std::string> all{"begin 1", "end 1", "note 1", "begin 2", "end 2", "note 2"};
  EXPECT_EQ(late.get().value(), all);
}

TEST(task, a_reentrant_actor_handles_messages_while_a_handler_is_suspended) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto j = sys.spawn<journal<true>>().value();
  j.tell(long_job{1, 10ms});
  j.tell(note{1});
  j.tell(long_job{2, 5ms});
  j.tell(note{2});
  rt.run();
  const std::vector<std::string> at_0{"begin 1", "note 1", "begin 2", "note 2"};
  EXPECT_EQ(j.ask(read_log{}).get().value(), at_0);
  rt.advance(10ms);
  const std::vector<std::string> all{"begin 1", "note 1", "begin 2", "note 2", "end 2", "end 1"};
  EXPECT_EQ(j.ask(read_log{}).get().value(), all);
}

struct compute {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.compute";
  int n;
};
struct compute_void {
  using reply = void;
  static constexpr std::string_view type_name = "test.task.compute_void";
};
struct get_steps {
  using reply = std::vector<std::string>;
  static constexpr std::string_view type_name = "test.task.get_steps";
};

/// Composes helper tasks: awaiting tasks that await timers, asks and more
/// tasks; catching a helper's exception.
class composer : public troupe::actor<composer> {
 public:
  using handles = troupe::handles<compute, compute_void, get_steps>;
  explicit composer(troupe::endpoint<doubler> d) : d_(d) {}

  task<int> handle(compute m) {
    int x = co_await add_later(m.n, 1);  // m.n + 1, after 1 ms
    int y = co_await double_remote(x);   // 2 (m.n + 1), via another actor
    int z = 0;
    try {
      z = co_await fail_later(y);
    } catch (const std::runtime_error& e) {
      steps_.push_back(std::string("caught ") + e.what());
      z = y + 100;
    }
    co_return z;
  }
  task<void> handle(compute_void) {
    co_await log_later("void 1");
    co_await log_later("void 2");
  }
  std::vector<std::string> handle(get_steps) { return steps_; }

 private:
  task<int> add_later(int a, int b) {
    co_await sleep_for(1ms);
    steps_.push_back("add_later");
    co_return a + b;
  }
  task<int> double_remote(int v) {
    int w = co_await add_later(v, 0);  // a task awaiting a task awaiting a timer
    double_it msg{w};
    troupe::result<int> r = co_await d_.ask(msg);
    steps_.push_back("double_remote");
    co_return r.value();
  }
  task<int> fail_later(int v) {
    co_await sleep_for(1ms);
    if (v >= 0) throw std::runtime_error("helper failed on " + std::to_string(v));
    co_return v;
  }
  task<void> log_later(std::string what) {
    co_await sleep_for(2ms);
    steps_.push_back(std::move(what));
  }

  troupe::endpoint<doubler> d_;
  std::vector<std::string> steps_;
};

TEST(task, a_task_awaits_other_tasks_and_sees_their_exceptions) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto d = sys.spawn<doubler>().value();
  auto c = sys.spawn<composer>(d).value();
  const troupe::time_point start = rt.now();
  troupe::result<int> r = c.ask(compute{4}).get();
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r.value(), 2 * (4 + 1) + 100);
  EXPECT_EQ(rt.now() - start, 3ms) << "three helper sleeps of 1 ms each, in sequence";
  const std::vector<std::string> steps{"add_later", "add_later", "double_remote",
                                       "caught helper failed on 10"};
  EXPECT_EQ(c.ask(get_steps{}).get().value(), steps);

  troupe::result<void> v = c.ask(compute_void{}).get();
  EXPECT_TRUE(v.has_value());
  EXPECT_EQ(c.ask(get_steps{}).get().value().back(), "void 2");
  EXPECT_EQ(sys.live_actors(), 2u) << "a caught helper exception does not fail the actor";
}

struct explode_now {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.explode_now";
};
struct explode_later {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.explode_later";
};
struct explode_tell {
  static constexpr std::string_view type_name = "test.task.explode_tell";
};
struct ping {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.ping";
};

/// Coroutine handlers that throw, before or after suspending.
class bomb : public troupe::actor<bomb> {
 public:
  using handles = troupe::handles<explode_now, explode_later, explode_tell, ping>;
  explicit bomb(std::vector<std::string>* log) : log_(log) {}

  task<int> handle(explode_now) {
    throw std::runtime_error("boom before suspending");
    co_return 0;
  }
  task<int> handle(explode_later) {
    co_await sleep_for(5ms);
    throw std::runtime_error("boom after suspending");
    co_return 0;
  }
  task<void> handle(explode_tell) {
    co_await sleep_for(1ms);
    throw std::logic_error("boom in a tell");
  }
  int handle(ping) { return 1; }
  void post_stop(const exit_reason& why) { log_->push_back(why.to_string()); }

 private:
  std::vector<std::string>* log_;
};

TEST(task, an_exception_before_suspending_fails_the_actor_and_the_ask) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto b = sys.spawn<bomb>(&log).value();
  auto r = b.ask(explode_now{});
  auto after = b.ask(ping{});
  rt.run();
  ASSERT_TRUE(r.ready());
  troupe::result<int> got = r.get();
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().code(), errc::handler_failed);
  EXPECT_EQ(got.error().detail(), "boom before suspending");
  EXPECT_EQ(after.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(log, std::vector<std::string>{"failed: boom before suspending"});
  EXPECT_EQ(sys.live_actors(), 0u);
}

TEST(task, an_exception_after_resuming_fails_the_actor_and_the_ask) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto b = sys.spawn<bomb>(&log).value();
  auto r = b.ask(explode_later{});
  auto queued = b.ask(ping{});
  rt.advance(4ms);
  EXPECT_FALSE(r.ready());
  EXPECT_FALSE(queued.ready()) << "non-reentrant: the ping waits";
  EXPECT_TRUE(log.empty());
  rt.advance(1ms);
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get().error().code(), errc::handler_failed);
  EXPECT_EQ(queued.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(log, std::vector<std::string>{"failed: boom after suspending"});
  EXPECT_EQ(sys.live_actors(), 0u);
}

TEST(task, an_exception_in_a_coroutine_tell_handler_fails_the_actor) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto b = sys.spawn<bomb>(&log).value();
  EXPECT_TRUE(b.tell(explode_tell{}).ok());
  rt.advance(1ms);
  EXPECT_EQ(log, std::vector<std::string>{"failed: boom in a tell"});
  EXPECT_EQ(b.ask(ping{}).get().error().code(), errc::actor_not_found);
}

struct ask_with_deadline {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.task.ask_with_deadline";
  troupe::duration work;
  troupe::duration timeout;
};

/// Awaits an ask with a per-call deadline and reports what it got.
class impatient : public troupe::actor<impatient> {
 public:
  using handles = troupe::handles<ask_with_deadline>;
  explicit impatient(troupe::endpoint<slow_doubler> s) : s_(s) {}
  task<std::string> handle(ask_with_deadline m) {
    slow_double req{21, m.work};
    troupe::result<int> r = co_await s_.ask(req, m.timeout);
    if (r) co_return "value " + std::to_string(*r);
    co_return std::string(troupe::to_string(r.error().code()));
  }

 private:
  troupe::endpoint<slow_doubler> s_;
};

TEST(task, an_awaited_ask_ends_with_timeout_at_its_deadline) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto s = sys.spawn<slow_doubler>().value();
  auto i = sys.spawn<impatient>(s).value();

  const troupe::time_point start = rt.now();
  auto slow = i.ask(ask_with_deadline{10ms, 4ms});
  rt.advance(4ms - 1ns);
  EXPECT_FALSE(slow.ready());
  rt.advance(1ns);
  ASSERT_TRUE(slow.ready());
  EXPECT_EQ(slow.get().value(), "timeout");
  EXPECT_EQ(rt.now() - start, 4ms);
  rt.advance(10ms);  // the late reply arrives and is ignored

  EXPECT_EQ(i.ask(ask_with_deadline{1ms, 4ms}).get().value(), "value 42");
  s.kill();
  rt.run();
  EXPECT_EQ(i.ask(ask_with_deadline{1ms, 4ms}).get().value(), "actor_not_found");
}

struct count_to {
  using reply = long;
  static constexpr std::string_view type_name = "test.task.count_to";
  int n;
};

/// A long chain of awaits: every step is an ask to another actor.
class chain_counter : public troupe::actor<chain_counter> {
 public:
  using handles = troupe::handles<count_to>;
  explicit chain_counter(troupe::endpoint<doubler> d) : d_(d) {}
  task<long> handle(count_to m) {
    long sum = 0;
    for (int k = 0; k < m.n; ++k) {
      double_it msg{k};
      troupe::result<int> r = co_await d_.ask(msg);
      sum += r.value();
    }
    co_return sum;
  }

 private:
  troupe::endpoint<doubler> d_;
};

TEST(task, a_handler_survives_many_suspensions) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto d = sys.spawn<doubler>().value();
  auto c = sys.spawn<chain_counter>(d).value();
  auto a = c.ask(count_to{10'000});
  auto b = c.ask(count_to{100});
  EXPECT_EQ(a.get().value(), 10'000L * 9'999);
  EXPECT_EQ(b.get().value(), 100L * 99);
}

struct labelled {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.task.labelled";
  std::string label;
  troupe::duration delay;
};
struct labelled_tell {
  static constexpr std::string_view type_name = "test.task.labelled_tell";
  std::string label;
};
struct last_label {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.task.last_label";
};

/// Coroutine handlers that take their message by const reference and read
/// it after suspending: the message must outlive the suspension.
class by_reference : public troupe::actor<by_reference> {
 public:
  using handles = troupe::handles<labelled, labelled_tell, last_label>;
  task<std::string> handle(const labelled& m) {
    co_await sleep_for(m.delay);
    co_return "done: " + m.label;
  }
  task<void> handle(const labelled_tell& m) {
    co_await sleep_for(1ms);
    last_ = m.label;
  }
  std::string handle(last_label) { return last_; }

 private:
  std::string last_;
};

TEST(task, a_message_taken_by_reference_outlives_the_suspension) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto b = sys.spawn<by_reference>().value();
  const std::string long_label(200, 'x');  // on the heap, so a dangling read shows
  auto r = b.ask(labelled{long_label, 5ms});
  b.tell(labelled_tell{long_label + "y"});
  rt.advance(5ms);
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get().value(), "done: " + long_label);
  rt.advance(1ms);
  EXPECT_EQ(b.ask(last_label{}).get().value(), long_label + "y");
  // Killed while suspended: the message is freed with the frame.
  auto k = b.ask(labelled{long_label, 1h}, 2h);
  rt.run();
  b.kill();
  rt.run();
  EXPECT_EQ(k.get().error().code(), errc::actor_not_found);
}

struct ask_myself {
  using reply = int;
  static constexpr std::string_view type_name = "test.task.ask_myself";
};

/// Asks itself from inside a handler coroutine.
template <bool Reentrant>
class narcissist : public troupe::actor<narcissist<Reentrant>> {
 public:
  using handles = troupe::handles<ask_myself, double_it>;
  static constexpr bool reentrant = Reentrant;
  task<int> handle(ask_myself) {
    double_it req{21};
    troupe::result<int> r = co_await this->self().ask(req, 1s);
    co_return r ? *r : -static_cast<int>(r.error().code());
  }
  int handle(double_it m) { return 2 * m.n; }
};

TEST(task, asking_oneself_times_out_unless_reentrant) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto stuck = sys.spawn<narcissist<false>>().value();
  const troupe::time_point start = rt.now();
  EXPECT_EQ(stuck.ask(ask_myself{}).get().value(), -static_cast<int>(errc::timeout))
      << "the inner ask waits behind the handler that awaits it, until its deadline";
  EXPECT_EQ(rt.now() - start, 1s);
  auto fine = sys.spawn<narcissist<true>>().value();
  EXPECT_EQ(fine.ask(ask_myself{}).get().value(), 42);
}

}  // namespace
