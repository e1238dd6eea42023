#include "troupe/core/supervisor.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/sim/runtime.hpp"

namespace supervisor_test {

using namespace std::chrono_literals;
using troupe::exit_reason;
using troupe::restart_policy;
using troupe::supervision_event;

struct journal {
  std::vector<std::string> lines;
  std::map<std::string, int> instances;
};

struct boom {
  using reply = int;
  static constexpr std::string_view type_name = "test.boom";
};
struct quit {
  static constexpr std::string_view type_name = "test.quit";
};
struct which {
  using reply = int;  // the instance number
  static constexpr std::string_view type_name = "test.which";
};
struct note {
  static constexpr std::string_view type_name = "test.note";
  int n;
};
struct notes {
  using reply = std::vector<int>;
  static constexpr std::string_view type_name = "test.notes";
};

class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<boom, quit, which, note, notes>;
  worker(std::string name, journal* j)
      : name_(std::move(name)), j_(j), instance_(++j->instances[name_]) {}
  void post_start() { j_->lines.push_back("start " + name_); }
  void post_stop(const exit_reason& r) {
    j_->lines.push_back("stop " + name_ + " " + r.to_string());
  }
  int handle(boom) { throw std::runtime_error(name_ + " blew up"); }
  void handle(quit) { stop(); }
  int handle(which) { return instance_; }
  void handle(note m) { notes_.push_back(m.n); }
  std::vector<int> handle(notes) { return notes_; }

 private:
  std::string name_;
  journal* j_;
  int instance_;
  std::vector<int> notes_;
};

troupe::supervisor_spec spec_of(troupe::supervision_strategy s, journal* j,
                                std::vector<supervision_event>* events,
                                std::vector<std::string> names,
                                restart_policy policy = restart_policy::permanent) {
  troupe::supervisor_spec spec;
  spec.strategy = s;
  spec.backoff.initial = 100ms;
  spec.backoff.multiplier = 2.0;
  spec.backoff.cap = 1s;
  spec.backoff.reset_after = 10s;
  for (auto& n : names) spec.children.push_back(troupe::child_spec::of<worker>(n, policy, n, j));
  spec.on_event = [events](const supervision_event& e) { events->push_back(e); };
  return spec;
}

troupe::endpoint<worker> child(troupe::endpoint<troupe::supervisor>& sup, std::size_t i) {
  auto kids = sup.ask(troupe::which_children{}).get().value();
  return troupe::child_endpoint<worker>(kids.at(i));
}

TEST(supervisor, restarts_a_failed_child_in_place_and_keeps_its_mailbox) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  auto sup = sys.spawn<troupe::supervisor>(
                    spec_of(troupe::supervision_strategy::one_for_one, &j, &events, {"a", "b"}))
                 .value();
  auto a = child(sup, 0);
  ASSERT_TRUE(a);
  EXPECT_EQ(a.ask(which{}).get().value(), 1);
  auto failed = a.ask(boom{});
  rt.run();
  EXPECT_EQ(failed.get().error().code(), troupe::errc::handler_failed);
  // During the backoff the old endpoint still takes messages.
  a.tell(note{1});
  a.tell(note{2});
  auto during = a.ask(which{});
  rt.advance(99ms);
  EXPECT_FALSE(during.ready());
  rt.advance(1ms);
  EXPECT_EQ(during.get().value(), 2);  // the second instance answers
  EXPECT_EQ(a.ask(notes{}).get().value(), (std::vector<int>{1, 2}));
  EXPECT_EQ(j.instances["b"], 1);  // one_for_one: the sibling is untouched
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events[2].what, supervision_event::kind::exited);
  EXPECT_EQ(events[2].reason.text(), "a blew up");
  EXPECT_EQ(events[2].delay, 100ms);
  EXPECT_EQ(events[3].what, supervision_event::kind::restarted);
}

TEST(supervisor, policies_decide_which_exits_restart) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  troupe::supervisor_spec spec;
  spec.backoff.initial = 10ms;
  spec.children.push_back(
      troupe::child_spec::of<worker>("perm", restart_policy::permanent, std::string("perm"), &j));
  spec.children.push_back(
      troupe::child_spec::of<worker>("trans", restart_policy::transient, std::string("trans"), &j));
  spec.children.push_back(
      troupe::child_spec::of<worker>("temp", restart_policy::temporary, std::string("temp"), &j));
  auto sup = sys.spawn<troupe::supervisor>(std::move(spec)).value();
  auto perm = child(sup, 0), trans = child(sup, 1), temp = child(sup, 2);
  perm.tell(quit{});   // normal exit: permanent restarts anyway
  trans.tell(quit{});  // normal exit: transient does not
  temp.tell(boom{});   // failure: temporary never restarts
  rt.advance(1s);
  EXPECT_EQ(perm.ask(which{}).get().value(), 2);
  EXPECT_EQ(trans.ask(which{}).get().error().code(), troupe::errc::actor_not_found);
  EXPECT_EQ(temp.ask(which{}).get().error().code(), troupe::errc::actor_not_found);
  EXPECT_EQ(j.instances["trans"], 1);
  EXPECT_EQ(j.instances["temp"], 1);
}

TEST(supervisor, a_transient_child_restarts_after_a_failure) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  auto sup = sys.spawn<troupe::supervisor>(spec_of(troupe::supervision_strategy::one_for_one, &j,
                                                   &events, {"t"}, restart_policy::transient))
                 .value();
  auto t = child(sup, 0);
  t.tell(boom{});
  rt.advance(1s);
  EXPECT_EQ(t.ask(which{}).get().value(), 2);
}

TEST(supervisor, six_failures_in_sixty_seconds_escalate_with_restart_limit) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  auto spec = spec_of(troupe::supervision_strategy::one_for_one, &j, &events, {"a", "b"});
  spec.backoff.initial = 1s;
  spec.backoff.multiplier = 1.0;
  auto sup = sys.spawn<troupe::supervisor>(std::move(spec)).value();
  std::vector<troupe::down> ends;
  sys.watch(sup, [&](const troupe::down& d) { ends.push_back(d); });
  auto a = child(sup, 0);
  for (int i = 0; i < 5; ++i) {
    a.tell(boom{});
    rt.advance(2s);
    EXPECT_EQ(a.ask(which{}).get().value(), i + 2) << "restart " << i + 1;
  }
  EXPECT_TRUE(ends.empty());
  a.tell(boom{});  // the sixth exit within 60 s
  rt.advance(2s);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].reason.what(), exit_reason::kind::restart_limit);
  EXPECT_EQ(events.back().what, supervision_event::kind::gave_up);
  EXPECT_EQ(sys.live_actors(), 0u);  // the children were stopped too
}

TEST(supervisor, failures_spread_over_time_do_not_escalate) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  auto sup = sys.spawn<troupe::supervisor>(
                    spec_of(troupe::supervision_strategy::one_for_one, &j, &events, {"a"}))
                 .value();
  auto a = child(sup, 0);
  for (int i = 0; i < 12; ++i) {
    a.tell(boom{});
    rt.advance(13s);  // 5 per 60 s at most
  }
  EXPECT_EQ(a.ask(which{}).get().value(), 13);
}

TEST(supervisor, backoff_doubles_up_to_the_cap_and_resets_after_a_stable_run) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  auto spec = spec_of(troupe::supervision_strategy::one_for_one, &j, &events, {"a"});
  spec.intensity.max_restarts = 100;
  auto sup = sys.spawn<troupe::supervisor>(std::move(spec)).value();
  auto a = child(sup, 0);
  std::vector<troupe::duration> delays;
  auto crash_and_record = [&] {
    a.tell(boom{});
    rt.advance(2s);
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->what == supervision_event::kind::exited) {
        delays.push_back(it->delay);
        break;
      }
    }
  };
  for (int i = 0; i < 6; ++i) crash_and_record();
  EXPECT_EQ(delays, (std::vector<troupe::duration>{100ms, 200ms, 400ms, 800ms, 1s, 1s}));
  rt.advance(11s);  // runs stably for longer than reset_after
  crash_and_record();
  EXPECT_EQ(delays.back(), 100ms);
}

TEST(supervisor, rest_for_one_restarts_exactly_the_later_siblings) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  auto sup = sys.spawn<troupe::supervisor>(spec_of(troupe::supervision_strategy::rest_for_one, &j,
                                                   &events, {"a", "b", "c", "d"}))
                 .value();
  auto b = child(sup, 1);
  j.lines.clear();
  b.tell(boom{});
  rt.advance(1s);
  EXPECT_EQ(j.instances["a"], 1);
  EXPECT_EQ(j.instances["b"], 2);
  EXPECT_EQ(j.instances["c"], 2);
  EXPECT_EQ(j.instances["d"], 2);
  // b failed; then d and c stop (last first); then b, c, d start in order.
  EXPECT_EQ(j.lines,
            (std::vector<std::string>{"stop b failed: b blew up", "stop d shutdown",
                                      "stop c shutdown", "start b", "start c", "start d"}));
}

TEST(supervisor, one_for_all_restarts_everyone_in_order) {
  troupe::sim::runtime rt;
  journal j;  // outlives the system: post_stop writes to it at shutdown
  std::vector<supervision_event> events;
  troupe::system sys(rt.config());
  auto sup = sys.spawn<troupe::supervisor>(spec_of(troupe::supervision_strategy::one_for_all, &j,
                                                   &events, {"a", "b", "c"}))
                 .value();
  auto b = child(sup, 1);
  rt.run();
  j.lines.clear();
  b.tell(boom{});
  rt.advance(1s);
  EXPECT_EQ(j.lines,
            (std::vector<std::string>{"stop b failed: b blew up", "stop c shutdown",
                                      "stop a shutdown", "start a", "start b", "start c"}));
  for (auto name : {"a", "b", "c"}) EXPECT_EQ(j.instances[name], 2) << name;
}

TEST(supervisor, a_tree_escalates_to_the_parent_which_restarts_the_subtree) {
  troupe::sim::runtime rt;
  journal j;
  std::vector<supervision_event> inner_events, outer_events;
  troupe::system sys(rt.config());
  auto inner = spec_of(troupe::supervision_strategy::one_for_one, &j, &inner_events, {"leaf"});
  inner.intensity.max_restarts = 1;
  troupe::supervisor_spec outer;
  outer.backoff.initial = 10ms;
  outer.children.push_back(
      troupe::child_spec::of<troupe::supervisor>("inner", restart_policy::permanent, inner));
  outer.on_event = [&](const supervision_event& e) { outer_events.push_back(e); };
  auto root = sys.spawn<troupe::supervisor>(std::move(outer)).value();
  auto kids = root.ask(troupe::which_children{}).get().value();
  auto sub = troupe::child_endpoint<troupe::supervisor>(kids.at(0));
  ASSERT_TRUE(sub);
  EXPECT_FALSE(troupe::child_endpoint<worker>(kids.at(0)));  // typed: wrong type is empty
  auto leaf = child(sub, 0);
  leaf.tell(boom{});
  rt.advance(1s);
  leaf.tell(boom{});  // second exit within the window: inner gives up
  rt.advance(1s);
  bool inner_gave_up = false;
  for (auto& e : inner_events) inner_gave_up |= e.what == supervision_event::kind::gave_up;
  EXPECT_TRUE(inner_gave_up);
  ASSERT_GE(outer_events.size(), 3u);
  EXPECT_EQ(outer_events[1].what, supervision_event::kind::exited);
  EXPECT_EQ(outer_events[1].reason.what(), exit_reason::kind::restart_limit);
  EXPECT_EQ(outer_events[2].what, supervision_event::kind::restarted);
  // The restarted inner supervisor built a fresh leaf.
  auto leaf2 = child(sub, 0);
  EXPECT_EQ(leaf2.ask(which{}).get().value(), 3);
}

TEST(supervisor, shutdown_stops_the_tree_without_restarts) {
  troupe::sim::runtime rt;
  std::vector<supervision_event> events;
  journal j;
  {
    troupe::system sys(rt.config());
    auto sup = sys.spawn<troupe::supervisor>(
                      spec_of(troupe::supervision_strategy::one_for_one, &j, &events, {"a", "b"}))
                   .value();
    rt.run();
    EXPECT_TRUE(sys.shutdown(5s).clean());
    EXPECT_EQ(sys.live_actors(), 0u);
  }
  EXPECT_EQ(j.instances["a"], 1);
  EXPECT_EQ(j.instances["b"], 1);
}

TEST(supervisor, a_child_that_cannot_start_fails_the_supervisor_start) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::supervisor_spec spec;
  spec.children.push_back(troupe::child_spec{});  // no start function
  auto r = sys.spawn<troupe::supervisor>(std::move(spec));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), troupe::errc::start_failed);
}

}  // namespace supervisor_test
