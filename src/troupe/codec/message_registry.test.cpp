#include "troupe/codec/message_registry.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "troupe/core/actor.hpp"

namespace message_registry_test {

using troupe::errc;
using troupe::codec::message_registry;
using troupe::codec::type_id_of;
using troupe::codec::type_id_of_name;

struct put {
  using reply = bool;
  static constexpr std::string_view type_name = "test.kv.put";
  std::string key;
  std::vector<std::int64_t> values;
};

struct get {
  using reply = std::vector<std::int64_t>;
  static constexpr std::string_view type_name = "test.kv.get";
  std::string key;
};

struct clear {
  static constexpr std::string_view type_name = "test.kv.clear";
};

/// Same wire name as put, another C++ type: a clash to refuse.
struct put_again {
  static constexpr std::string_view type_name = "test.kv.put";
  int x = 0;
};

class store : public troupe::actor<store> {
 public:
  using handles = troupe::handles<put, get, clear>;
  bool handle(const put&) { return true; }
  std::vector<std::int64_t> handle(const get&) { return {}; }
  void handle(const clear&) {}
};

class other_store : public troupe::actor<other_store> {
 public:
  using handles = troupe::handles<get, put_again>;
  std::vector<std::int64_t> handle(const get&) { return {}; }
  void handle(const put_again&) {}
};

TEST(type_id, is_a_stable_hash_of_the_wire_name) {
  // Part of the protocol: these values may never change.
  static_assert(type_id_of_name("") == 0xf52a15e9a9b5e89bULL);
  static_assert(type_id_of<put>() == type_id_of_name("test.kv.put"));
  EXPECT_EQ(type_id_of_name("test.kv.put"), 0xeb3f1b1a5fb49f8fULL);
  EXPECT_NE(type_id_of_name("a"), type_id_of_name("b"));
}

TEST(message_registry, registers_every_message_an_actor_handles_and_round_trips_them) {
  auto reg = message_registry::for_actors<store>();
  ASSERT_TRUE(reg) << reg.error().message();
  EXPECT_EQ(reg->size(), 3u);
  const auto* info = reg->find(type_id_of<get>());
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, "test.kv.get");
  EXPECT_EQ(info->cxx_name(), "message_registry_test::get");
  ASSERT_NE(info->reply, nullptr);
  EXPECT_EQ(*info->reply->type, typeid(std::vector<std::int64_t>));
  EXPECT_EQ(reg->find<clear>()->reply, nullptr);  // tell only

  std::vector<std::byte> buf;
  troupe::codec::binary_writer w(buf);
  ASSERT_TRUE(reg->encode(w, put{"k", {1, -2, 3}}));
  auto back = reg->decode(buf);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->info(), reg->find<put>());
  EXPECT_EQ(back->get<get>(), nullptr);
  const put* p = back->get<put>();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->key, "k");
  EXPECT_EQ(p->values, (std::vector<std::int64_t>{1, -2, 3}));
  // Forwarding a decoded message re-encodes it through the registry.
  std::vector<std::byte> again;
  troupe::codec::binary_writer w2(again);
  message_registry::write_id(w2, back->info()->id);
  back->encode(w2);
  EXPECT_EQ(again, buf);
}

TEST(message_registry, the_type_id_comes_first_as_eight_little_endian_bytes) {
  message_registry reg;
  ASSERT_TRUE(reg.add<clear>());
  std::vector<std::byte> buf;
  troupe::codec::binary_writer w(buf);
  ASSERT_TRUE(reg.encode(w, clear{}));
  ASSERT_EQ(buf.size(), 8u + 5u);  // id, then an empty struct: count 0, length 0
  const auto id = type_id_of<clear>();
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(buf[i], static_cast<std::byte>(id >> (8 * i)));
}

TEST(message_registry, two_types_with_one_name_are_refused_naming_both) {
  auto reg = message_registry::for_actors<store, other_store>();
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().code(), errc::name_taken);
  EXPECT_EQ(reg.error().detail(),
            "two message types have the wire name 'test.kv.put': message_registry_test::put and "
            "message_registry_test::put_again");
}

TEST(message_registry, two_names_with_one_id_are_refused_naming_both) {
  // A deliberately weak id function makes a collision that 64 bits of hash
  // will not produce on request.
  message_registry reg(
      [](std::string_view name) noexcept -> troupe::codec::type_id { return name.size(); });
  ASSERT_TRUE(reg.add<get>());                       // "test.kv.get": 11 characters
  auto clash = reg.add<std::string>("other.thing");  // 11 characters too
  ASSERT_FALSE(clash);
  EXPECT_EQ(clash.error().code(), errc::name_taken);
  EXPECT_NE(clash.error().detail().find("'test.kv.get' (message_registry_test::get)"),
            std::string::npos)
      << clash.error().detail();
  EXPECT_NE(clash.error().detail().find("'other.thing' (std::"), std::string::npos)
      << clash.error().detail();
  EXPECT_NE(clash.error().detail().find("0x000000000000000b"), std::string::npos);
  EXPECT_EQ(reg.size(), 1u);  // nothing half-added
}

TEST(message_registry, adding_again_is_harmless_but_one_type_has_one_name) {
  message_registry reg;
  auto a = reg.add<get>();
  auto b = reg.add<get>();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  auto renamed = reg.add<get>("test.kv.get2");
  ASSERT_FALSE(renamed);
  EXPECT_EQ(renamed.error().code(), errc::name_taken);
  auto empty = reg.add<put>("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), errc::invalid_name);
}

TEST(message_registry, unknown_ids_unregistered_types_and_bad_bodies_are_typed_errors) {
  message_registry reg;
  ASSERT_TRUE(reg.add<put>());
  std::vector<std::byte> buf;
  troupe::codec::binary_writer w(buf);
  auto unregistered = reg.encode(w, get{"k"});
  ASSERT_FALSE(unregistered);
  EXPECT_EQ(unregistered.error().code(), errc::invalid_argument);
  EXPECT_TRUE(buf.empty());  // nothing written

  message_registry::write_id(w, type_id_of<get>());
  troupe::codec::encode(w, get{"k"});
  auto unknown = reg.decode(buf);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), errc::decode_error);
  EXPECT_EQ(unknown.error().detail().rfind("unknown message type id 0x", 0), 0u);

  buf.clear();
  ASSERT_TRUE(reg.encode(w, put{"key", {1}}));
  for (std::size_t cut = 0; cut < buf.size(); ++cut) {
    auto r = reg.decode(std::span<const std::byte>(buf.data(), cut));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), errc::decode_error);
  }
  buf.push_back(std::byte{0});
  auto extra = reg.decode(buf);
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().detail(), "bytes left after the message");
}

TEST(message_registry, a_decoded_message_prints_itself) {
  message_registry reg;
  ASSERT_TRUE(reg.add<put>());
  std::vector<std::byte> buf;
  troupe::codec::binary_writer w(buf);
  ASSERT_TRUE(reg.encode(w, put{"k", {7}}));
  auto m = reg.decode(buf);
  ASSERT_TRUE(m);
  std::ostringstream os;
  os << *m;
  EXPECT_EQ(os.str(), "test.kv.put{\"k\", [7]}");
}

}  // namespace message_registry_test
