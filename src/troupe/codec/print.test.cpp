#include "troupe/codec/print.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "troupe/core/actor_address.hpp"

namespace print_test {

using troupe::codec::to_string;
using namespace std::chrono_literals;

struct order {
  static constexpr std::string_view type_name = "shop.order";
  std::string item;
  std::vector<int> sizes;
  std::optional<double> discount;
};

struct point {
  int x = 0;
  int y = 0;
};

class account {
 public:
  account(std::string owner, std::int64_t balance) : owner_(std::move(owner)), balance_(balance) {}
  template <class Inspector>
  friend void inspect(Inspector& f, account& a) {
    f.field("owner", a.owner_);
    f.field("balance", a.balance_);
  }

 private:
  std::string owner_;
  std::int64_t balance_;
};

TEST(print, values_read_like_their_source) {
  EXPECT_EQ(to_string(true), "true");
  EXPECT_EQ(to_string(std::uint8_t{200}), "200");  // a number, not a character
  EXPECT_EQ(to_string(-3), "-3");
  EXPECT_EQ(to_string(std::string("a\"b\n\x01")), "\"a\\\"b\\n\\x01\"");
  EXPECT_EQ(to_string(std::vector<int>{1, 2}), "[1, 2]");
  EXPECT_EQ(to_string(std::map<std::string, int>{{"a", 1}, {"b", 2}}), "{\"a\": 1, \"b\": 2}");
  EXPECT_EQ(to_string(std::optional<int>{}), "none");
  EXPECT_EQ(to_string(std::make_unique<int>(4)), "4");
  EXPECT_EQ(to_string(std::variant<int, std::string>("x")), "\"x\"");
  EXPECT_EQ(to_string(std::pair<int, bool>{1, false}), "(1, false)");
  EXPECT_EQ(to_string(250ms), "250ms");
  EXPECT_EQ(to_string(std::chrono::duration<int, std::ratio<1, 3>>(2)), "2*1/3s");
  EXPECT_EQ(to_string(std::vector<std::byte>{std::byte{0x0a}, std::byte{0xff}}), "bytes(2)[0a ff]");
}

TEST(print, structs_show_their_wire_name_and_inspected_types_their_field_names) {
  EXPECT_EQ(to_string(order{"tea", {1, 2}, 0.5}), "shop.order{\"tea\", [1, 2], 0.5}");
  EXPECT_EQ(to_string(point{1, -1}), "{1, -1}");
  EXPECT_EQ(to_string(account("ann", 12)), "{owner=\"ann\", balance=12}");
  EXPECT_EQ(to_string(troupe::actor_address{"n1", 9, 4}), "troupe.actor_address{\"n1\", 9, 4}");
}

TEST(print, long_byte_buffers_are_cut_short) {
  std::vector<std::byte> big(100, std::byte{1});
  std::string s = to_string(big);
  EXPECT_EQ(s.rfind("bytes(100)[01 01", 0), 0u);
  EXPECT_EQ(s.substr(s.size() - 5), " ...]");
}

}  // namespace print_test
