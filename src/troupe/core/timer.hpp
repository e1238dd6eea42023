#pragma once

#include <atomic>

#include "troupe/core/clock.hpp"
#include "troupe/core/ref_counted.hpp"

namespace troupe {

/// A one-shot or periodic timer armed on a clock seam. Periodic timers are
/// re-armed at `previous due + period`, so they never drift.
///
/// Thread safety: cancel() and active() from any thread; the action runs on
/// the clock's timer thread (or inside a manual clock's advance()).
class timer_base : public ref_counted, public timer_node {
 public:
  timer_base(clock& c, duration period) : clock_(c), period_(period) {}

  /// Arms the timer to first fire at `first_due`.
  void start(time_point first_due);
  /// Cancels the timer: it will not fire again. Safe to call many times.
  void cancel() noexcept;
  /// Returns true while the timer may still fire.
  [[nodiscard]] bool active() const noexcept { return !finished_.load(std::memory_order_acquire); }

  void fire() noexcept final;

 protected:
  /// Performs the timer's action (send a message, resume a handler).
  virtual void on_fire() noexcept = 0;

 private:
  void lock() noexcept;
  void unlock() noexcept { lock_.store(false, std::memory_order_release); }

  clock& clock_;
  duration period_;
  std::atomic<bool> lock_{false};
  std::atomic<bool> finished_{false};
};

/// Refers to a started timer; cancel() stops it. Dropping the handle does not
/// cancel the timer (an actor's timers are cancelled when it stops).
class timer_handle {
 public:
  timer_handle() = default;
  explicit timer_handle(ref_ptr<timer_base> t) : t_(std::move(t)) {}
  /// Cancels the timer; no effect on an empty handle or a finished timer.
  void cancel() noexcept {
    if (t_) t_->cancel();
  }
  /// Returns true while the timer may still fire.
  [[nodiscard]] bool active() const noexcept { return t_ && t_->active(); }

 private:
  ref_ptr<timer_base> t_;
};

}  // namespace troupe
