#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "troupe/core/clock.hpp"

namespace troupe {

/// The real time seam: std::chrono::steady_clock plus one timer thread that
/// sleeps until the earliest armed timer and fires it.
///
/// Thread safety: all members may be called from any thread. Timer actions run
/// on the timer thread and must be short (they enqueue a message or complete
/// a reply).
class real_clock final : public clock {
 public:
  real_clock();
  ~real_clock() override;

  [[nodiscard]] time_point now() const noexcept override;
  void arm(timer_node& t) override;
  bool cancel(timer_node& t) noexcept override;
  /// Ends the timer thread; armed timers no longer fire. Idempotent.
  void stop() noexcept;

 private:
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  timer_queue queue_;
  time_point sleeping_until_ = time_point::max();
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace troupe
