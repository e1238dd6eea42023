#include "troupe/codec/protobuf.hpp"

#include <gtest/gtest.h>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "troupe/codec/message_registry.hpp"
#include "troupe/codec/print.hpp"
#include "troupe/codec/testing/codec_test.pb.h"
#include "troupe/codec/testing/codec_test_lite.pb.h"
#include "troupe/core/actor.hpp"
#include "troupe/core/random.hpp"

namespace protobuf_test {

using google::protobuf::util::MessageDifferencer;
using troupe::codec::from_bytes;
using troupe::codec::to_bytes;
using troupe::codec::testing::LiteNote;
using troupe::codec::testing::Order;
using troupe::codec::testing::Tree;

static_assert(troupe::codec::has_codec_traits<Order>);
static_assert(troupe::codec::has_codec_traits<LiteNote>);

Order make_order(std::uint64_t id = 7) {
  Order o;
  o.set_id(id);
  o.set_customer("alice");
  o.add_items("tea");
  o.add_items("scones");
  o.add_quantities(2);
  o.add_quantities(-1);
  o.mutable_ship_to()->set_street("1 Long Lane");
  o.mutable_ship_to()->set_city("Leeds");
  o.set_priority(troupe::codec::testing::PRIORITY_HIGH);
  o.set_note(std::string("\0\1\2", 3));
  return o;
}

/// A troupe message with a protobuf message among plain fields.
struct place_order {
  std::string requested_by;
  Order order;
  std::int32_t retries = 0;
};

/// What binary_writer::bytes would write for the message's serialization.
std::vector<std::byte> length_prefixed(const google::protobuf::MessageLite& m) {
  std::vector<std::byte> out;
  troupe::codec::binary_writer w(out);
  w.string(m.SerializeAsString());
  return out;
}

TEST(protobuf, message_as_a_field_of_an_aggregate_round_trips) {
  place_order p{"bob", make_order(), 3};
  auto back = from_bytes<place_order>(to_bytes(p));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->requested_by, "bob");
  EXPECT_EQ(back->retries, 3);
  EXPECT_TRUE(MessageDifferencer::Equals(back->order, p.order)) << back->order.ShortDebugString();
  EXPECT_EQ(back->order.items(1), "scones");
  EXPECT_EQ(back->order.quantities(1), -1);
  EXPECT_EQ(back->order.ship_to().city(), "Leeds");
  EXPECT_EQ(back->order.priority(), troupe::codec::testing::PRIORITY_HIGH);
  EXPECT_EQ(back->order.note(), std::string("\0\1\2", 3));
}

TEST(protobuf, wire_format_is_the_length_prefixed_serialization) {
  Order small = make_order();
  EXPECT_EQ(to_bytes(small), length_prefixed(small));
  // Larger than the stack buffer: serialized through it in chunks.
  Order large = make_order();
  for (int i = 0; i < 3000; ++i) {
    large.add_items("item " + std::to_string(i));
    large.add_quantities(i * 1000003LL);
  }
  large.set_note(std::string(5000, 'n'));
  ASSERT_GT(large.ByteSizeLong(), 20 * troupe::codec::detail::protobuf_chunk);
  EXPECT_EQ(to_bytes(large), length_prefixed(large));
  auto back = from_bytes<Order>(to_bytes(large));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(MessageDifferencer::Equals(*back, large));
  // Sizes around the chunk boundary.
  for (std::size_t n = troupe::codec::detail::protobuf_chunk - 40;
       n < troupe::codec::detail::protobuf_chunk + 40; ++n) {
    Order o;
    o.set_note(std::string(n, 'x'));
    ASSERT_EQ(to_bytes(o), length_prefixed(o)) << "note of " << n << " bytes";
  }
  // An empty message is one zero byte.
  EXPECT_EQ(to_bytes(Order{}), std::vector<std::byte>{std::byte{0}});
}

TEST(protobuf, messages_in_containers_round_trip) {
  std::vector<Order> orders{make_order(1), Order{}, make_order(3)};
  auto v = from_bytes<std::vector<Order>>(to_bytes(orders));
  ASSERT_TRUE(v) << v.error().message();
  ASSERT_EQ(v->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(MessageDifferencer::Equals((*v)[i], orders[i]));

  std::optional<Order> some = make_order(9);
  auto o = from_bytes<std::optional<Order>>(to_bytes(some));
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_TRUE(o->has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(**o, *some));

  auto none = from_bytes<std::optional<Order>>(to_bytes(std::optional<Order>{}));
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_FALSE(none->has_value());

  std::map<std::string, Order> by_name{{"a", make_order(5)}, {"b", Order{}}};
  auto m = from_bytes<std::map<std::string, Order>>(to_bytes(by_name));
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ(m->at("a").id(), 5u);

  auto boxed = from_bytes<std::unique_ptr<Order>>(to_bytes(std::make_unique<Order>(make_order(6))));
  ASSERT_TRUE(boxed) << boxed.error().message();
  ASSERT_TRUE(*boxed);
  EXPECT_EQ((*boxed)->id(), 6u);

  std::variant<int, Order> var = make_order(4);
  auto w = from_bytes<std::variant<int, Order>>(to_bytes(var));
  ASSERT_TRUE(w) << w.error().message();
  ASSERT_EQ(w->index(), 1u);
  EXPECT_EQ(std::get<1>(*w).id(), 4u);
}

TEST(protobuf, lite_messages_round_trip) {
  LiteNote n;
  n.set_text("lite");
  n.add_tags(1);
  n.add_tags(300);
  auto back = from_bytes<std::vector<LiteNote>>(to_bytes(std::vector<LiteNote>{n, n}));
  ASSERT_TRUE(back) << back.error().message();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].text(), "lite");
  ASSERT_EQ((*back)[1].tags_size(), 2);
  EXPECT_EQ((*back)[1].tags(1), 300u);
}

/// A length-prefixed body of the given bytes.
std::vector<std::byte> body_of(std::initializer_list<std::uint8_t> bytes) {
  std::vector<std::byte> body;
  for (std::uint8_t b : bytes) body.push_back(std::byte{b});
  std::vector<std::byte> out;
  troupe::codec::binary_writer w(out);
  w.bytes(body);
  return out;
}

TEST(protobuf, a_corrupt_body_is_a_decode_error) {
  // Field 2 (customer) claims 5 bytes; the body holds 1.
  auto cut = from_bytes<Order>(body_of({0x12, 0x05, 'a'}));
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code(), troupe::errc::decode_error);
  EXPECT_EQ(cut.error().detail(), "protobuf message failed to parse");
  // A zero tag ends a protobuf parse early; here bytes follow it.
  auto zero = from_bytes<Order>(body_of({0x08, 0x01, 0x00, 0x08, 0x02}));
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().detail(), "protobuf message failed to parse");
  // Wire type 7 does not exist.
  auto wire = from_bytes<Order>(body_of({0x0f}));
  ASSERT_FALSE(wire);
  EXPECT_EQ(wire.error().detail(), "protobuf message failed to parse");

  // The same in a body too long for the short-body parse.
  std::vector<std::uint8_t> long_body{0x3a, 0xac, 0x02};  // note: 300 bytes
  long_body.resize(long_body.size() + 300, 'n');
  for (auto tail : {std::vector<std::uint8_t>{0x12, 0x05, 'a'},
                    std::vector<std::uint8_t>{0x00, 0x08}, std::vector<std::uint8_t>{0x0f}}) {
    auto body = long_body;
    body.insert(body.end(), tail.begin(), tail.end());
    std::vector<std::byte> bytes;
    troupe::codec::binary_writer w(bytes);
    w.bytes(std::as_bytes(std::span(body)));
    auto r = from_bytes<Order>(bytes);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().detail(), "protobuf message failed to parse");
  }

  {
    std::vector<std::byte> bytes;
    troupe::codec::binary_writer w(bytes);
    w.bytes(std::as_bytes(std::span(long_body)));
    auto fine = from_bytes<Order>(bytes);
    ASSERT_TRUE(fine) << fine.error().message();
    EXPECT_EQ(fine->note().size(), 300u);
  }

  // Inside an aggregate, the aggregate fails with the same reason.
  std::vector<std::byte> bytes;
  troupe::codec::binary_writer w(bytes);
  Order small;
  small.set_id(5);  // body 08 05
  troupe::codec::encode(w, std::vector<Order>{small});
  auto good = from_bytes<std::vector<Order>>(bytes);
  ASSERT_TRUE(good) << good.error().message();
  auto bad = bytes;
  bad.back() = std::byte{0xff};  // the id: now a truncated varint
  auto r = from_bytes<std::vector<Order>>(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), troupe::errc::decode_error);
  EXPECT_EQ(r.error().detail(), "protobuf message failed to parse");
}

TEST(protobuf, invalid_utf8_in_a_proto3_string_is_a_decode_error) {
  google::protobuf::LogSilencer quiet;                            // protobuf logs each one
  auto r = from_bytes<Order>(body_of({0x12, 0x02, 0xc3, 0x28}));  // customer: bad UTF-8
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail(), "protobuf message failed to parse");
  auto bytes = from_bytes<Order>(body_of({0x3a, 0x02, 0xc3, 0x28}));  // note is `bytes`
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(bytes->note(), "\xc3\x28");
}

TEST(protobuf, random_corruption_never_crashes) {
  google::protobuf::LogSilencer quiet;  // protobuf logs strings with bad UTF-8
  auto good = to_bytes(place_order{"bob", make_order(), 3});
  troupe::xoshiro256 rng(5);
  for (int i = 0; i < 5000; ++i) {
    auto bad = good;
    for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k)
      bad[rng() % bad.size()] = static_cast<std::byte>(rng());
    auto r = from_bytes<place_order>(bad);
    if (!r) {
      EXPECT_EQ(r.error().code(), troupe::errc::decode_error);
    }
  }
}

TEST(protobuf, truncated_input_is_a_decode_error) {
  auto good = to_bytes(place_order{"bob", make_order(), 3});
  for (std::size_t cut = 0; cut < good.size(); ++cut) {
    auto r = from_bytes<place_order>(std::span<const std::byte>(good.data(), cut));
    ASSERT_FALSE(r) << "cut at " << cut;
    EXPECT_EQ(r.error().code(), troupe::errc::decode_error);
  }
  auto bare = to_bytes(make_order());
  auto r = from_bytes<Order>(std::span<const std::byte>(bare.data(), bare.size() - 1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().detail(), "length exceeds the remaining input");
}

TEST(protobuf, the_readers_limits_apply) {
  Order o;
  o.set_note(std::string(2000, 'x'));
  auto bytes = to_bytes(o);
  auto refused = from_bytes<Order>(bytes, {.max_elements = 1000});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().detail(), "length exceeds max_elements");

  // Nested messages count against max_depth.
  auto tree = [](int depth) {
    Tree root;
    Tree* at = &root;
    for (int i = 0; i < depth; ++i) {
      at = at->add_children();
      at->set_value(i);
    }
    return root;
  };
  // The message itself is one level; its nested messages take the rest.
  EXPECT_TRUE(from_bytes<Tree>(to_bytes(tree(63))));  // max_depth 64
  EXPECT_FALSE(from_bytes<Tree>(to_bytes(tree(64))));
  EXPECT_TRUE(from_bytes<Tree>(to_bytes(tree(7)), {.max_depth = 8}));
  EXPECT_FALSE(from_bytes<Tree>(to_bytes(tree(8)), {.max_depth = 8}));
  EXPECT_TRUE(
      from_bytes<Tree>(to_bytes(tree(149)), {.max_depth = 150}));  // deeper than protobuf's default
  // Inside a troupe value, the levels above count too: the struct and the
  // message itself leave 8 - 2 = 6 levels below it (an optional is no level).
  struct holder {
    std::optional<Tree> t;
  };
  EXPECT_TRUE(from_bytes<holder>(to_bytes(holder{tree(6)}), {.max_depth = 8}));
  EXPECT_FALSE(from_bytes<holder>(to_bytes(holder{tree(7)}), {.max_depth = 8}));
  auto deep = to_bytes(tree(80));
  auto too_deep = from_bytes<Tree>(deep);  // max_depth 64
  ASSERT_FALSE(too_deep);
  EXPECT_EQ(too_deep.error().detail(), "protobuf message failed to parse");
  auto fine = from_bytes<Tree>(deep, {.max_depth = 100});
  ASSERT_TRUE(fine) << fine.error().message();
  int n = 0;
  for (const Tree* t = &*fine; t->children_size() > 0; t = &t->children(0)) {
    EXPECT_EQ(t->children(0).value(), n++);
  }
  EXPECT_EQ(n, 80);
}

TEST(protobuf, missing_required_fields_are_a_decode_error) {
  LiteNote n;  // `text` is required and not set
  n.add_tags(1);
  auto r = from_bytes<LiteNote>(to_bytes(n));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), troupe::errc::decode_error);
  EXPECT_EQ(r.error().detail(), "protobuf message is missing required fields");
}

TEST(protobuf, print_shows_fields_or_the_type_and_size) {
  std::ostringstream full;
  troupe::codec::codec_traits<Order>::print(full, make_order());
  EXPECT_TRUE(full.str().starts_with("troupe.codec.testing.Order{id: 7 ")) << full.str();
  EXPECT_NE(full.str().find("customer: \"alice\""), std::string::npos) << full.str();
  EXPECT_NE(full.str().find("city: \"Leeds\""), std::string::npos) << full.str();
  EXPECT_NE(full.str().find("PRIORITY_HIGH"), std::string::npos) << full.str();
  EXPECT_EQ(troupe::codec::to_string(Order{}), "troupe.codec.testing.Order{}");

  LiteNote n;
  n.set_text("abc");
  EXPECT_EQ(troupe::codec::to_string(n), "troupe.codec.testing.LiteNote(5 bytes)");

  // Inside other values, through the codec's printer.
  std::string s = troupe::codec::to_string(place_order{"bob", make_order(), 3});
  EXPECT_TRUE(s.starts_with("{\"bob\", troupe.codec.testing.Order{id: 7 ")) << s;
  EXPECT_TRUE(s.ends_with("}, 3}")) << s;
}

TEST(protobuf, messages_go_through_the_registry_under_their_protobuf_name) {
  troupe::codec::message_registry reg;
  auto id = reg.add<Order>(troupe::codec::protobuf_type_name<Order>());
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, troupe::codec::type_id_of_name("troupe.codec.testing.Order"));
  std::vector<std::byte> bytes;
  troupe::codec::binary_writer w(bytes);
  ASSERT_TRUE(reg.encode(w, make_order(12)));
  auto m = reg.decode(bytes);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_NE(m->get<Order>(), nullptr);
  EXPECT_TRUE(MessageDifferencer::Equals(*m->get<Order>(), make_order(12)));
  std::ostringstream os;
  os << *m;
  EXPECT_TRUE(os.str().starts_with("troupe.codec.testing.Order{id: 12 ")) << os.str();
}

/// An actor that handles a protobuf message directly.
class order_desk : public troupe::actor<order_desk> {
 public:
  using handles = troupe::handles<Order, LiteNote>;
  void handle(const Order&) {}
  void handle(const LiteNote&) {}
};

TEST(protobuf, protobuf_messages_in_handles_register_under_their_full_name) {
  static_assert(troupe::codec::has_wire_name<Order>);
  auto reg = troupe::codec::message_registry::for_actors<order_desk>();
  ASSERT_TRUE(reg) << reg.error().message();
  const auto* info = reg->find<Order>();
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, "troupe.codec.testing.Order");
  EXPECT_EQ(info->id, troupe::codec::type_id_of_name("troupe.codec.testing.Order"));
  ASSERT_NE(reg->find<LiteNote>(), nullptr);
  EXPECT_EQ(reg->find<LiteNote>()->name, "troupe.codec.testing.LiteNote");
}

TEST(protobuf, type_name_is_the_full_protobuf_name) {
  EXPECT_EQ(troupe::codec::protobuf_type_name<Order>(), "troupe.codec.testing.Order");
  EXPECT_EQ(troupe::codec::protobuf_type_name<Tree>(), "troupe.codec.testing.Tree");
  EXPECT_EQ(troupe::codec::protobuf_type_name<LiteNote>(), "troupe.codec.testing.LiteNote");
  // Stable storage: the same view every time.
  EXPECT_EQ(troupe::codec::protobuf_type_name<Order>().data(),
            troupe::codec::protobuf_type_name<Order>().data());
}

}  // namespace protobuf_test
