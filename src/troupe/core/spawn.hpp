#pragma once

#include <memory>
#include <string>
#include <utility>

#include "troupe/core/dedicated_thread.hpp"
#include "troupe/core/discovery.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/mailbox_options.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/typed_cell.hpp"

namespace troupe {

/// Chooses how one actor is spawned.
struct spawn_options {
  mailbox_options mailbox{};      ///< bounded or not (unbounded by default)
  bool dedicated_thread = false;  ///< run on a thread of its own (for blocking work)
  /// Registers the actor under this name in the system's registry (empty:
  /// none). A taken or malformed name fails the spawn (name_taken,
  /// invalid_name); the actor is then discarded without post_stop.
  std::string name;
  /// Checks the actor in at the receptionist under this label, public and
  /// with no key (empty: none). Fails the spawn like `name`.
  std::string label;
};

namespace detail {

/// Builds a cell for an actor of type A with `construct(storage)`, applies
/// `opts`, adds it to the live set and registers its name and label. The
/// cell is held: it queues messages but runs nothing until activated.
template <class A, class F>
result<ref_ptr<typed_cell<A>>> make_held_cell(const ref_ptr<system_core>& core,
                                              const spawn_options& opts, F&& construct) {
  if (core->shutting_down()) return errc::shutting_down;
  // Placement into a pooled block, so that a throwing constructor gives the
  // block back here (the cell's own operator delete frees it later).
  ref_ptr<typed_cell<A>> c;
  void* mem = cell_pool::allocate(sizeof(typed_cell<A>));
  try {
    c = ref_ptr<typed_cell<A>>::adopt(::new (mem) typed_cell<A>(
        from_factory, core, core->exec(), opts.mailbox, std::forward<F>(construct)));
  } catch (const std::exception& ex) {
    cell_pool::deallocate(mem, sizeof(typed_cell<A>));
    return error(errc::start_failed, ex.what());
  } catch (...) {
    cell_pool::deallocate(mem, sizeof(typed_cell<A>));
    return error(errc::start_failed, "unknown exception");
  }
  if (opts.dedicated_thread) c->use_own_executor(std::make_shared<dedicated_thread>(*core));
  if (!core->attach(c.get())) {
    c->abandon();
    return errc::shutting_down;
  }
  if (!opts.name.empty() || !opts.label.empty()) {
    if (result<void> r = register_spawned(*core, opts.name, opts.label,
                                          ref_ptr<actor_handle>(c.get()), actor_type::of<A>());
        !r) {
      c->discard();  // its watches remove whatever was registered
      return r.error();
    }
  }
  return c;
}

/// Runs on_start of a held cell in the calling thread and activates it;
/// discards it when on_start refuses, or returns shutting_down when a
/// shutdown discarded it first.
template <class A>
result<void> launch(typed_cell<A>& c) {
  if (!c.claim()) return errc::shutting_down;  // discarded by a shutdown
  if (result<void> r = c.start(); !r) {
    c.discard_claimed();
    return r;
  }
  // A shutdown that began during on_start has sent this actor a stop: it
  // runs post_start, then ends.
  c.activate();
  return {};
}

}  // namespace detail

/// Starts a prepared actor, or discards it when dropped unstarted.
///
/// Thread safety: one thread uses a ready handle; start() may race with a
/// system shutdown (which then wins and start() returns shutting_down).
template <class A>
class ready_handle {
 public:
  ready_handle() = default;
  explicit ready_handle(ref_ptr<detail::typed_cell<A>> c) : cell_(std::move(c)) {}
  ready_handle(ready_handle&&) noexcept = default;
  ready_handle& operator=(ready_handle&& o) noexcept {
    if (this != &o) {
      discard();
      cell_ = std::move(o.cell_);
    }
    return *this;
  }
  /// Discards the actor if it was never started.
  ~ready_handle() { discard(); }

  /// Runs on_start in the calling thread, then lets the actor handle what
  /// was queued for it. On failure (start_failed, shutting_down) the actor
  /// is discarded: queued asks end with actor_not_found. Only once.
  result<void> start() {
    if (!cell_) return error(errc::invalid_argument, "already started or discarded");
    auto c = std::move(cell_);
    return detail::launch(*c);
  }
  /// Returns true until start() or discard().
  [[nodiscard]] bool pending() const noexcept { return static_cast<bool>(cell_); }
  /// Discards an unstarted actor: queued asks end with actor_not_found and
  /// its name and label are released.
  void discard() noexcept {
    if (cell_) std::exchange(cell_, {})->discard();
  }

 private:
  ref_ptr<detail::typed_cell<A>> cell_;
};

/// An actor that exists (it has an endpoint, a name, a label, a mailbox) but
/// does not run until `ready.start()`.
template <class A>
struct prepared {
  endpoint<A> ep;
  ready_handle<A> ready;
};

}  // namespace troupe
