#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "troupe/core/clock.hpp"

namespace troupe {

/// Limits a rate: at most `jobs` per `per` on average, with up to `burst`
/// back to back after a quiet spell. jobs == 0 means unlimited.
struct rate_limit {
  std::uint32_t jobs = 0;
  duration per = std::chrono::seconds(1);
  std::uint32_t burst = 1;  ///< 0 counts as 1
};

namespace detail {

/// A token bucket kept as a theoretical arrival time (GCRA): exact integer
/// arithmetic, no refill timer. Time comes from the caller (a clock seam).
///
/// Not synchronized: one owner (a pool's dispatcher) uses it.
class rate_limiter {
 public:
  rate_limiter() = default;
  explicit rate_limiter(const rate_limit& r);

  /// Returns true when the limiter limits anything.
  [[nodiscard]] bool limited() const noexcept { return interval_ > duration::zero(); }
  /// Takes one token at `now`; false (and nothing taken) when none is left.
  bool try_take(time_point now) noexcept;
  /// Returns the earliest time a token is available (`now` or earlier: at
  /// once).
  [[nodiscard]] time_point next_at(time_point now) const noexcept;

 private:
  duration interval_{};   // time per token
  duration tolerance_{};  // (burst - 1) intervals
  std::optional<time_point> tat_;
};

}  // namespace detail
}  // namespace troupe
