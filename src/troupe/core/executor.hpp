#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

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

/// An event loop (a network transport's) that an executor's idle threads can
/// run instead of sleeping: the thread that reads a message is then the one
/// that runs the actor it wakes, with no hand-off between threads.
///
/// The executor calls run_until() and poll() on one thread at a time.
class io_driver {
 public:
  enum class outcome : std::uint8_t {
    ran,       ///< at least one handler ran
    idle,      ///< nothing was ready (or the deadline passed first)
    finished,  ///< the loop has no work left and never will: detach it
  };
  virtual ~io_driver() = default;
  /// Runs ready handlers, waiting until `deadline` for one when none is
  /// ready. May return as soon as one handler ran.
  virtual outcome run_until(std::chrono::steady_clock::time_point deadline) noexcept = 0;
  /// Runs what is ready now, without waiting.
  virtual outcome poll() noexcept = 0;
  /// Makes a run_until() in progress return promptly. Any thread.
  virtual void interrupt() noexcept = 0;
};

/// Keeps an io_driver attached to an executor. Destroying it detaches the
/// driver and waits until no executor thread is inside it (unless the
/// caller is that thread).
class io_attachment {
 public:
  virtual ~io_attachment() = default;
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
  virtual bool drive_until(bool (*done)(void*), void* ctx) { return (void)done, (void)ctx, false; }
  /// Says that the one actor this executor was made for has ended (for
  /// dedicated threads); shared executors ignore it.
  virtual void retire() noexcept {}
  /// Offers `driver` to this executor's idle threads. Returns null when the
  /// executor cannot run it (it has no threads of its own to lend, or already
  /// runs another driver): the caller then runs the loop on its own threads.
  virtual std::unique_ptr<io_attachment> attach_io(std::shared_ptr<io_driver> driver) {
    return (void)driver, nullptr;
  }
};

}  // namespace troupe
