#pragma once

#include <cstdint>
#include <mutex>

namespace troupe {

/// The randomness seam. Everything in troupe that draws random numbers draws
/// them here, so that a seeded source makes a run replayable.
///
/// Thread safety: next() may be called from any thread.
class random_source {
 public:
  virtual ~random_source() = default;
  /// Returns 64 random bits.
  virtual std::uint64_t next() noexcept = 0;
  /// Returns a value uniform in [0, bound) (bound > 0).
  std::uint64_t below(std::uint64_t bound) noexcept;
};

/// A small, fast, seedable generator (xoshiro256**). Not synchronized.
class xoshiro256 {
 public:
  explicit xoshiro256(std::uint64_t seed) noexcept;
  std::uint64_t operator()() noexcept;

 private:
  std::uint64_t s_[4];
};

/// Returns random bits from a generator seeded once from the operating
/// system's entropy source.
class system_random final : public random_source {
 public:
  system_random();
  std::uint64_t next() noexcept override;

 private:
  std::mutex mu_;
  xoshiro256 gen_;
};

}  // namespace troupe
