#pragma once

#include <functional>
#include <mutex>
#include <utility>

#include "troupe/core/clock.hpp"

namespace troupe {

/// Calls a function every `period` on a clock (the next call is armed when
/// the previous one returns) until end(). Made with start(); owns itself:
/// end() deletes it, at once or when a call under way returns, so its owner
/// may go right after end().
///
/// Thread safety: end() from any thread, once; the function runs on the
/// clock's thread, never two calls at once.
class ticker final : public timer_node {
 public:
  /// Arms a ticker whose first call comes one period from now.
  static ticker* start(clock& c, duration period, std::function<void()> fn) {
    auto* t = new ticker(c, period, std::move(fn));
    std::lock_guard lock(t->mu_);
    t->due = c.now() + period;
    c.arm(*t);
    return t;
  }

  /// Stops the calls; a call under way finishes first (on its own thread),
  /// except when end() is called from inside it.
  void end() {
    std::unique_lock lock(mu_);
    stopped_ = true;
    if (clock_.cancel(*this)) {
      lock.unlock();
      delete this;
    }
  }

  void fire() noexcept override {
    std::unique_lock lock(mu_);
    if (stopped_) {
      lock.unlock();
      delete this;
      return;
    }
    fn_();
    due = clock_.now() + period_;
    clock_.arm(*this);
  }

 private:
  ticker(clock& c, duration period, std::function<void()> fn)
      : clock_(c), period_(period), fn_(std::move(fn)) {}

  clock& clock_;
  duration period_;
  std::function<void()> fn_;
  std::mutex mu_;
  bool stopped_ = false;
};

}  // namespace troupe
