#include "troupe/codec/value_codec.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "troupe/core/random.hpp"

namespace value_codec_test {

using troupe::codec::from_bytes;
using troupe::codec::to_bytes;

enum class color : std::uint8_t { red = 1, green = 2 };

struct inner {
  std::optional<std::int32_t> maybe;
  std::map<std::string, int> counts;
  bool operator==(const inner&) const = default;
};

/// The "typical message" of the codec benchmarks.
struct typical {
  std::string name;
  std::vector<std::int64_t> values;
  inner nested;
  bool operator==(const typical&) const = default;
};

struct everything {
  bool b = false;
  std::uint8_t u8 = 0;
  std::int16_t i16 = 0;
  std::uint64_t u64 = 0;
  std::int64_t i64 = 0;
  float f = 0;
  double d = 0;
  color c = color::red;
  std::string s;
  std::array<int, 3> arr{};
  std::deque<std::string> dq;
  std::set<int> st;
  std::unordered_map<std::string, std::vector<int>> um;
  std::variant<int, std::string, inner> var;
  std::pair<int, std::string> pr;
  std::tuple<int, double, std::string> tp;
  std::chrono::milliseconds ms{};
  std::shared_ptr<inner> sp;
  std::unique_ptr<std::string> up;
};

TEST(value_codec, aggregates_round_trip_with_no_code) {
  typical t{"alice", {1, -2, 3, 1LL << 40}, {7, {{"a", 1}, {"b", -2}}}};
  auto bytes = to_bytes(t);
  auto back = from_bytes<typical>(bytes);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, t);
}

TEST(value_codec, every_supported_kind_round_trips) {
  everything e;
  e.b = true;
  e.u8 = 200;
  e.i16 = -300;
  e.u64 = ~0ULL;
  e.i64 = std::numeric_limits<std::int64_t>::min();
  e.f = 2.5f;
  e.d = -1e300;
  e.c = color::green;
  e.s = "text";
  e.arr = {1, 2, 3};
  e.dq = {"x", "y"};
  e.st = {3, 1, 2};
  e.um = {{"k", {4, 5}}};
  e.var = inner{std::nullopt, {{"z", 26}}};
  e.pr = {9, "nine"};
  e.tp = {1, 0.5, "half"};
  e.ms = std::chrono::milliseconds(1234);
  e.sp = std::make_shared<inner>(inner{5, {}});
  e.up = nullptr;
  auto back = from_bytes<everything>(to_bytes(e));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->b, e.b);
  EXPECT_EQ(back->u8, e.u8);
  EXPECT_EQ(back->i16, e.i16);
  EXPECT_EQ(back->u64, e.u64);
  EXPECT_EQ(back->i64, e.i64);
  EXPECT_EQ(back->f, e.f);
  EXPECT_EQ(back->d, e.d);
  EXPECT_EQ(back->c, e.c);
  EXPECT_EQ(back->s, e.s);
  EXPECT_EQ(back->arr, e.arr);
  EXPECT_EQ(back->dq, e.dq);
  EXPECT_EQ(back->st, e.st);
  EXPECT_EQ(back->um, e.um);
  EXPECT_EQ(back->var, e.var);
  EXPECT_EQ(back->pr, e.pr);
  EXPECT_EQ(back->tp, e.tp);
  EXPECT_EQ(back->ms, e.ms);
  ASSERT_TRUE(back->sp);
  EXPECT_EQ(*back->sp, *e.sp);
  EXPECT_FALSE(back->up);
}

TEST(value_codec, generated_values_round_trip) {
  troupe::xoshiro256 rng(11);
  for (int i = 0; i < 500; ++i) {
    typical t;
    t.name.assign(rng() % 40, static_cast<char>('a' + rng() % 26));
    for (std::uint64_t k = rng() % 20; k > 0; --k)
      t.values.push_back(static_cast<std::int64_t>(rng()));
    if (rng() % 2) t.nested.maybe = static_cast<std::int32_t>(rng());
    for (std::uint64_t k = rng() % 5; k > 0; --k)
      t.nested.counts[std::to_string(rng() % 100)] = static_cast<int>(rng());
    auto back = from_bytes<typical>(to_bytes(t));
    ASSERT_TRUE(back) << back.error().message();
    ASSERT_EQ(*back, t);
  }
}

struct v1 {
  std::string name;
  int age = 0;
};
struct v2 {
  std::string name;
  int age = 0;
  // Not `= {"default"}`: g++ 12 crashes (an internal compiler error) counting
  // the fields of an aggregate whose member has a braced default initializer.
  std::vector<std::string> tags = std::vector<std::string>(1, "default");
  bool active = true;
};
struct swapped {
  int age = 0;
  std::string name;
};

TEST(value_codec, adding_trailing_fields_is_compatible_both_ways) {
  auto new_from_old = from_bytes<v2>(to_bytes(v1{"bob", 42}));
  ASSERT_TRUE(new_from_old) << new_from_old.error().message();
  EXPECT_EQ(new_from_old->name, "bob");
  EXPECT_EQ(new_from_old->age, 42);
  EXPECT_EQ(new_from_old->tags, std::vector<std::string>{"default"});  // defaulted
  EXPECT_TRUE(new_from_old->active);

  auto old_from_new = from_bytes<v1>(to_bytes(v2{"eve", 7, {"x", "y"}, false}));
  ASSERT_TRUE(old_from_new) << old_from_new.error().message();
  EXPECT_EQ(old_from_new->name, "eve");
  EXPECT_EQ(old_from_new->age, 7);
}

TEST(value_codec, reordered_fields_are_a_decode_error_not_a_misread) {
  auto r = from_bytes<swapped>(to_bytes(v1{"carol", 30}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), troupe::errc::decode_error);
}

TEST(value_codec, hostile_bytes_give_typed_errors) {
  auto good = to_bytes(typical{"n", {1, 2, 3}, {1, {{"k", 1}}}});
  // Every truncation fails cleanly.
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    auto r = from_bytes<typical>(std::span<const std::byte>(good.data(), cut));
    ASSERT_FALSE(r) << "cut at " << cut;
    EXPECT_EQ(r.error().code(), troupe::errc::decode_error);
  }
  // Every single-byte corruption either decodes to something or fails
  // with decode_error: never a crash (ASan/UBSan check the rest).
  troupe::xoshiro256 rng(3);
  for (int i = 0; i < 5000; ++i) {
    auto bad = good;
    bad[rng() % bad.size()] = static_cast<std::byte>(rng());
    auto r = from_bytes<typical>(bad);
    if (!r) {
      EXPECT_EQ(r.error().code(), troupe::errc::decode_error);
    }
  }
  auto extra = good;
  extra.push_back(std::byte{0});
  EXPECT_FALSE(from_bytes<typical>(extra));  // trailing garbage
}

TEST(value_codec, variant_indexes_and_integer_ranges_are_checked) {
  std::vector<std::byte> buf;
  troupe::codec::binary_writer w(buf);
  w.varint(9);  // no alternative 9
  auto v = from_bytes<std::variant<int, std::string>>(buf);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().detail(), "variant index out of range");
  auto big = to_bytes(std::uint64_t{300});
  auto small = from_bytes<std::uint8_t>(big);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().detail(), "integer out of range");
}

/// A self-referencing struct: nesting is bounded only by the decoder.
struct chain {
  int value = 0;
  std::unique_ptr<chain> next;
};

TEST(value_codec, nesting_through_struct_bodies_counts_toward_max_depth) {
  chain head;
  chain* at = &head;
  for (int i = 0; i < 40; ++i) {  // 40 links: 80 levels (pointer + struct)
    at->next = std::make_unique<chain>();
    at = at->next.get();
    at->value = i;
  }
  auto bytes = to_bytes(head);
  auto deep = from_bytes<chain>(bytes);
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().detail(), "nesting exceeds max_depth");
  auto fine = from_bytes<chain>(bytes, {.max_depth = 100});
  ASSERT_TRUE(fine) << fine.error().detail();
  int n = 0;
  for (const chain* c = fine->next.get(); c != nullptr; c = c->next.get()) EXPECT_EQ(c->value, n++);
  EXPECT_EQ(n, 40);
}

}  // namespace value_codec_test
