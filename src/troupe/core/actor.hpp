#pragma once

#include <coroutine>
#include <utility>

#include "troupe/core/cell.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/timer.hpp"

namespace troupe {

namespace detail {

cell* constructing_cell() noexcept;

/// A timer that tells its actor a copy of M each time it fires.
template <class A, class M>
class message_timer final : public timer_base {
 public:
  message_timer(clock& c, duration period, ref_ptr<actor_handle> target, M m)
      : timer_base(c, period), target_(std::move(target)), msg_(std::move(m)) {}

 private:
  void on_fire() noexcept override {
    try {
      target_->enqueue(new tell_envelope<A, M>(msg_));
    } catch (...) {  // out of memory: the tick is lost, the timer goes on
    }
  }
  ref_ptr<actor_handle> target_;
  M msg_;
};

/// The awaitable of actor::sleep_for: resumes the coroutine in its actor's
/// turn after the delay.
class sleep_awaitable {
 public:
  sleep_awaitable(cell& c, duration d) : cell_(c), delay_(d) {}
  bool await_ready() const noexcept { return delay_.count() <= 0; }
  void await_suspend(std::coroutine_handle<> h);
  void await_resume() const noexcept {}

 private:
  cell& cell_;
  duration delay_;
};

}  // namespace detail

/// The base of every actor type: `class my_actor : public troupe::actor<my_actor>`.
///
/// An actor lists the messages it handles (`using handles = troupe::handles<...>;`)
/// and has one `handle` overload per message, returning the message's reply
/// type (or `task<reply>` for a coroutine). Handlers run one at a time, so the
/// actor's members need no locks. Optional hooks, all on the actor's turn:
/// - `on_start()`: runs inside spawn(), before anything else; throwing (or
///   returning false / an error result) refuses the start.
/// - `post_start()`: the first thing the actor does on its executor.
/// - `post_stop(const exit_reason&)`: the last thing; always called once.
///
/// Set `static constexpr bool reentrant = true;` to let other messages run
/// while a handler coroutine is suspended.
///
/// Every member below may be called only from the actor's own turn.
template <class Self>
class actor {
 public:
  static constexpr bool reentrant = false;

  void on_start() {}
  void post_start() {}
  void post_stop(const exit_reason&) {}

 protected:
  actor() : cell_(detail::constructing_cell()) {}
  ~actor() = default;

  /// Returns an endpoint to this actor.
  [[nodiscard]] endpoint<Self> self() const { return endpoint<Self>(ref_ptr<actor_handle>(cell_)); }
  /// Stops the actor once the current message is handled.
  void stop(exit_reason why = exit_reason::normal()) { cell_->stop_self(std::move(why)); }
  /// Returns the current time of the system's clock.
  [[nodiscard]] time_point now() const { return cell_->core().time().now(); }
  /// Returns the system's random source.
  [[nodiscard]] random_source& random() const { return cell_->core().random(); }

  /// Tells this actor `m` after `delay`. Cancelled when the actor stops.
  template <class M>
  timer_handle send_after(duration delay, M m) {
    return start_timer(delay, duration::zero(), std::move(m));
  }
  /// Tells this actor `m` every `period`, first after one period. Ticks stay
  /// on the grid start + k * period (no drift). Cancelled when the actor stops.
  template <class M>
  timer_handle send_interval(duration period, M m) {
    return start_timer(period, period, std::move(m));
  }
  /// Suspends the calling handler coroutine for `d` (`co_await sleep_for(d)`).
  [[nodiscard]] detail::sleep_awaitable sleep_for(duration d) const { return {*cell_, d}; }

 private:
  template <class M>
  timer_handle start_timer(duration first, duration period, M m) {
    static_assert(handles_v<Self, M>, "troupe: a timer's message must be one the actor handles");
    clock& c = cell_->core().time();
    auto t = make_ref<detail::message_timer<Self, M>>(c, period, ref_ptr<actor_handle>(cell_),
                                                      std::move(m));
    cell_->own_timer(t.get());
    t->start(c.now() + first);
    return timer_handle(std::move(t));
  }

  cell* cell_;
};

}  // namespace troupe
