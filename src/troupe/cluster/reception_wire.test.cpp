#include "troupe/cluster/reception_wire.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

// The replication messages: both tables' wants and batches survive a round
// trip, and malformed bytes are a decode_error, never a wrong message.

namespace troupe::cluster::reception_wire {
namespace {

std::vector<std::byte> bytes_of(const auto& m) {
  std::vector<std::byte> buf;
  codec::binary_writer w(buf);
  encode(w, m);
  return buf;
}

changes sample(table t) {
  changes m;
  m.of = t;
  m.origin = 0x1234567890ULL;
  m.base = 3;
  m.top = 7;
  m.reset = false;
  op add;
  add.what = reception_op::kind::add;
  add.version = 4;
  add.label = "svc/a";
  add.key = "scope-or-key";
  add.type = "test.counter";
  add.vis = t == table::groups ? visibility::public_ : visibility::internal;
  add.actor = 99;
  op remove;
  remove.what = reception_op::kind::remove;
  remove.version = 7;
  remove.label = "svc/b";
  remove.key = t == table::groups ? "scope" : "";
  remove.removes = 2;
  m.ops = {add, remove};
  return m;
}

TEST(reception_wire, wants_of_both_tables_round_trip) {
  for (table t : {table::receptionist, table::groups}) {
    const want w{t, 42, 17};
    auto back = decode(bytes_of(w));
    ASSERT_TRUE(back) << back.error().message();
    const want* got = std::get_if<want>(&*back);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->of, t);
    EXPECT_EQ(got->origin, 42U);
    EXPECT_EQ(got->have, 17U);
  }
}

TEST(reception_wire, changes_of_both_tables_round_trip_and_a_leave_keeps_its_scope) {
  for (table t : {table::receptionist, table::groups}) {
    const changes m = sample(t);
    auto back = decode(bytes_of(m));
    ASSERT_TRUE(back) << back.error().message();
    const changes* got = std::get_if<changes>(&*back);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->of, t);
    EXPECT_EQ(got->origin, m.origin);
    EXPECT_EQ(got->base, 3U);
    EXPECT_EQ(got->top, 7U);
    EXPECT_FALSE(got->reset);
    ASSERT_EQ(got->ops.size(), 2U);
    EXPECT_EQ(got->ops[0].label, "svc/a");
    EXPECT_EQ(got->ops[0].key, "scope-or-key");
    EXPECT_EQ(got->ops[0].type, "test.counter");
    EXPECT_EQ(got->ops[0].vis, m.ops[0].vis);
    EXPECT_EQ(got->ops[0].actor, 99U);
    EXPECT_EQ(got->ops[1].what, reception_op::kind::remove);
    EXPECT_EQ(got->ops[1].removes, 2U);
    EXPECT_EQ(got->ops[1].key, m.ops[1].key);
  }
}

TEST(reception_wire, malformed_messages_are_decode_errors) {
  auto fails = [](std::vector<std::byte> b) {
    auto r = decode(b);
    return !r && r.error().code() == errc::decode_error;
  };
  EXPECT_TRUE(fails({}));
  EXPECT_TRUE(fails({std::byte{9}}));  // an unknown kind
  EXPECT_TRUE(fails({std::byte{1}}));  // a truncated want
  std::vector<std::byte> w = bytes_of(want{table::groups, 1, 2});
  w.push_back(std::byte{0});
  EXPECT_TRUE(fails(w));  // a byte left over
  for (table t : {table::receptionist, table::groups}) {
    std::vector<std::byte> c = bytes_of(sample(t));
    for (std::size_t cut = 1; cut < c.size(); ++cut)
      EXPECT_TRUE(fails({c.begin(), c.begin() + static_cast<std::ptrdiff_t>(cut)})) << cut;
  }
  // A group op that is neither a join nor a leave, and a group op that is
  // not public; the receptionist's `skip` and `private` are fine.
  changes skip = sample(table::groups);
  skip.ops[0].what = reception_op::kind::skip;
  EXPECT_TRUE(fails(bytes_of(skip)));
  changes hidden = sample(table::groups);
  hidden.ops[0].vis = visibility::internal;
  EXPECT_TRUE(fails(bytes_of(hidden)));
  changes fine = sample(table::receptionist);
  fine.ops[0].vis = visibility::private_;
  fine.ops.push_back(op{reception_op::kind::skip, 8, "x", "", "", visibility::public_, 0, 0});
  EXPECT_TRUE(decode(bytes_of(fine)));
  // A count that promises more ops than the bytes can hold.
  std::vector<std::byte> many = bytes_of(changes{table::groups, 1, 0, 1, true, {}});
  many.back() = std::byte{0x7f};
  EXPECT_TRUE(fails(many));
}

TEST(reception_wire, origins_differ_by_name_and_incarnation_and_are_never_zero) {
  EXPECT_NE(origin_of("a", 1), origin_of("a", 2));
  EXPECT_NE(origin_of("a", 1), origin_of("b", 1));
  EXPECT_EQ(origin_of("a", 1), origin_of("a", 1));
  EXPECT_NE(origin_of("", 0), 0U);
}

}  // namespace
}  // namespace troupe::cluster::reception_wire
