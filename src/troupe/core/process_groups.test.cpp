#include "troupe/core/process_groups.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/core/testing/discovery_actors.hpp"
#include "troupe/sim/runtime.hpp"

namespace process_groups_test {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::group_change;

using troupe::testing::crash;
using troupe::testing::other;
using troupe::testing::ping;
using troupe::testing::quit;
using troupe::testing::worker;

std::string describe(const troupe::group_event& e) {
  return (e.what == group_change::joined ? "+" : "-") + e.scope + "/" + e.group + "#" +
         std::to_string(e.member.id);
}

/// Records the group events it receives.
class monitor : public troupe::actor<monitor> {
 public:
  using handles = troupe::handles<troupe::group_event, quit>;
  explicit monitor(std::vector<std::string>* log) : log_(log) {}
  void handle(const troupe::group_event& e) { log_->push_back(describe(e)); }
  void handle(quit) { stop(); }

 private:
  std::vector<std::string>* log_;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

std::string ev(char sign, const std::string& scope, const std::string& group, troupe::actor_id id) {
  return sign + scope + "/" + group + "#" + std::to_string(id);
}

TEST(process_groups, an_actor_joins_many_groups_and_members_are_typed) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  auto a = sys.spawn<worker>().value();
  auto b = sys.spawn<worker>().value();
  auto o = sys.spawn<other>().value();
  ASSERT_TRUE(g.join("pool", a));
  ASSERT_TRUE(g.join("pool", b));
  ASSERT_TRUE(g.join("pool", o));
  ASSERT_TRUE(g.join("pool", a));  // already a member: no change
  ASSERT_TRUE(g.join("cache", a));
  ASSERT_TRUE(g.join("jobs", "pool", a));
  auto workers = g.members<worker>("pool");
  ASSERT_EQ(workers.size(), 2u);
  EXPECT_EQ(workers[0], a);  // join order
  EXPECT_EQ(workers[1], b);
  EXPECT_EQ(g.members<other>("pool").size(), 1u);
  EXPECT_EQ(g.member_list(troupe::process_groups::default_scope, "pool").size(), 3u);
  EXPECT_EQ(g.member_list("default", "pool")[2].as<other>(), o);
  EXPECT_FALSE(g.member_list("default", "pool")[2].as<worker>());
  EXPECT_EQ(g.local_members<worker>("default", "pool").size(), 2u);
  EXPECT_EQ(g.members<worker>("jobs", "pool").size(), 1u);  // scopes are apart
  auto gs = g.groups();
  ASSERT_EQ(gs.size(), 2u);
  EXPECT_EQ(gs[0], "cache");
  EXPECT_EQ(gs[1], "pool");
  auto sc = g.scopes();
  ASSERT_EQ(sc.size(), 2u);
  auto of_a = g.groups_of(a.id());
  ASSERT_EQ(of_a.size(), 3u);
  EXPECT_EQ(of_a[0], (std::pair<std::string, std::string>{"default", "cache"}));
  EXPECT_EQ(of_a[2], (std::pair<std::string, std::string>{"jobs", "pool"}));
}

TEST(process_groups, leave_removes_one_membership) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  auto a = sys.spawn<worker>().value();
  ASSERT_TRUE(g.join("pool", a));
  ASSERT_TRUE(g.join("cache", a));
  EXPECT_TRUE(g.leave("pool", a));
  EXPECT_FALSE(g.leave("pool", a));
  EXPECT_FALSE(g.leave("never", a));
  EXPECT_TRUE(g.members<worker>("pool").empty());
  EXPECT_EQ(g.members<worker>("cache").size(), 1u);
  EXPECT_EQ(g.groups().size(), 1u);  // empty groups vanish
}

TEST(process_groups, members_leave_every_group_when_they_stop) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  auto a = sys.spawn<worker>().value();
  auto b = sys.spawn<worker>().value();
  auto c = sys.spawn<worker>().value();
  for (const auto& ep : {a, b, c}) {
    ASSERT_TRUE(g.join("pool", ep));
    ASSERT_TRUE(g.join("s", "other", ep));
  }
  a.tell(quit{});
  b.kill();
  c.tell(crash{});
  rt.run();
  EXPECT_TRUE(g.scopes().empty());
  EXPECT_TRUE(g.groups_of(a.id()).empty());
}

TEST(process_groups, malformed_names_and_gone_actors_are_rejected) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  auto a = sys.spawn<worker>().value();
  EXPECT_EQ(g.join("", a).error(), errc::invalid_name);
  EXPECT_EQ(g.join("", "pool", a).error(), errc::invalid_name);
  EXPECT_EQ(g.join("s", "bad\x01", a).error(), errc::invalid_name);
  EXPECT_EQ(g.join("pool", troupe::endpoint<worker>{}).error(), errc::actor_not_found);
  a.kill();
  rt.run();
  EXPECT_EQ(g.join("pool", a).error(), errc::actor_not_found);
  EXPECT_TRUE(g.scopes().empty());
  EXPECT_EQ(g.monitor("", "pool", [](const troupe::group_event&) {}).error(), errc::invalid_name);
  EXPECT_EQ(g.monitor("s", "pool", troupe::process_groups::callback{}).error(),
            errc::invalid_argument);
}

TEST(process_groups, an_actor_monitor_sees_members_then_joins_and_leaves) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  std::vector<std::string> log;
  auto a = sys.spawn<worker>().value();
  auto b = sys.spawn<worker>().value();
  ASSERT_TRUE(g.join("pool", a));
  ASSERT_TRUE(g.join("cache", a));
  auto m = sys.spawn<monitor>(&log).value();
  auto sub = g.monitor("default", "pool", m);
  ASSERT_TRUE(sub);
  rt.run();
  EXPECT_EQ(join(log), ev('+', "default", "pool", a.id()));
  log.clear();
  ASSERT_TRUE(g.join("pool", b));
  ASSERT_TRUE(g.join("cache", b));  // another group: not seen
  EXPECT_TRUE(g.leave("pool", a));
  rt.run();
  b.kill();
  rt.run();
  EXPECT_EQ(join(log), ev('+', "default", "pool", b.id()) + " " +
                           ev('-', "default", "pool", a.id()) + " " +
                           ev('-', "default", "pool", b.id()));
  // The monitor ends with its actor.
  m.tell(quit{});
  rt.run();
  log.clear();
  ASSERT_TRUE(g.join("pool", a));
  rt.run();
  EXPECT_TRUE(log.empty());
}

TEST(process_groups, a_scope_monitor_sees_every_group_of_its_scope) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  std::vector<std::string> log;
  auto a = sys.spawn<worker>().value();
  ASSERT_TRUE(g.join("jobs", "x", a));
  auto m = sys.spawn<monitor>(&log).value();
  auto sub = g.monitor_scope("jobs", m).value();
  ASSERT_TRUE(g.join("jobs", "y", a));
  ASSERT_TRUE(g.join("other", "y", a));  // another scope: not seen
  rt.run();
  a.kill();
  rt.run();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0], ev('+', "jobs", "x", a.id()));
  EXPECT_EQ(log[1], ev('+', "jobs", "y", a.id()));
  std::sort(log.begin() + 2, log.end());
  EXPECT_EQ(log[2], ev('-', "jobs", "x", a.id()));
  EXPECT_EQ(log[3], ev('-', "jobs", "y", a.id()));
  sub.cancel();
  log.clear();
  auto b = sys.spawn<worker>().value();
  ASSERT_TRUE(g.join("jobs", "x", b));
  rt.run();
  EXPECT_TRUE(log.empty());
}

TEST(process_groups, callbacks_run_in_order_and_may_call_back_in) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  auto a = sys.spawn<worker>().value();
  auto b = sys.spawn<worker>().value();
  std::vector<std::string> log;
  // Whoever joins "lobby" is moved on to "room" by the callback itself.
  auto sub = g.monitor_scope("default", [&](const troupe::group_event& e) {
    log.push_back(describe(e));
    if (e.what == group_change::joined && e.group == "lobby") {
      auto w = e.member.as<worker>();
      EXPECT_TRUE(g.leave("lobby", w));
      EXPECT_TRUE(g.join("room", w));
    }
  });
  ASSERT_TRUE(sub);
  ASSERT_TRUE(g.join("lobby", a));
  ASSERT_TRUE(g.join("lobby", b));
  EXPECT_EQ(join(log),
            ev('+', "default", "lobby", a.id()) + " " + ev('-', "default", "lobby", a.id()) + " " +
                ev('+', "default", "room", a.id()) + " " + ev('+', "default", "lobby", b.id()) +
                " " + ev('-', "default", "lobby", b.id()) + " " +
                ev('+', "default", "room", b.id()));
  EXPECT_EQ(g.members<worker>("room").size(), 2u);
  log.clear();
  sub->cancel();
  ASSERT_TRUE(g.join("lobby", a));
  EXPECT_TRUE(log.empty());
}

TEST(process_groups, a_callback_monitor_sees_members_leave_when_they_end) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  auto a = sys.spawn<worker>().value();
  ASSERT_TRUE(g.join("pool", a));
  std::vector<troupe::group_event> seen;
  auto sub = g.monitor("default", "pool", [&](const troupe::group_event& e) { seen.push_back(e); });
  ASSERT_TRUE(sub);
  a.tell(crash{});
  rt.run();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].what, group_change::joined);
  EXPECT_EQ(seen[1].what, group_change::left);
  EXPECT_EQ(seen[1].member.id, a.id());
  EXPECT_EQ(seen[1].member.stamp, seen[0].member.stamp);
  EXPECT_EQ(seen[1].member.stamp.origin, troupe::local_origin);
  rt.advance(10s);
  EXPECT_EQ(seen.size(), 2u);  // exactly once
}

TEST(process_groups, a_rejoin_after_leave_is_a_new_membership) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& g = sys.groups();
  auto a = sys.spawn<worker>().value();
  std::vector<troupe::group_event> seen;
  auto sub = g.monitor("default", "pool", [&](const troupe::group_event& e) { seen.push_back(e); });
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(g.join("pool", a));
    ASSERT_TRUE(g.leave("pool", a));
  }
  ASSERT_TRUE(g.join("pool", a));
  a.kill();
  rt.run();
  ASSERT_EQ(seen.size(), 202u);  // one leave for the last membership: no stale watch left
  EXPECT_LT(seen[0].member.stamp.version, seen[200].member.stamp.version);
  EXPECT_TRUE(g.scopes().empty());
}

TEST(process_groups, shutdown_empties_them) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.groups().join("pool", a));
  // A callback that holds an endpoint into the system: shutdown releases it.
  auto sub = sys.groups().monitor("default", "pool", [a](const troupe::group_event&) { (void)a; });
  ASSERT_TRUE(sub);
  sys.shutdown(1s);
  EXPECT_TRUE(sys.groups().scopes().empty());
}

}  // namespace process_groups_test
