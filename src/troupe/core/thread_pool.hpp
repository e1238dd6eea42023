#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "troupe/core/executor.hpp"

namespace troupe {

/// The names a thread_pool gives its threads (as `top -H` and debuggers
/// show them): its workers, and the keeper that polls an attached io_driver
/// while every worker is busy.
inline constexpr char worker_thread_name[] = "troupe-worker";
inline constexpr char keeper_thread_name[] = "troupe-keeper";

/// Tunes a thread_pool.
struct thread_pool_options {
  std::size_t workers = 0;       ///< 0: one per hardware thread
  std::size_t spin_rounds = 16;  ///< yields (each followed by a look at the queues) before parking
};

/// The real scheduling seam: a work-stealing pool of worker threads.
///
/// Each worker has a one-item "next" slot and a local queue. An item posted
/// from a worker goes into that worker's next slot, so a reply runs on the
/// thread that produced it without waking another core; the item it displaces
/// moves to the local queue, where idle workers can steal it. Items posted
/// from other threads go to a shared queue. Idle workers yield a few times,
/// then park on a futex: an idle pool uses no CPU.
///
/// Thread safety: post() from any thread. stop() from one thread, not a worker.
class thread_pool final : public executor {
 public:
  explicit thread_pool(thread_pool_options opts = {});
  ~thread_pool() override;

  void post(schedulable* s, post_hint hint) noexcept override;
  [[nodiscard]] bool in_executor() const noexcept override;
  /// Lends the pool's idle workers to `driver`: one idle worker at a time
  /// waits for I/O inside it instead of on its futex, so the worker that
  /// reads a message runs the actor it wakes, and then wakes a sleeping
  /// worker to take over the waiting. Busy workers poll the driver between
  /// turns when nobody has for 100 µs, and a keeper thread polls it when
  /// every worker has been away from it for 2 ms (a long turn on each), so
  /// I/O and its timers never wait for a handler to end. Returns null when
  /// the pool has stopped or already runs a driver.
  std::unique_ptr<io_attachment> attach_io(std::shared_ptr<io_driver> driver) override;

  /// Returns the number of worker threads.
  [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }

  /// Stops the workers and waits for them until `deadline_ms` have passed.
  /// Workers still inside a turn then are detached (they keep the pool's
  /// shared state alive and end when their turn returns). Returns the number
  /// of workers that did not end in time.
  std::size_t stop(std::chrono::milliseconds deadline_ms);

 private:
  struct state;
  class attachment;
  std::shared_ptr<state> st_;
  std::vector<std::thread> workers_;
};

}  // namespace troupe
