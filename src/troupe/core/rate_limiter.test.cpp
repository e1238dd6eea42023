#include "troupe/core/rate_limiter.hpp"

#include <gtest/gtest.h>

// The pool's rate limiter (GCRA) in plain time points.

namespace {

using namespace std::chrono_literals;
using troupe::rate_limit;
using troupe::time_point;
using troupe::detail::rate_limiter;

const time_point t0{std::chrono::hours(1)};

TEST(rate_limiter, unlimited_by_default) {
  rate_limiter r;
  EXPECT_FALSE(r.limited());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(r.try_take(t0));
  EXPECT_EQ(r.next_at(t0), t0);
  EXPECT_FALSE(rate_limiter(rate_limit{0, 1s, 5}).limited());
}

TEST(rate_limiter, spaces_tokens_evenly_without_burst) {
  rate_limiter r(rate_limit{4, 1s, 1});  // one per 250 ms
  EXPECT_TRUE(r.try_take(t0));
  EXPECT_FALSE(r.try_take(t0));
  EXPECT_EQ(r.next_at(t0), t0 + 250ms);
  EXPECT_FALSE(r.try_take(t0 + 249ms));
  EXPECT_TRUE(r.try_take(t0 + 250ms));
  EXPECT_EQ(r.next_at(t0 + 250ms), t0 + 500ms);
}

TEST(rate_limiter, allows_a_burst_after_a_quiet_spell_but_keeps_the_average) {
  rate_limiter r(rate_limit{10, 1s, 3});  // one per 100 ms, bursts of 3
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.try_take(t0)) << i;
  EXPECT_FALSE(r.try_take(t0));
  EXPECT_EQ(r.next_at(t0), t0 + 100ms);
  // After a long pause the burst is back, never more.
  const time_point later = t0 + 10s;
  int taken = 0;
  while (r.try_take(later)) ++taken;
  EXPECT_EQ(taken, 3);
  // Over 10 s of steady demand: 3 + 100 tokens at most.
  rate_limiter s(rate_limit{10, 1s, 3});
  int total = 0;
  for (auto t = t0; t <= t0 + 10s; t += 1ms) {
    while (s.try_take(t)) ++total;
  }
  EXPECT_EQ(total, 3 + 100);
}

}  // namespace
