#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "troupe/core/clock.hpp"
#include "troupe/core/executor.hpp"
#include "troupe/core/random.hpp"
#include "troupe/core/ref_counted.hpp"

namespace troupe {

class cell;
class registry;
class receptionist;
class process_groups;

/// The shared state of one system: its seams, defaults and counters. Cells
/// hold a reference to it, so it outlives every endpoint.
///
/// Thread safety: all members may be used from any thread.
class system_core : public ref_counted {
 public:
  system_core(clock& c, executor& e, random_source& r);
  ~system_core() override;

  [[nodiscard]] clock& time() const noexcept { return clock_; }
  [[nodiscard]] executor& exec() const noexcept { return executor_; }
  [[nodiscard]] random_source& random() const noexcept { return random_; }

  /// Returns a fresh actor id.
  std::uint64_t next_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  /// Counts a tell that could not be delivered.
  void count_dead_letter() noexcept { dead_letters_.fetch_add(1, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t dead_letters() const noexcept { return dead_letters_.load(); }

  /// Adds `c` to the live set; false once shutdown has begun.
  bool attach(cell* c) noexcept;
  /// Removes `c` from the live set (called once, when it terminates).
  void detach(cell* c) noexcept;
  /// Returns the number of live actors.
  [[nodiscard]] std::size_t live() const noexcept;
  /// Marks the system as shutting down and sends every live actor a stop
  /// with reason shutdown.
  void begin_shutdown();
  /// Waits until no actor is live or `deadline` passes; true when none is.
  bool wait_all_stopped(time_point deadline);
  [[nodiscard]] bool shutting_down() const noexcept { return shutting_down_.load(); }
  /// Ends every live actor at once (kill); used when a shutdown deadline nears.
  void kill_all();

  /// Counts a dedicated thread in and out; wait_threads() waits for all to end.
  void thread_started() noexcept;
  void thread_ended() noexcept;
  bool wait_threads(time_point deadline);

  /// Returns the system's named registry.
  [[nodiscard]] troupe::registry& registry() const noexcept { return *registry_; }
  /// Returns the system's receptionist.
  [[nodiscard]] troupe::receptionist& receptionist() const noexcept { return *receptionist_; }
  /// Returns the system's process groups.
  [[nodiscard]] process_groups& groups() const noexcept { return *groups_; }
  /// Empties the registry, the receptionist and the groups (at the end of a
  /// shutdown: drops what would otherwise keep the system alive).
  void clear_discovery() noexcept;

  /// Keeps the seams a system made for itself alive as long as any cell.
  std::shared_ptr<void> owned_seams;

  duration default_ask_timeout = std::chrono::seconds(5);
  std::size_t batch = 64;

 private:
  clock& clock_;
  executor& executor_;
  random_source& random_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::uint64_t> dead_letters_{0};
  std::atomic<bool> shutting_down_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  cell* live_head_ = nullptr;   // guarded by mu_
  std::size_t live_count_ = 0;  // guarded by mu_
  std::size_t threads_ = 0;     // guarded by mu_
  std::vector<ref_ptr<cell>> collect_live();
  std::unique_ptr<troupe::registry> registry_;
  std::unique_ptr<troupe::receptionist> receptionist_;
  std::unique_ptr<process_groups> groups_;
};

}  // namespace troupe
