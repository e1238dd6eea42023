#include "troupe/core/random.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

// The randomness seam: the xoshiro generator, unbiased bounded draws, the
// OS-seeded source. (The seeded replaying source is tested with sim.)

namespace {

/// A source that returns a fixed script of values.
class scripted final : public troupe::random_source {
 public:
  explicit scripted(std::vector<std::uint64_t> v) : v_(std::move(v)) {}
  std::uint64_t next() noexcept override { return v_[i_++ % v_.size()]; }

 private:
  std::vector<std::uint64_t> v_;
  std::size_t i_ = 0;
};

TEST(random, xoshiro_is_a_pure_function_of_its_seed) {
  troupe::xoshiro256 a(7), b(7), c(8);
  std::vector<std::uint64_t> va, vb, vc;
  for (int i = 0; i < 1000; ++i) {
    va.push_back(a());
    vb.push_back(b());
    vc.push_back(c());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  EXPECT_EQ(std::set<std::uint64_t>(va.begin(), va.end()).size(), va.size()) << "no repeats";
}

TEST(random, below_stays_in_range_and_covers_it) {
  troupe::system_random r;
  for (std::uint64_t bound : {1ULL, 2ULL, 3ULL, 10ULL, 1000ULL, (1ULL << 63) + 5}) {
    for (int i = 0; i < 2000; ++i) ASSERT_LT(r.below(bound), bound);
  }
  std::vector<int> hits(6, 0);
  for (int i = 0; i < 60'000; ++i) ++hits[r.below(6)];
  for (int h : hits) {
    EXPECT_GT(h, 9'000);  // 10,000 expected; 9,000 is > 10 sigma away
    EXPECT_LT(h, 11'000);
  }
}

TEST(random, below_multiplies_and_rejects_the_biased_zone) {
  // Lemire's method: the high 64 bits of next() * bound.
  scripted s({1, ~0ULL, (1ULL << 63) + 1});
  EXPECT_EQ(s.below(10), 0u);
  EXPECT_EQ(s.below(10), 9u);
  EXPECT_EQ(s.below(10), 5u);
  // A draw whose low half falls in the biased zone (below 2^64 mod 10 = 6) is
  // rejected and the next one is used.
  scripted biased({0, ~0ULL});
  EXPECT_EQ(biased.below(10), 9u);
}

TEST(random, system_random_is_seeded_differently_each_time) {
  troupe::system_random a, b;
  std::vector<std::uint64_t> va, vb;
  for (int i = 0; i < 4; ++i) {
    va.push_back(a.next());
    vb.push_back(b.next());
  }
  EXPECT_NE(va, vb) << "256 bits of OS entropy should not repeat";
}

}  // namespace
