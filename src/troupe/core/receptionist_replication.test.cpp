#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "troupe/core/receptionist.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/testing/discovery_actors.hpp"
#include "troupe/sim/runtime.hpp"

// The receptionist's replication seam: what one node's changes look like
// (local_changes) and how another node takes them (apply_changes), with
// tombstones, compaction to a snapshot, the conflict rule and digests. The
// cluster layer only carries these batches between nodes.

namespace receptionist_replication_test {

using namespace std::chrono_literals;
using troupe::apply_status;
using troupe::reception_changes;
using troupe::receptionist;
using troupe::visibility;
using troupe::testing::worker;

const troupe::reception_key<worker> workers{"workers"};

// Two systems standing for two nodes, with origins 11 and 22.
struct two_systems : ::testing::Test {
  troupe::sim::runtime rt;
  troupe::system a{rt.config()};
  troupe::system b{rt.config()};
  receptionist& ra = a.receptionist();
  receptionist& rb = b.receptionist();

  two_systems() {
    ra.set_origin(11);
    rb.set_origin(22);
  }
  ~two_systems() override {
    a.shutdown(1s);
    b.shutdown(1s);
  }
  // What `to` has of `from`'s origin.
  static std::uint64_t have(const receptionist& to, const receptionist& from) {
    for (const auto& v : to.versions())
      if (v.origin == from.origin()) return v.version;
    return 0;
  }
  // Sends `from`'s changes to `to` as the cluster layer does.
  static apply_status sync(const receptionist& from, receptionist& to) {
    return to.apply_changes(from.local_changes(have(to, from)));
  }
  std::vector<std::string> labels(const receptionist& r) {
    std::vector<std::string> out;
    for (const auto& e : r.entries()) out.push_back(e.label);
    return out;
  }
};

TEST_F(two_systems, local_changes_carry_public_and_internal_entries_but_never_private_ones) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("pub", w, workers));
  ASSERT_TRUE(ra.check_in("int", w, workers, visibility::internal));
  ASSERT_TRUE(ra.check_in("priv", w, workers, visibility::private_));
  reception_changes all = ra.local_changes(0);
  EXPECT_TRUE(all.reset);
  EXPECT_EQ(all.origin, 11U);
  EXPECT_EQ(all.top, 3U);
  ASSERT_EQ(all.ops.size(), 2U);
  EXPECT_EQ(all.ops[0].label, "pub");
  EXPECT_EQ(all.ops[0].stamp, (troupe::entry_stamp{11, 1}));
  EXPECT_EQ(all.ops[1].label, "int");
  EXPECT_EQ(all.ops[1].vis, visibility::internal);
  // Since version 1: the internal add, and the private one's removal is
  // not there either.
  ASSERT_TRUE(ra.check_out("priv"));
  ASSERT_TRUE(ra.check_out("pub"));
  reception_changes since1 = ra.local_changes(1);
  EXPECT_FALSE(since1.reset);
  EXPECT_EQ(since1.base, 1U);
  EXPECT_EQ(since1.top, 5U);
  ASSERT_EQ(since1.ops.size(), 2U);
  EXPECT_EQ(since1.ops[0].label, "int");
  EXPECT_EQ(since1.ops[1].what, troupe::reception_op::kind::remove);
  EXPECT_EQ(since1.ops[1].label, "pub");
  EXPECT_EQ(since1.ops[1].removes, 1U);
  EXPECT_EQ(since1.ops[1].stamp.version, 5U);
  // Nothing new: an empty batch at the same top.
  reception_changes none = ra.local_changes(5);
  EXPECT_TRUE(none.ops.empty());
  EXPECT_EQ(none.top, 5U);
}

TEST_F(two_systems, changes_replicate_with_listings_and_equal_digests) {
  std::vector<std::string> seen;
  auto l = rb.subscribe(workers).value();
  auto w1 = a.spawn<worker>().value();
  auto w2 = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("svc/1", w1, workers));
  ASSERT_TRUE(ra.check_in("svc/2", w2, workers));
  EXPECT_NE(ra.digest(), rb.digest());
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(labels(rb), (std::vector<std::string>{"svc/1", "svc/2"}));
  EXPECT_EQ(rb.lookup<worker>("svc/1"), w1);
  EXPECT_EQ(rb.find("svc/1")->stamp, (troupe::entry_stamp{11, 1}));
  EXPECT_EQ(ra.digest(), rb.digest());
  // A removal and a new entry: a delta, not the whole state.
  ASSERT_TRUE(ra.check_out("svc/1"));
  ASSERT_TRUE(ra.check_in("svc/3", w1, workers));
  EXPECT_FALSE(ra.local_changes(have(rb, ra)).reset);
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(labels(rb), (std::vector<std::string>{"svc/2", "svc/3"}));
  EXPECT_EQ(ra.digest(), rb.digest());
  EXPECT_EQ(sync(ra, rb), apply_status::duplicate);
  // The listing saw each change once, in order.
  std::vector<std::string> events;
  for (int i = 0; i < 4; ++i) {
    auto e = l.next(0ms).get();
    ASSERT_TRUE(e) << i;
    events.push_back((e->what == troupe::listing_change::added ? "+" : "-") + e->label);
  }
  EXPECT_EQ(events, (std::vector<std::string>{"+svc/1", "+svc/2", "-svc/1", "+svc/3"}));
  EXPECT_FALSE(l.next(0ms).get());
}

TEST_F(two_systems, a_late_older_batch_never_brings_back_a_removed_entry) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("x", w));               // v1
  reception_changes early = ra.local_changes(0);  // holds x@1
  ASSERT_TRUE(ra.check_out("x"));                 // v2
  ASSERT_TRUE(ra.check_in("y", w));               // v3
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(labels(rb), std::vector<std::string>{"y"});
  // The first batch arrives late (another path, a resend): nothing changes.
  EXPECT_EQ(rb.apply_changes(early), apply_status::duplicate);
  reception_changes mid = early;
  mid.reset = false;
  mid.base = 0;
  EXPECT_EQ(rb.apply_changes(mid), apply_status::duplicate);
  EXPECT_EQ(labels(rb), std::vector<std::string>{"y"});
}

TEST_F(two_systems, a_gap_is_reported_and_mended_by_asking_from_what_the_receiver_has) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("p", w));
  EXPECT_EQ(sync(ra, rb), apply_status::applied);  // b has a@1
  ASSERT_TRUE(ra.check_in("q", w));                // a@2: lost on the way
  ASSERT_TRUE(ra.check_in("r", w));                // a@3
  EXPECT_EQ(rb.apply_changes(ra.local_changes(2)), apply_status::gap);
  EXPECT_EQ(labels(rb), std::vector<std::string>{"p"});
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(labels(rb), (std::vector<std::string>{"p", "q", "r"}));
}

TEST_F(two_systems, removals_compact_to_a_snapshot_that_drops_what_the_receiver_missed) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("keep", w));
  ASSERT_TRUE(ra.check_in("gone", w));
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  const std::uint64_t b_has = have(rb, ra);
  // More removals than are kept while b hears nothing.
  ASSERT_TRUE(ra.check_out("gone"));
  for (std::size_t i = 0; i < receptionist::max_tombstones + 10; ++i) {
    ASSERT_TRUE(ra.check_in("churn", w));
    ASSERT_TRUE(ra.check_out("churn"));
  }
  reception_changes c = ra.local_changes(b_has);
  EXPECT_TRUE(c.reset);
  ASSERT_EQ(c.ops.size(), 1U);  // the snapshot: what lives, not the history
  EXPECT_EQ(rb.apply_changes(c), apply_status::applied);
  EXPECT_EQ(labels(rb), std::vector<std::string>{"keep"});
  EXPECT_EQ(ra.digest(), rb.digest());
}

TEST_F(two_systems, concurrent_check_ins_of_one_label_resolve_alike_and_the_loser_is_told) {
  std::vector<troupe::reception_conflict> told_a, told_b;
  ra.on_conflict([&](const troupe::reception_conflict& c) { told_a.push_back(c); });
  rb.on_conflict([&](const troupe::reception_conflict& c) { told_b.push_back(c); });
  auto wa = a.spawn<worker>().value();
  auto wb = b.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("leader", wa, workers));
  ASSERT_TRUE(rb.check_in("leader", wb, workers));
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(sync(rb, ra), apply_status::applied);
  // Origin 11 ranks first: a's entry shows on both nodes.
  EXPECT_EQ(ra.lookup<worker>("leader"), wa);
  EXPECT_EQ(rb.lookup<worker>("leader"), wa);
  EXPECT_EQ(ra.digest(), rb.digest());
  EXPECT_TRUE(told_a.empty());
  ASSERT_EQ(told_b.size(), 1U);
  EXPECT_EQ(told_b[0].label, "leader");
  EXPECT_EQ(told_b[0].loser, (troupe::entry_stamp{22, 1}));
  EXPECT_EQ(told_b[0].winner, (troupe::entry_stamp{11, 1}));
  // The winner goes: b's own entry shows again, on both.
  ASSERT_TRUE(ra.check_out("leader"));
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(rb.lookup<worker>("leader"), wb);
  EXPECT_EQ(ra.lookup<worker>("leader"), wb);
  EXPECT_EQ(ra.digest(), rb.digest());
}

TEST_F(two_systems, a_dead_origin_is_dropped_and_a_snapshot_brings_it_back_whole) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("one", w));
  ASSERT_TRUE(ra.check_in("two", w));
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(rb.drop_origin(ra.origin()), 2U);
  EXPECT_EQ(rb.size(), 0U);
  // A delta based on what b had before is now a gap; b asks from 0.
  ASSERT_TRUE(ra.check_in("three", w));
  EXPECT_EQ(rb.apply_changes(ra.local_changes(2)), apply_status::gap);
  EXPECT_EQ(sync(ra, rb), apply_status::applied);
  EXPECT_EQ(labels(rb), (std::vector<std::string>{"one", "three", "two"}));
}

TEST_F(two_systems, batches_that_lie_about_their_origin_or_are_malformed_are_refused) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("x", w));
  reception_changes c = ra.local_changes(0);
  reception_changes self = c;
  self.origin = rb.origin();
  for (auto& op : self.ops) op.stamp.origin = rb.origin();
  EXPECT_EQ(rb.apply_changes(self), apply_status::refused);  // claims b's own origin
  reception_changes zero = c;
  zero.origin = troupe::local_origin;
  EXPECT_EQ(rb.apply_changes(zero), apply_status::refused);
  reception_changes mixed = c;
  mixed.ops[0].stamp.origin = 99;  // an op of another origin inside
  EXPECT_EQ(rb.apply_changes(mixed), apply_status::refused);
  reception_changes bad_label = c;
  bad_label.ops[0].label = "/bad//";
  EXPECT_EQ(rb.apply_changes(bad_label), apply_status::refused);
  reception_changes no_type = c;
  no_type.ops[0].type = troupe::actor_type{};
  EXPECT_EQ(rb.apply_changes(no_type), apply_status::refused);
  reception_changes beyond = c;
  beyond.top = 0;  // an op past the batch's top
  EXPECT_EQ(rb.apply_changes(beyond), apply_status::refused);
  EXPECT_EQ(rb.size(), 0U);
  EXPECT_EQ(rb.apply_changes(c), apply_status::applied);
  EXPECT_EQ(rb.size(), 1U);
}

TEST_F(two_systems, remote_entries_keep_their_type_name_after_the_batch_is_gone) {
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("typed", w, workers));
  {
    reception_changes c = ra.local_changes(0);
    // The name comes from a buffer that dies with the batch (as a decoded
    // message's does).
    std::string name(troupe::actor_type::of<worker>().name);
    c.ops[0].type = troupe::actor_type{nullptr, name};
    EXPECT_EQ(rb.apply_changes(c), apply_status::applied);
    name.assign(name.size(), '#');
  }
  auto e = rb.find("typed");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type.name, troupe::actor_type::of<worker>().name);
  EXPECT_EQ(rb.lookup<worker>("typed"), w);  // matched by name
  EXPECT_EQ(rb.members(workers).size(), 1U);
}

TEST_F(two_systems, the_local_change_hook_runs_once_per_check_in_and_check_out) {
  int calls = 0;
  ra.on_local_change([&] { ++calls; });
  auto w = a.spawn<worker>().value();
  ASSERT_TRUE(ra.check_in("h", w));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(ra.check_in("h", w));  // refused: no change
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(ra.check_out("h"));
  EXPECT_EQ(calls, 2);
  // An entry goes with its actor: also a change.
  ASSERT_TRUE(ra.check_in("h2", w));
  EXPECT_EQ(calls, 3);
  (void)w.tell(troupe::testing::quit{});
  rt.run();
  EXPECT_EQ(calls, 4);
  ra.on_local_change({});
}

}  // namespace receptionist_replication_test
