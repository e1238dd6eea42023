#pragma once

#include <cstdint>

namespace troupe {

/// A unit of work an executor runs: an actor cell with messages to handle.
/// The executor links queued items through `next_runnable`.
class schedulable {
 public:
  /// Runs one turn. Called by exactly one executor thread at a time.
  virtual void run() noexcept = 0;

  schedulable* next_runnable = nullptr;

 protected:
  ~schedulable() = default;
};

/// How an item came to be posted; lets the executor choose where it goes.
enum class post_hint : std::uint8_t {
  wake,   ///< became runnable because something was sent to it
  yield,  ///< used up its turn and still has work: go behind the others
};

/// The scheduling seam: runs schedulables, each on one thread at a time.
///
/// Thread safety: post() may be called from any thread.
class executor {
 public:
  virtual ~executor() = default;
  /// Queues `s` to run soon. The caller passes ownership of one scheduling
  /// reference, which the item itself drops at the end of its turn.
  virtual void post(schedulable* s, post_hint hint) noexcept = 0;
  /// Returns true when the caller runs inside this executor (on one of its
  /// threads or, for a single-threaded executor, inside its run loop).
  [[nodiscard]] virtual bool in_executor() const noexcept = 0;
  /// Drives the executor from the calling thread until `done(ctx)` is true,
  /// for single-threaded executors that only run when driven. Returns false
  /// when this executor runs on its own threads (the caller must block
  /// instead).
  /// Says that the one actor this executor was made for has ended (for
  /// dedicated threads); shared executors ignore it.
  virtual void retire() noexcept {}
  virtual bool drive_until(bool (*done)(void*), void* ctx) { return (void)done, (void)ctx, false; }
};

}  // namespace troupe
