#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "troupe/core/process_groups.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/testing/discovery_actors.hpp"
#include "troupe/sim/runtime.hpp"

// The process groups' replication seam: one node's membership changes
// (local_changes), another node taking them (apply_changes) with monitor
// events, tombstones, compaction to a snapshot, dropped origins and
// digests. The cluster layer only carries these batches between nodes.

namespace process_groups_replication_test {

using namespace std::chrono_literals;
using troupe::apply_status;
using troupe::entry_stamp;
using troupe::group_change;
using troupe::group_changes;
using troupe::group_op;
using troupe::process_groups;
using troupe::testing::worker;

// Two systems standing for two nodes, with origins 11 and 22.
struct two_group_systems : ::testing::Test {
  troupe::sim::runtime rt;
  troupe::system a{rt.config()};
  troupe::system b{rt.config()};
  process_groups& ga = a.groups();
  process_groups& gb = b.groups();

  two_group_systems() {
    ga.set_origin(11);
    gb.set_origin(22);
  }
  ~two_group_systems() override {
    a.shutdown(1s);
    b.shutdown(1s);
  }
  // What `to` has of `from`'s origin.
  static std::uint64_t have(const process_groups& to, const process_groups& from) {
    for (const auto& v : to.versions())
      if (v.origin == from.origin()) return v.version;
    return 0;
  }
  // Sends `from`'s changes to `to` as the cluster layer does.
  static apply_status sync(const process_groups& from, process_groups& to) {
    return to.apply_changes(from.local_changes(have(to, from)));
  }
  static std::vector<entry_stamp> stamps(const process_groups& g, std::string_view group) {
    std::vector<entry_stamp> out;
    for (const auto& m : g.member_list("s", group)) {
      entry_stamp st = m.stamp;  // this node's own as other nodes name them
      if (st.origin == troupe::local_origin) st.origin = g.origin();
      out.push_back(st);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(two_group_systems, local_changes_carry_joins_and_leaves_in_version_order) {
  auto w1 = a.spawn<worker>().value();
  auto w2 = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w1));
  ASSERT_TRUE(ga.join("s", "g", w2));
  ASSERT_TRUE(ga.join("s", "h", w1));
  group_changes all = ga.local_changes(0);
  EXPECT_TRUE(all.reset);
  EXPECT_EQ(all.origin, 11U);
  EXPECT_EQ(all.top, 3U);
  ASSERT_EQ(all.ops.size(), 3U);
  EXPECT_EQ(all.ops[0].what, group_op::kind::join);
  EXPECT_EQ(all.ops[0].stamp, (entry_stamp{11, 1}));
  EXPECT_EQ(all.ops[2].group, "h");
  EXPECT_EQ(all.ops[1].actor, w2.handle());
  EXPECT_EQ(all.ops[1].type.name, troupe::actor_type::of<worker>().name);
  // A leave is a change of its own (version 4), naming the join it undoes.
  ASSERT_TRUE(ga.leave("s", "g", w1));
  group_changes since2 = ga.local_changes(2);
  EXPECT_FALSE(since2.reset);
  EXPECT_EQ(since2.base, 2U);
  EXPECT_EQ(since2.top, 4U);
  ASSERT_EQ(since2.ops.size(), 2U);
  EXPECT_EQ(since2.ops[0].stamp.version, 3U);
  EXPECT_EQ(since2.ops[1].what, group_op::kind::leave);
  EXPECT_EQ(since2.ops[1].stamp, (entry_stamp{11, 4}));
  EXPECT_EQ(since2.ops[1].removes, 1U);
  EXPECT_EQ(since2.ops[1].group, "g");
  // Up to date: nothing.
  EXPECT_TRUE(ga.local_changes(4).ops.empty());
  // Ahead of this node (another life's numbers): the whole state.
  EXPECT_TRUE(ga.local_changes(9).reset);
}

TEST_F(two_group_systems, memberships_replicate_both_ways_with_monitor_events_and_equal_digests) {
  std::vector<std::string> seen;
  auto sub = gb.monitor_scope("s", [&](const troupe::group_event& e) {
    seen.push_back((e.what == group_change::joined ? "+" : "-") + e.group + "@" +
                   std::to_string(e.member.stamp.origin));
  });
  ASSERT_TRUE(sub);
  auto wa = a.spawn<worker>().value();
  auto wb = b.spawn<worker>().value();
  ASSERT_TRUE(gb.join("s", "g", wb));  // b's own first: join orders differ
  ASSERT_TRUE(ga.join("s", "g", wa));
  EXPECT_NE(ga.digest(), gb.digest());
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  EXPECT_EQ(sync(gb, ga), apply_status::applied);
  EXPECT_EQ(ga.digest(), gb.digest());
  EXPECT_EQ(stamps(ga, "g"), stamps(gb, "g"));
  // Typed members span both; local ones stay local.
  EXPECT_EQ(gb.members<worker>("s", "g").size(), 2U);
  ASSERT_EQ(gb.local_members<worker>("s", "g").size(), 1U);
  EXPECT_EQ(gb.local_members<worker>("s", "g")[0], wb);
  EXPECT_EQ(sync(ga, gb), apply_status::duplicate);
  ASSERT_TRUE(ga.leave("s", "g", wa));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  EXPECT_EQ(ga.digest(), gb.digest());
  EXPECT_EQ(gb.members<worker>("s", "g").size(), 1U);
  EXPECT_EQ(seen, (std::vector<std::string>{"+g@0", "+g@11", "-g@11"}));
}

TEST_F(two_group_systems, an_actor_that_ends_leaves_on_every_node) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w));
  ASSERT_TRUE(ga.join("s", "h", w));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  EXPECT_EQ(gb.groups("s"), (std::vector<std::string>{"g", "h"}));
  (void)w.tell(troupe::testing::quit{});
  rt.run();
  EXPECT_TRUE(ga.groups("s").empty());
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  EXPECT_TRUE(gb.groups("s").empty());
  EXPECT_TRUE(gb.scopes().empty());
  EXPECT_EQ(ga.digest(), gb.digest());
}

TEST_F(two_group_systems, a_late_older_batch_never_brings_back_an_ended_membership) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w));
  group_changes old = ga.local_changes(0);
  ASSERT_TRUE(ga.leave("s", "g", w));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);  // a snapshot: nothing
  EXPECT_TRUE(gb.member_list("s", "g").empty());
  EXPECT_EQ(gb.apply_changes(old), apply_status::duplicate);
  EXPECT_TRUE(gb.member_list("s", "g").empty());
}

TEST_F(two_group_systems, a_gap_is_reported_and_mended_by_asking_from_what_the_receiver_has) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  ASSERT_TRUE(ga.join("s", "h", w));
  ASSERT_TRUE(ga.join("s", "i", w));
  EXPECT_EQ(gb.apply_changes(ga.local_changes(2)), apply_status::gap);  // misses version 2
  EXPECT_EQ(gb.groups("s"), (std::vector<std::string>{"g"}));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  EXPECT_EQ(gb.groups("s"), (std::vector<std::string>{"g", "h", "i"}));
}

TEST_F(two_group_systems, leaves_compact_to_a_snapshot_that_ends_what_the_receiver_missed) {
  auto keep = a.spawn<worker>().value();
  auto churn = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "keep", keep));
  ASSERT_TRUE(ga.join("s", "gone", churn));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  ASSERT_TRUE(ga.leave("s", "gone", churn));
  // More leaves than are kept: b's version is behind the horizon.
  for (std::size_t i = 0; i < process_groups::max_tombstones; ++i) {
    ASSERT_TRUE(ga.join("s", "c", churn));
    ASSERT_TRUE(ga.leave("s", "c", churn));
  }
  group_changes c = ga.local_changes(have(gb, ga));
  EXPECT_TRUE(c.reset);
  EXPECT_EQ(c.ops.size(), 1U);  // only what lives
  EXPECT_EQ(gb.apply_changes(c), apply_status::applied);
  EXPECT_EQ(gb.groups("s"), (std::vector<std::string>{"keep"}));
  EXPECT_EQ(ga.digest(), gb.digest());
}

TEST_F(two_group_systems, a_dead_origin_leaves_every_group_with_events) {
  std::vector<std::string> seen;
  auto sub = gb.monitor("s", "g", [&](const troupe::group_event& e) {
    seen.push_back(e.what == group_change::joined ? "+" : "-");
  });
  ASSERT_TRUE(sub);
  auto w = a.spawn<worker>().value();
  auto mine = b.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w));
  ASSERT_TRUE(ga.join("t", "g", w));
  ASSERT_TRUE(gb.join("s", "g", mine));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  EXPECT_EQ(gb.drop_origin(ga.origin()), 2U);
  EXPECT_EQ(gb.scopes(), (std::vector<std::string>{"s"}));  // b's own stays
  EXPECT_EQ(gb.member_list("s", "g").size(), 1U);
  EXPECT_EQ(gb.drop_origin(troupe::local_origin), 0U);
  EXPECT_EQ(seen, (std::vector<std::string>{"+", "+", "-"}));
  // Its version is forgotten: the next batch must be a whole state.
  EXPECT_EQ(gb.apply_changes(ga.local_changes(1)), apply_status::gap);
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  EXPECT_EQ(gb.member_list("s", "g").size(), 2U);
}

TEST_F(two_group_systems, batches_that_lie_about_their_origin_or_are_malformed_are_refused) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w));
  ASSERT_TRUE(ga.join("s", "h", w));
  ASSERT_TRUE(ga.leave("s", "h", w));
  group_changes c = ga.local_changes(0);
  group_changes delta = ga.local_changes(1);
  ASSERT_EQ(delta.ops.back().what, group_op::kind::leave);
  auto refused = [&](group_changes x) { return gb.apply_changes(x) == apply_status::refused; };
  group_changes self = c;
  self.origin = gb.origin();
  for (auto& op : self.ops) op.stamp.origin = gb.origin();
  EXPECT_TRUE(refused(self));  // claims b's own origin
  group_changes zero = c;
  zero.origin = troupe::local_origin;
  EXPECT_TRUE(refused(zero));
  group_changes mixed = c;
  mixed.ops[0].stamp.origin = 99;
  EXPECT_TRUE(refused(mixed));
  group_changes bad_scope = c;
  bad_scope.ops[0].scope = "";
  EXPECT_TRUE(refused(bad_scope));
  group_changes bad_group = c;
  bad_group.ops[0].group = std::string(300, 'x');
  EXPECT_TRUE(refused(bad_group));
  group_changes no_actor = c;
  no_actor.ops[0].actor = {};
  EXPECT_TRUE(refused(no_actor));
  group_changes no_type = c;
  no_type.ops[0].type = troupe::actor_type{};
  EXPECT_TRUE(refused(no_type));
  group_changes beyond = c;
  beyond.top = 0;
  EXPECT_TRUE(refused(beyond));
  group_changes bad_leave = delta;
  bad_leave.ops.back().removes = 0;
  EXPECT_TRUE(refused(bad_leave));
  group_changes future_leave = delta;
  future_leave.ops.back().removes = future_leave.ops.back().stamp.version;
  EXPECT_TRUE(refused(future_leave));
  group_changes twice = c;
  twice.ops.push_back(twice.ops[0]);  // one join two times
  EXPECT_TRUE(refused(twice));
  EXPECT_TRUE(gb.scopes().empty());
  EXPECT_EQ(gb.apply_changes(c), apply_status::applied);
  EXPECT_EQ(gb.groups("s"), (std::vector<std::string>{"g"}));
  EXPECT_EQ(gb.apply_changes(c), apply_status::applied);  // the same whole state again
  EXPECT_EQ(gb.member_list("s", "g").size(), 1U);         // adds nothing twice
}

TEST_F(two_group_systems, leave_and_groups_of_touch_only_this_nodes_memberships) {
  auto wa = a.spawn<worker>().value();
  auto wb = b.spawn<worker>().value();
  ASSERT_EQ(wa.id(), wb.id());  // two systems number their actors alike
  ASSERT_TRUE(ga.join("s", "g", wa));
  EXPECT_EQ(sync(ga, gb), apply_status::applied);
  // b's actor with the same id is not a member yet: it may join.
  EXPECT_TRUE(gb.groups_of(wb.id()).empty());
  EXPECT_FALSE(gb.leave("s", "g", wb));  // the remote membership is not b's to end
  EXPECT_EQ(gb.member_list("s", "g").size(), 1U);
  ASSERT_TRUE(gb.join("s", "g", wb));
  EXPECT_EQ(gb.member_list("s", "g").size(), 2U);
  EXPECT_EQ(gb.groups_of(wb.id()).size(), 1U);
  EXPECT_TRUE(gb.leave("s", "g", wb));
  ASSERT_EQ(gb.member_list("s", "g").size(), 1U);
  EXPECT_EQ(gb.member_list("s", "g")[0].stamp.origin, ga.origin());
}

TEST_F(two_group_systems, remote_members_keep_their_type_name_after_the_batch_is_gone) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w));
  {
    group_changes c = ga.local_changes(0);
    std::string name(troupe::actor_type::of<worker>().name);
    c.ops[0].type = troupe::actor_type{nullptr, name};
    EXPECT_EQ(gb.apply_changes(c), apply_status::applied);
    name.assign(name.size(), '#');
  }
  auto members = gb.members<worker>("s", "g");  // matched by name
  ASSERT_EQ(members.size(), 1U);
  EXPECT_EQ(members[0], w);
}

TEST_F(two_group_systems, the_local_change_hook_runs_once_per_join_and_leave) {
  int calls = 0;
  ga.on_local_change([&] { ++calls; });
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ga.join("s", "g", w));
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(ga.join("s", "g", w));  // already a member: no change
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(ga.leave("s", "g", w));
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(ga.leave("s", "g", w));
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(ga.join("s", "g", w));
  (void)w.tell(troupe::testing::quit{});
  rt.run();
  EXPECT_EQ(calls, 4);
  ga.on_local_change({});
}

}  // namespace process_groups_replication_test
