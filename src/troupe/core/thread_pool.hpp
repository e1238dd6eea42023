#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "troupe/core/executor.hpp"

namespace troupe {

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

  /// Returns the number of worker threads.
  [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }

  /// Stops the workers and waits for them until `deadline_ms` have passed.
  /// Workers still inside a turn then are detached (they keep the pool's
  /// shared state alive and end when their turn returns). Returns the number
  /// of workers that did not end in time.
  std::size_t stop(std::chrono::milliseconds deadline_ms);

 private:
  struct state;
  std::shared_ptr<state> st_;
  std::vector<std::thread> workers_;
};

}  // namespace troupe
