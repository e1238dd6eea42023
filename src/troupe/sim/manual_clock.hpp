#pragma once

#include <mutex>

#include "troupe/core/clock.hpp"

namespace troupe::sim {

/// A clock that only moves when told. Timers fire inside fire_next() (or a
/// runtime's advance()), in due order, ties in arming order.
///
/// Thread safety: all members may be called from any thread, but a
/// deterministic test drives it from one.
class manual_clock final : public clock {
 public:
  /// Starts at `start` (default: one hour after the epoch of time_point, so
  /// that subtracting small durations stays positive).
  explicit manual_clock(time_point start = time_point(std::chrono::hours(1)));

  [[nodiscard]] time_point now() const noexcept override;
  void arm(timer_node& t) override;
  bool cancel(timer_node& t) noexcept override;

  /// Fires the earliest timer due at or before `limit`, moving the clock to
  /// its due time; returns false (and changes nothing) when there is none.
  bool fire_next(time_point limit);
  /// Moves the clock forward to `t` without firing anything (never backward).
  void set(time_point t) noexcept;
  /// Returns the due time of the earliest armed timer, or time_point::max().
  [[nodiscard]] time_point next_due() const noexcept;
  /// Returns the number of armed timers.
  [[nodiscard]] std::size_t armed() const noexcept;

 private:
  mutable std::mutex mu_;
  time_point now_;
  timer_queue queue_;
};

}  // namespace troupe::sim
