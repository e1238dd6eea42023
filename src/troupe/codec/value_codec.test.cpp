#include "troupe/codec/value_codec.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/random.hpp"
#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

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

TEST(value_codec, documented_example_bytes) {
  // The worked example of docs/protocol.md, byte for byte.
  auto bytes = to_bytes(typical{"ann", {1, -2}, {7, {{"a", 1}}}});
  const std::vector<int> expected = {0x03, 0x12, 0x00, 0x00, 0x00, 0x03, 0x61, 0x6e,
                                     0x6e, 0x02, 0x02, 0x03, 0x02, 0x06, 0x00, 0x00,
                                     0x00, 0x01, 0x0e, 0x01, 0x01, 0x61, 0x02};
  ASSERT_EQ(bytes.size(), expected.size());
  for (std::size_t i = 0; i < bytes.size(); ++i)
    EXPECT_EQ(static_cast<int>(bytes[i]), expected[i]) << "byte " << i;
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

/// A class with private state and an invariant: not an aggregate, so it
/// names its fields in one inspect() function.
class money {
 public:
  money() = default;
  money(std::string currency, std::int64_t cents) : currency_(std::move(currency)), cents_(cents) {}
  [[nodiscard]] const std::string& currency() const { return currency_; }
  [[nodiscard]] std::int64_t cents() const { return cents_; }

  template <class Inspector>
  friend void inspect(Inspector& f, money& m) {
    f.field("currency", m.currency_);
    f.field("cents", m.cents_);
    if constexpr (Inspector::loading) {
      if (m.cents_ < 0) f.fail("money cannot be negative");
    }
  }

 private:
  std::string currency_;
  std::int64_t cents_ = 0;
};

/// Version 2 of money, with a trailing field.
class money_v2 {
 public:
  std::string currency;
  std::int64_t cents = 0;
  std::string memo = "none";

  money_v2() = default;
  template <class Inspector>
  friend void inspect(Inspector& f, money_v2& m) {
    f.field("currency", m.currency);
    f.field("cents", m.cents);
    f.field("memo", m.memo);
  }
};

struct invoice {
  std::string id;
  std::vector<money> lines;
};

TEST(value_codec, inspect_serves_encoding_and_decoding_of_non_aggregates) {
  invoice in{"inv-1", {money("EUR", 250), money("USD", 9)}};
  auto back = from_bytes<invoice>(to_bytes(in));
  ASSERT_TRUE(back) << back.error().detail();
  ASSERT_EQ(back->lines.size(), 2u);
  EXPECT_EQ(back->lines[1].currency(), "USD");
  EXPECT_EQ(back->lines[1].cents(), 9);
  // Encoded exactly like an aggregate with the same fields.
  struct same_fields {
    std::string currency;
    std::int64_t cents;
  };
  EXPECT_EQ(to_bytes(money("EUR", 250)), to_bytes(same_fields{"EUR", 250}));
}

TEST(value_codec, an_inspect_function_can_refuse_a_decoded_value) {
  struct raw_money {
    std::string currency;
    std::int64_t cents;
  };
  auto bad = from_bytes<money>(to_bytes(raw_money{"EUR", -5}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), troupe::errc::decode_error);
  EXPECT_EQ(bad.error().detail(), "money cannot be negative");
}

TEST(value_codec, inspected_types_evolve_like_aggregates) {
  auto v2 = from_bytes<money_v2>(to_bytes(money("CHF", 3)));
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->currency, "CHF");
  EXPECT_EQ(v2->memo, "none");  // not sent: keeps its default
  money_v2 newer;
  newer.currency = "CHF";
  newer.cents = 4;
  newer.memo = "tip";
  auto v1 = from_bytes<money>(to_bytes(newer));
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->cents(), 4);
}

TEST(value_codec, byte_buffers_are_one_length_prefixed_run) {
  std::vector<std::byte> blob = {std::byte{0x00}, std::byte{0xff}, std::byte{0x80}};
  auto bytes = to_bytes(blob);
  EXPECT_EQ(bytes, (std::vector<std::byte>{std::byte{3}, std::byte{0x00}, std::byte{0xff},
                                           std::byte{0x80}}));
  auto back = from_bytes<std::vector<std::byte>>(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, blob);
  std::vector<unsigned char> uc = {1, 200};
  auto back_uc = from_bytes<std::vector<unsigned char>>(to_bytes(uc));
  ASSERT_TRUE(back_uc);
  EXPECT_EQ(*back_uc, uc);
  auto huge = to_bytes(std::uint64_t{1} << 40);  // a length no input can hold
  EXPECT_FALSE(from_bytes<std::vector<std::byte>>(huge));
}

struct ping {
  using reply = int;
  int n = 0;
};

class echo : public troupe::actor<echo> {
 public:
  using handles = troupe::handles<ping>;
  int handle(const ping& p) { return p.n + 1; }
};

struct reply_to {
  std::string note;
  troupe::endpoint<echo> who;
};

/// Resolves addresses of one local system by id (remoting resolves them to
/// remote actors instead).
class local_resolver final : public troupe::codec::endpoint_resolver {
 public:
  [[nodiscard]] troupe::actor_address address_of(const troupe::actor_handle& h) const override {
    return {"local", 7, h.id()};
  }
  [[nodiscard]] troupe::ref_ptr<troupe::actor_handle> resolve(
      const troupe::actor_address& a) const override {
    auto it = known.find(a.id);
    if (a.node != "local" || a.incarnation != 7 || it == known.end()) return {};
    return it->second;
  }
  std::map<troupe::actor_id, troupe::ref_ptr<troupe::actor_handle>> known;
};

TEST(value_codec, endpoints_travel_as_addresses_and_come_back_usable) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto e = sys.spawn<echo>().value();
  local_resolver res;
  res.known[e.id()] = e.handle();

  auto bytes = to_bytes(reply_to{"hi", e}, &res);
  // The address inside is an actor_address value.
  struct wire_shape {
    std::string note;
    std::optional<troupe::actor_address> who;
  };
  auto shape = from_bytes<wire_shape>(bytes);
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->who, (troupe::actor_address{"local", 7, e.id()}));

  auto back = from_bytes<reply_to>(bytes, {}, &res);
  ASSERT_TRUE(back) << back.error().detail();
  ASSERT_TRUE(back->who);
  EXPECT_EQ(back->who.ask(ping{41}).get().value(), 42);

  // No resolver: refused with a reason, never a dangling endpoint.
  auto unresolved = from_bytes<reply_to>(bytes);
  ASSERT_FALSE(unresolved);
  EXPECT_EQ(unresolved.error().detail(), "an endpoint cannot be decoded without a resolver");
  // An address the resolver does not know: an empty endpoint.
  res.known.clear();
  auto gone = from_bytes<reply_to>(bytes, {}, &res);
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->who);
  EXPECT_EQ(gone->who.ask(ping{1}).get().error().code(), troupe::errc::actor_not_found);
  // An empty endpoint is one byte.
  EXPECT_EQ(to_bytes(troupe::endpoint<echo>{}), std::vector<std::byte>{std::byte{0}});
}

}  // namespace value_codec_test
