#include "troupe/core/hash_ring.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

// The consistent-hash ring and routing keys: stable hashes, balance, and key
// movement when members come and go.

namespace {

using troupe::routing_key;
using troupe::detail::hash_ring;

TEST(routing_key, hashes_are_stable_across_runs_and_platforms) {
  // Fixed values: a key must map to the same member on every node.
  EXPECT_EQ(routing_key("user/7").hash(), routing_key(std::string("user/7")).hash());
  EXPECT_EQ(routing_key("").hash(), troupe::detail::mix64(0xcbf29ce484222325ULL));
  EXPECT_EQ(routing_key(std::uint64_t{42}).hash(), troupe::detail::mix64(42));
  EXPECT_EQ(routing_key(42).hash(), routing_key(std::uint64_t{42}).hash());
  EXPECT_EQ(troupe::detail::mix64(0), 0xe220a8397b1dcdafULL);  // splitmix64's first output
  EXPECT_NE(routing_key("a").hash(), routing_key("b").hash());
  EXPECT_EQ(routing_key::from_hash(7).hash(), 7u);
}

std::vector<std::size_t> owners(const hash_ring& r, int keys) {
  std::vector<std::size_t> out;
  for (int k = 0; k < keys; ++k) out.push_back(*r.owner(routing_key(k).hash()));
  return out;
}

TEST(hash_ring, an_empty_ring_owns_nothing) {
  hash_ring r;
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.owner(123).has_value());
  r.assign({});
  EXPECT_FALSE(r.owner(123).has_value());
}

TEST(hash_ring, keys_spread_evenly) {
  hash_ring r;
  std::vector<std::uint64_t> ids = {11, 12, 13, 14, 15, 16, 17, 18};
  r.assign(ids);
  std::vector<int> load(ids.size());
  constexpr int keys = 80'000;
  for (std::size_t o : owners(r, keys)) ++load[o];
  for (int n : load) EXPECT_NEAR(n, keys / 8, keys / 8 * 0.25);
}

TEST(hash_ring, removing_a_member_moves_only_its_keys) {
  hash_ring r;
  std::vector<std::uint64_t> ids = {101, 102, 103, 104, 105};
  r.assign(ids);
  const auto before = owners(r, 10'000);
  std::vector<std::uint64_t> fewer = {101, 102, 104, 105};  // 103 leaves
  r.assign(fewer);
  const auto after = owners(r, 10'000);
  for (std::size_t k = 0; k < before.size(); ++k) {
    if (ids[before[k]] == 103) continue;
    EXPECT_EQ(ids[before[k]], fewer[after[k]]) << "key " << k;
  }
}

TEST(hash_ring, positions_follow_ids_not_order) {
  hash_ring a;
  hash_ring b;
  std::vector<std::uint64_t> ab = {1, 2, 3};
  std::vector<std::uint64_t> ba = {3, 1, 2};
  a.assign(ab);
  b.assign(ba);
  for (int k = 0; k < 1000; ++k) {
    const std::uint64_t h = routing_key(k).hash();
    EXPECT_EQ(ab[*a.owner(h)], ba[*b.owner(h)]);
  }
}

}  // namespace
