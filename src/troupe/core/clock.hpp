#pragma once

#include <chrono>
#include <cstddef>
#include <limits>
#include <vector>

namespace troupe {

using duration = std::chrono::nanoseconds;
/// A point on a clock seam's monotonic time line. The type is steady_clock's,
/// but only a clock seam ever produces one.
using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

/// One pending timer. The owner embeds it, sets `due` and arms it on a clock;
/// the clock calls fire() once at or after `due` unless cancel() removed it
/// first. The owner keeps the node alive until fire() ran or cancel() returned
/// true.
class timer_node {
 public:
  /// Runs the timer's action. Called on the clock's timer thread (real clock)
  /// or inside advance() (manual clock), never while the clock's lock is held.
  virtual void fire() noexcept = 0;

  time_point due{};

 protected:
  ~timer_node() = default;

 private:
  friend class timer_queue;
  std::size_t heap_index_ = npos;
  std::size_t seq_ = 0;
  static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();
};

/// Orders armed timers by due time (ties: arming order), as an intrusive
/// binary heap: arm, cancel and pop are O(log n) with no allocation beyond the
/// heap's vector. Not synchronized: the owning clock locks around it.
class timer_queue {
 public:
  /// Adds `t`.
  void push(timer_node* t);
  /// Removes `t` if it is queued; returns whether it was.
  bool erase(timer_node* t) noexcept;
  /// Returns the earliest timer, or nullptr.
  [[nodiscard]] timer_node* top() const noexcept { return heap_.empty() ? nullptr : heap_[0]; }
  /// Removes and returns the earliest timer.
  timer_node* pop() noexcept;
  [[nodiscard]] bool empty() const noexcept { return heap_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }

 private:
  static bool before(const timer_node* a, const timer_node* b) noexcept {
    return a->due < b->due || (a->due == b->due && a->seq_ < b->seq_);
  }
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, timer_node* t) noexcept {
    heap_[i] = t;
    t->heap_index_ = i;
  }

  std::vector<timer_node*> heap_;
  std::size_t next_seq_ = 0;
};

/// The time seam: reads monotonic time and runs timers. Everything in troupe
/// that reads time or waits for it goes through a clock.
///
/// Thread safety: every member may be called from any thread.
class clock {
 public:
  virtual ~clock() = default;
  /// Returns the current time.
  [[nodiscard]] virtual time_point now() const noexcept = 0;
  /// Arms `t` to fire at `t.due` (at once if that has passed).
  virtual void arm(timer_node& t) = 0;
  /// Disarms `t`; returns true if it was armed and will now never fire,
  /// false if it already fired or is firing.
  virtual bool cancel(timer_node& t) noexcept = 0;
};

}  // namespace troupe
