#pragma once

#include <coroutine>
#include <cstdint>
#include <utility>
#include <vector>

#include "troupe/core/cell.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/timer.hpp"
#include "troupe/core/watch.hpp"

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

/// Delivers a `down` to actor W when the watched actor ends.
template <class W>
class down_to_actor final : public watch_entry {
 public:
  explicit down_to_actor(ref_ptr<actor_handle> w) : w_(std::move(w)) {}
  void notify(actor_id who, const exit_reason& why) noexcept override {
    try {
      w_->enqueue_notice(new tell_envelope<W, down>(down{who, why}));
    } catch (...) {  // out of memory: nothing else can be done here
    }
  }

 private:
  ref_ptr<actor_handle> w_;
};

/// Carries a linked actor's end to actor W: as an exit_signal message when W
/// traps exits, otherwise by ending W too when the exit was abnormal.
template <class W>
class link_to_actor final : public watch_entry {
 public:
  explicit link_to_actor(ref_ptr<actor_handle> w) : w_(std::move(w)) {}
  void notify(actor_id who, const exit_reason& why) noexcept override {
    if constexpr (W::traps_exits) {
      try {
        w_->enqueue_notice(new tell_envelope<W, exit_signal>(exit_signal{who, why}));
      } catch (...) {
      }
    } else {
      if (!why.is_normal()) w_->exit(why);
    }
  }

 private:
  ref_ptr<actor_handle> w_;
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
  /// Set to true (and handle troupe::exit_signal) to receive the end of a
  /// linked actor as a message instead of ending too.
  static constexpr bool traps_exits = false;

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
  /// Returns the system's named registry (troupe/core/registry.hpp).
  [[nodiscard]] troupe::registry& registry() const { return cell_->core().registry(); }
  /// Returns the system's receptionist (troupe/core/receptionist.hpp).
  [[nodiscard]] troupe::receptionist& receptionist() const { return cell_->core().receptionist(); }
  /// Returns the system's process groups (troupe/core/process_groups.hpp).
  [[nodiscard]] process_groups& groups() const { return cell_->core().groups(); }
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
  /// Watches `target`: when it ends, this actor receives one troupe::down
  /// (which it must list in `handles`), at once if it is already gone. The
  /// watch ends by itself when this actor ends.
  template <class B>
  watch_ref watch(const endpoint<B>& target) {
    static_assert(handles_v<Self, down>, "troupe: an actor that watches must handle troupe::down");
    if (!target) return {};
    auto e = make_ref<detail::down_to_actor<Self>>(ref_ptr<actor_handle>(cell_));
    std::uint64_t token = target.handle()->add_watch(std::move(e));
    cell_->own_watch(target.handle(), token);
    return watch_ref(target.handle(), token);
  }
  /// Stops watching (no down arrives for this watch afterwards, unless it was
  /// already on its way).
  void unwatch(watch_ref& w) { w.cancel(); }

  /// Links this actor and `target` both ways: when one ends abnormally
  /// (failed, killed, ...), the other ends with the same reason, unless it
  /// traps exits, in which case it receives a troupe::exit_signal. A link to
  /// an actor that is already gone acts at once.
  template <class B>
  void link(const endpoint<B>& target) {
    if constexpr (Self::traps_exits) {
      static_assert(handles_v<Self, exit_signal>,
                    "troupe: an actor that traps exits must handle troupe::exit_signal");
    }
    if (!target) return;
    ref_ptr<actor_handle> me(cell_);
    // Ours on them: tells us when they end.
    std::uint64_t theirs = target.handle()->add_watch(make_ref<detail::link_to_actor<Self>>(me));
    cell_->own_watch(target.handle(), theirs);
    // Theirs on us: tells them when we end.
    std::uint64_t ours = cell_->add_watch(make_ref<detail::link_to_actor<B>>(target.handle()));
    cell_->own_link(target.handle(), theirs, ours);
  }
  /// Removes a link made with link() (both directions).
  template <class B>
  void unlink(const endpoint<B>& target) {
    if (target) cell_->drop_link(*target.handle());
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
