#include "troupe/core/watch.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

namespace watch_test {

using troupe::exit_reason;

struct crash {
  static constexpr std::string_view type_name = "test.crash";
};
struct quit {
  static constexpr std::string_view type_name = "test.quit";
};
struct get_count {
  using reply = int;
  static constexpr std::string_view type_name = "test.get_count";
};

/// Ends on request: abnormally (crash) or normally (quit).
class target : public troupe::actor<target> {
 public:
  using handles = troupe::handles<crash, quit, get_count>;
  void handle(crash) { throw std::runtime_error("crashed"); }
  void handle(quit) { stop(); }
  int handle(get_count) { return 0; }
};

struct watch_it {
  static constexpr std::string_view type_name = "test.watch_it";
  troupe::endpoint<target> t;
};
struct link_it {
  static constexpr std::string_view type_name = "test.link_it";
  troupe::endpoint<target> t;
};
struct unwatch_all {
  static constexpr std::string_view type_name = "test.unwatch_all";
};
struct unlink_it {
  static constexpr std::string_view type_name = "test.unlink_it";
  troupe::endpoint<target> t;
};

/// Records every down it receives.
class watcher : public troupe::actor<watcher> {
 public:
  using handles =
      troupe::handles<watch_it, link_it, unlink_it, unwatch_all, troupe::down, get_count>;
  explicit watcher(std::vector<troupe::down>* log) : log_(log) {}
  void handle(const watch_it& m) { refs_.push_back(watch(m.t)); }
  void handle(const link_it& m) { link(m.t); }
  void handle(const unlink_it& m) { unlink(m.t); }
  void handle(unwatch_all) {
    for (auto& r : refs_) unwatch(r);
  }
  void handle(const troupe::down& d) { log_->push_back(d); }
  int handle(get_count) { return static_cast<int>(log_->size()); }

 private:
  std::vector<troupe::down>* log_;
  std::vector<troupe::watch_ref> refs_;
};

/// Links and traps exits: receives exit signals as messages.
class trapper : public troupe::actor<trapper> {
 public:
  static constexpr bool traps_exits = true;
  using handles = troupe::handles<link_it, troupe::exit_signal, get_count>;
  explicit trapper(std::vector<troupe::exit_signal>* log) : log_(log) {}
  void handle(const link_it& m) { link(m.t); }
  void handle(const troupe::exit_signal& s) { log_->push_back(s); }
  int handle(get_count) { return static_cast<int>(log_->size()); }

 private:
  std::vector<troupe::exit_signal>* log_;
};

TEST(watch, a_watcher_gets_exactly_one_down_with_the_reason) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::down> log;
  auto t = sys.spawn<target>().value();
  auto w = sys.spawn<watcher>(&log).value();
  w.tell(watch_it{t});
  w.tell(watch_it{t});  // two watches: two downs
  rt.run();
  t.tell(crash{});
  rt.run();
  ASSERT_EQ(log.size(), 2u);
  for (const auto& d : log) {
    EXPECT_EQ(d.who, t.id());
    EXPECT_EQ(d.reason.what(), exit_reason::kind::failed);
    EXPECT_EQ(d.reason.text(), "crashed");
  }
  rt.advance(std::chrono::seconds(10));
  EXPECT_EQ(log.size(), 2u);  // never a second time
}

TEST(watch, watching_an_actor_that_is_gone_delivers_down_at_once) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::down> log;
  auto t = sys.spawn<target>().value();
  t.tell(quit{});
  rt.run();
  auto w = sys.spawn<watcher>(&log).value();
  w.tell(watch_it{t});
  rt.run();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].reason.what(), exit_reason::kind::normal);
}

TEST(watch, unwatch_means_no_down) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::down> log;
  auto t = sys.spawn<target>().value();
  auto w = sys.spawn<watcher>(&log).value();
  w.tell(watch_it{t});
  w.tell(unwatch_all{});
  rt.run();
  t.kill();
  rt.run();
  EXPECT_TRUE(log.empty());
}

TEST(watch, a_dead_watcher_leaves_no_entry_behind) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::down> log;
  auto t = sys.spawn<target>().value();
  int called = 0;
  for (int i = 0; i < 100; ++i) {
    auto w = sys.spawn<watcher>(&log).value();
    w.tell(watch_it{t});
    w.stop();
  }
  rt.run();
  EXPECT_EQ(sys.live_actors(), 1u);
  // Only the callback watch below remains on the target.
  sys.watch(t, [&](const troupe::down&) { ++called; });
  t.tell(quit{});
  rt.run();
  EXPECT_EQ(called, 1);
  EXPECT_TRUE(log.empty());
}

TEST(watch, a_callback_watch_runs_once) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto t = sys.spawn<target>().value();
  std::vector<troupe::down> seen;
  auto ref = sys.watch(t, [&](const troupe::down& d) { seen.push_back(d); });
  EXPECT_TRUE(ref.active());
  t.kill();
  rt.run();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].reason.what(), exit_reason::kind::killed);
  auto late = sys.watch(t, [&](const troupe::down& d) { seen.push_back(d); });
  EXPECT_FALSE(late.active());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].reason.what(), exit_reason::kind::killed);
}

TEST(link, an_abnormal_exit_takes_the_linked_actor_down_with_the_same_reason) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::down> log;
  auto t = sys.spawn<target>().value();
  auto w = sys.spawn<watcher>(&log).value();
  std::vector<troupe::down> w_end;
  sys.watch(w, [&](const troupe::down& d) { w_end.push_back(d); });
  w.tell(link_it{t});
  rt.run();
  t.tell(crash{});
  rt.run();
  ASSERT_EQ(w_end.size(), 1u);
  EXPECT_EQ(w_end[0].reason.what(), exit_reason::kind::failed);
  EXPECT_EQ(w_end[0].reason.text(), "crashed");
  EXPECT_EQ(sys.live_actors(), 0u);
}

TEST(link, a_normal_exit_does_not_propagate_and_links_go_both_ways) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::down> log;
  auto t = sys.spawn<target>().value();
  auto w = sys.spawn<watcher>(&log).value();
  w.tell(link_it{t});
  rt.run();
  t.tell(quit{});
  rt.run();
  EXPECT_EQ(w.ask(get_count{}).get().value(), 0);  // still alive

  auto t2 = sys.spawn<target>().value();
  w.tell(link_it{t2});
  rt.run();
  w.kill();  // the other direction: the watcher's end takes t2 down
  rt.run();
  EXPECT_EQ(t2.ask(get_count{}).get().error().code(), troupe::errc::actor_not_found);
}

TEST(link, unlink_removes_both_directions) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::down> log;
  auto t = sys.spawn<target>().value();
  auto w = sys.spawn<watcher>(&log).value();
  w.tell(link_it{t});
  w.tell(unlink_it{t});
  rt.run();
  t.tell(crash{});
  rt.run();
  EXPECT_EQ(w.ask(get_count{}).get().value(), 0);
  auto t2 = sys.spawn<target>().value();
  w.tell(link_it{t2});
  w.tell(unlink_it{t2});
  rt.run();
  w.kill();
  rt.run();
  EXPECT_EQ(t2.ask(get_count{}).get().value(), 0);
}

TEST(link, an_actor_that_traps_exits_receives_them_as_messages) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<troupe::exit_signal> log;
  auto t = sys.spawn<target>().value();
  auto p = sys.spawn<trapper>(&log).value();
  p.tell(link_it{t});
  rt.run();
  t.tell(crash{});
  rt.run();
  EXPECT_EQ(p.ask(get_count{}).get().value(), 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].who, t.id());
  EXPECT_EQ(log[0].reason.text(), "crashed");
}

}  // namespace watch_test
