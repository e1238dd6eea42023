#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "troupe/core/actor.hpp"
#include "troupe/core/dedicated_thread.hpp"
#include "troupe/core/discovery.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/mailbox_options.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/spawn.hpp"
#include "troupe/core/system_core.hpp"
#include "troupe/core/typed_cell.hpp"
#include "troupe/core/watch.hpp"

namespace troupe {

namespace detail {

/// Runs a callback when the watched actor ends.
class down_to_callback final : public watch_entry {
 public:
  explicit down_to_callback(std::function<void(const down&)> fn) : fn_(std::move(fn)) {}
  void notify(actor_id who, const exit_reason& why) noexcept override {
    try {
      fn_(down{who, why});
    } catch (...) {  // a watcher's callback may not disturb the ending actor
    }
  }

 private:
  std::function<void(const down&)> fn_;
};

}  // namespace detail

/// Configures a system. The seams default to the real ones (a work-stealing
/// pool, the steady clock, an OS-seeded random source); pass a deterministic
/// runtime's seams to test actors reproducibly. Borrowed seams must outlive
/// the system and every endpoint into it.
struct system_config {
  std::size_t workers = 0;  ///< pool threads; 0 = one per hardware thread
  duration default_ask_timeout = std::chrono::seconds(5);
  std::size_t batch = 64;  ///< messages an actor handles per turn before yielding
  duration shutdown_timeout = std::chrono::seconds(5);  ///< used by the destructor
  class clock* clock = nullptr;
  class executor* executor = nullptr;
  random_source* random = nullptr;
};

/// Tells how a shutdown went.
struct shutdown_report {
  std::size_t stuck_actors = 0;   ///< still inside a handler at the deadline
  std::size_t stuck_threads = 0;  ///< threads left running (detached) at the deadline
  [[nodiscard]] bool clean() const noexcept { return stuck_actors == 0 && stuck_threads == 0; }
};

/// An actor system: spawns actors and owns the threads, clock and random
/// source they run on.
///
/// Thread safety: spawn() may be called from any thread, including from inside
/// actors. shutdown() and the destructor from one thread outside the system.
class system {
 public:
  explicit system(system_config cfg = {});
  system(const system&) = delete;
  system& operator=(const system&) = delete;
  /// Shuts down with the configured timeout; never hangs past it.
  ~system();

  /// Creates an actor of type A from `args`, runs its on_start in the
  /// calling thread and returns its endpoint, or start_failed (with the
  /// reason) when on_start refused, or shutting_down.
  template <class A, class... Args>
  result<endpoint<A>> spawn(Args&&... args) {
    return spawn_with<A>(spawn_options{}, std::forward<Args>(args)...);
  }

  /// Like spawn(), with options (a bounded mailbox, a dedicated thread, a
  /// name, a label).
  template <class A, class... Args>
  result<endpoint<A>> spawn_with(const spawn_options& opts, Args&&... args) {
    auto c = detail::make_held_cell<A>(
        core_, opts, [&](void* mem) { ::new (mem) A(std::forward<Args>(args)...); });
    if (!c) return c.error();
    if (result<void> r = detail::launch(**c); !r) return r.error();
    return endpoint<A>(ref_ptr<actor_handle>(std::move(*c)));
  }

  /// Creates an actor that does not run yet: it has its endpoint, its name
  /// and label (from `opts`) and a mailbox that queues messages, but its
  /// on_start and handlers wait for `ready.start()`. Dropping the ready
  /// handle unstarted discards the actor (queued asks end with
  /// actor_not_found). A shutdown discards actors not started yet.
  template <class A, class... Args>
  result<prepared<A>> prepare_with(const spawn_options& opts, Args&&... args) {
    auto c = detail::make_held_cell<A>(
        core_, opts, [&](void* mem) { ::new (mem) A(std::forward<Args>(args)...); });
    if (!c) return c.error();
    endpoint<A> ep(ref_ptr<actor_handle>(c->get()));
    return prepared<A>{std::move(ep), ready_handle<A>(std::move(*c))};
  }
  /// Like prepare_with() with default options.
  template <class A, class... Args>
  result<prepared<A>> prepare(Args&&... args) {
    return prepare_with<A>(spawn_options{}, std::forward<Args>(args)...);
  }

  /// Calls `fn` once when `target` ends (at once if it is already gone), on
  /// the thread that ends it. `fn` must be short and must not throw.
  template <class B>
  watch_ref watch(const endpoint<B>& target, std::function<void(const down&)> fn) {
    if (!target) {
      fn(down{0, exit_reason(exit_reason::kind::normal)});
      return {};
    }
    auto e = make_ref<detail::down_to_callback>(std::move(fn));
    return watch_ref(target.handle(), target.handle()->add_watch(std::move(e)));
  }

  /// Stops every actor (post_stop runs for each), then the threads. Actors
  /// still busy when `timeout` has half passed are killed; threads still stuck
  /// at the deadline are detached and reported. Later calls do nothing.
  shutdown_report shutdown(duration timeout);

  /// Returns the number of tells that reached no actor.
  [[nodiscard]] std::uint64_t dead_letters() const noexcept { return core_->dead_letters(); }
  /// Returns the number of live actors.
  [[nodiscard]] std::size_t live_actors() const noexcept { return core_->live(); }
  /// Returns the system's clock seam.
  [[nodiscard]] class clock& time() const noexcept { return core_->time(); }
  /// Returns the system's named registry (unique names, typed lookup).
  [[nodiscard]] class registry& registry() const noexcept { return core_->registry(); }
  /// Returns the system's receptionist (labels, reception keys, listings).
  [[nodiscard]] class receptionist& receptionist() const noexcept { return core_->receptionist(); }
  /// Returns the system's process groups (scopes, groups, monitors).
  [[nodiscard]] process_groups& groups() const noexcept { return core_->groups(); }
  /// Returns the shared state (for extensions such as remoting).
  [[nodiscard]] system_core& core() const noexcept { return *core_; }

 private:
  struct owned;

  ref_ptr<system_core> core_;
  std::shared_ptr<owned> owned_;
  duration shutdown_timeout_;
  bool shut_down_ = false;
  shutdown_report report_{};
};

}  // namespace troupe
