#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "troupe/core/actor_handle.hpp"
#include "troupe/core/envelope_pool.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/mailbox_options.hpp"
#include "troupe/core/mpsc_queue.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system_core.hpp"

namespace troupe {

class cell;
class timer_base;

namespace detail {
struct task_promise_base;
}  // namespace detail

namespace detail {
template <class R>
class reply_state;
}  // namespace detail

/// Receives the exits of a supervised actor (on the thread that ends it).
class supervision_hook : public ref_counted {
 public:
  /// Reports that the actor `who` exited with `why` and now waits, with its
  /// mailbox, for a restart or a final stop. Must be short; must not throw.
  virtual void child_exited(actor_id who, const exit_reason& why) noexcept = 0;
};

/// Returns the cell whose turn runs on this thread, or nullptr outside actors.
cell* current_cell() noexcept;

/// The local implementation of an actor: two mailbox lanes, the scheduling
/// state, the lifecycle, and storage for the user's actor object.
///
/// Producers (any thread) call enqueue() / enqueue_system() and the signal
/// requests. Everything else runs on the actor's turn: one thread at a time,
/// chosen by the actor's executor.
class alignas(64) cell : public actor_handle, public schedulable {
 public:
  // Cells come from a per-thread pool of cache-line-aligned blocks: an actor
  // is often spawned on one thread and ended on another.
  static void* operator new(std::size_t size) { return detail::cell_pool::allocate(size); }
  static void* operator new(std::size_t size, std::align_val_t) {
    return detail::cell_pool::allocate(size);
  }
  static void operator delete(void* p, std::size_t size) noexcept {
    detail::cell_pool::deallocate(p, size);
  }
  static void operator delete(void* p, std::size_t size, std::align_val_t) noexcept {
    detail::cell_pool::deallocate(p, size);
  }

  send_result enqueue(envelope* e) noexcept override;
  void enqueue_system(envelope* e) noexcept override;
  [[nodiscard]] actor_id id() const noexcept override { return id_; }
  [[nodiscard]] system_core& core() const noexcept override { return *core_; }
  void stop(exit_reason why) noexcept override { request_stop(std::move(why)); }
  void kill() noexcept override { request_kill(); }
  void drain() noexcept override { request_drain(); }
  void enqueue_notice(envelope* e) noexcept override;
  void exit(exit_reason why) noexcept override { exit_linked(std::move(why)); }
  std::uint64_t add_watch(ref_ptr<watch_entry> e) override;
  void remove_watch(std::uint64_t token) noexcept override;

  /// Asks the actor to stop after its current message (and after its
  /// suspended handlers finish). Any thread.
  void request_stop(exit_reason why = exit_reason::normal()) noexcept;
  /// Ends the actor at its next turn; suspended handlers are destroyed. Any
  /// thread.
  void request_kill() noexcept;
  /// Refuses new messages, handles those already queued, then stops. Any
  /// thread.
  void request_drain() noexcept;
  /// Ends a cell that was never activated (a prepared actor that is dropped,
  /// or any held cell at shutdown): its queued asks end with
  /// actor_not_found, its registrations go, no hook runs but the
  /// destructor. Returns false (and does nothing) once it was activated.
  /// Any thread.
  bool discard() noexcept;
  /// Returns false once the actor has begun to close (hint; any thread).
  [[nodiscard]] bool alive() const noexcept { return !closing_.load(std::memory_order_acquire); }

  void run() noexcept override;

  // ---- supervision (any thread) ----

  /// Makes the cell supervised: its exits go to `hook` instead of ending it.
  /// Before activation only.
  void set_supervisor(ref_ptr<supervision_hook> hook);
  /// Rebuilds a retired actor (constructor, on_start, post_start) and lets it
  /// handle its mailbox again; `ack` ends with the outcome.
  void request_restart(ref_ptr<detail::reply_state<void>> ack) noexcept;
  /// Ends the current instance (post_stop with `why`) without telling the
  /// supervisor, keeping the mailbox for a restart; `ack` ends when done.
  void request_retire(exit_reason why, ref_ptr<detail::reply_state<void>> ack) noexcept;
  /// Ends the actor for good with `why`; `ack` ends when done.
  void request_final_stop(exit_reason why, ref_ptr<detail::reply_state<void>> ack) noexcept;

  // ---- the actor's own turn only ----

  /// Stops after the current message (the actor's own stop()).
  void stop_self(exit_reason why) noexcept;
  /// Remembers a watch this actor placed on another, removed when this actor
  /// ends (so a dead watcher leaves nothing behind).
  void own_watch(const ref_ptr<actor_handle>& target, std::uint64_t token);
  /// Remembers a link: `on_target` is the watch on `target` that tells this
  /// actor, `on_self` the watch on this actor that tells the target.
  void own_link(const ref_ptr<actor_handle>& target, std::uint64_t on_target,
                std::uint64_t on_self);
  /// Removes the link with `target` in both directions (no effect if none).
  void drop_link(actor_handle& target) noexcept;
  /// Ends the actor with `why` because a linked actor ended (exit signal).
  void exit_linked(exit_reason why) noexcept;
  /// Registers a timer to cancel when the actor stops.
  void own_timer(timer_base* t);
  /// Runs a handler coroutine that the cell now owns until it finishes.
  /// `keep` (may be null) is the envelope whose message the coroutine may
  /// still refer to; the task disposes it when it ends.
  void start_task(std::coroutine_handle<> h, detail::task_promise_base& p, envelope* keep);
  /// Called by a top-level handler coroutine when it finishes (`failure`
  /// holds its exception, if any).
  void task_finished(detail::task_promise_base& p, std::exception_ptr failure) noexcept;
  /// Returns the executor the actor runs on.
  [[nodiscard]] executor& exec() const noexcept { return *exec_; }
  /// Returns the exit reason (valid once terminated).
  [[nodiscard]] const exit_reason& reason() const noexcept;

 protected:
  cell(ref_ptr<system_core> core, executor& ex, bool reentrant, const mailbox_options& mbox);
  /// Makes the cell run on an executor of its own (a dedicated thread),
  /// retired when the actor ends. Before activation only.
  void use_own_executor(std::shared_ptr<executor> ex);
  ~cell() override;

  /// Claims a held cell for starting (on_start then activate); false when
  /// it was discarded (a shutdown) or already claimed. A claimed cell can no
  /// longer be discarded by others.
  bool claim() noexcept;
  /// Activates a claimed cell: from now on messages are scheduled. Called
  /// once by spawn (or a ready handle) after on_start succeeded.
  void activate() noexcept;
  /// Discards a claimed cell whose on_start refused.
  void discard_claimed() noexcept;
  /// Closes a cell whose actor never started (its constructor or on_start
  /// failed): cancels its timers and destroys the actor, without post_stop.
  void abandon() noexcept;

  /// Returns true while an actor instance lives in the cell.
  [[nodiscard]] virtual bool has_actor() const noexcept = 0;
  /// Builds a new actor instance and runs its on_start (for restarts).
  virtual result<void> rebuild() noexcept = 0;
  virtual void call_post_start() = 0;
  virtual void call_post_stop(const exit_reason& why) noexcept = 0;
  virtual void destroy_actor() noexcept = 0;

 private:
  enum sched : std::uint8_t { idle = 0, scheduled = 1, closed = 2 };
  enum class phase : std::uint8_t { created, running, stopping, restarting, dead };
  struct ext;
  struct watch_list;
  class signal;
  class control;

  void schedule_if_idle() noexcept;
  envelope* pop_user() noexcept;
  void deliver(envelope* e) noexcept;
  void handle_signal(int kind, exit_reason why) noexcept;
  void run_post_start() noexcept;
  /// Ends the actor as failed with `text` once the current step is done.
  void fail_self(std::string text) noexcept;
  void end_if_pending() noexcept;
  void terminate(exit_reason why) noexcept;
  void drain_closed() noexcept;
  void notify_watchers(const exit_reason& why) noexcept;
  void lock_watches() noexcept;
  void unlock_watches() noexcept { watch_lock_.store(false, std::memory_order_release); }
  [[nodiscard]] bool blocked() const noexcept {
    return (suspended_ != 0 && !reentrant_) || phase_ == phase::restarting;
  }
  void release_instance(errc asks_end_with) noexcept;
  void retire(exit_reason why, bool tell_supervisor) noexcept;
  enum class control_order : std::uint8_t { restart, retire, final_stop };
  void obey(control_order o, exit_reason why,
            const ref_ptr<detail::reply_state<void>>& ack) noexcept;
  ext& extension();

  // Read by producers on every send.
  ref_ptr<system_core> core_;
  executor* exec_;
  actor_id id_;
  std::atomic<std::uint8_t> sched_{idle};
  std::atomic<bool> closing_{false};
  std::atomic<bool> drain_lock_{false};
  std::atomic<bool> watch_lock_{false};
  std::atomic<std::uint8_t> launch_{0};  // 0 held, 1 activated, 2 discarded, 3 claimed
  bool bounded_;
  // The user lane's producers' end shares their line; its consumer's end
  // starts the line the actor's own turn writes.
  padded_mpsc_queue user_;
  // Written by the actor's own turn.
  phase phase_ = phase::created;
  bool reentrant_;
  bool envelope_retained_ = false;
  std::uint32_t suspended_ = 0;
  mpsc_queue system_;
  std::unique_ptr<ext> ext_;
  std::unique_ptr<watch_list> watches_;  // guarded by watch_lock_

 public:
  // Links of the system's live list; guarded by the system's lock.
  cell* live_prev = nullptr;
  cell* live_next = nullptr;
};

}  // namespace troupe
