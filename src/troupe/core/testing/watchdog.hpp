#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace troupe::testing {

/// Aborts the process with a message when a real-thread test runs longer than
/// its limit: a hung test fails loudly instead of stalling the suite.
///
/// Create one at the top of a test; its destructor disarms it. The watchdog
/// measures wall time on purpose (it guards the test, not the code under test).
/// Thread safety: construct and destroy on the same thread.
class watchdog {
 public:
  /// Starts a thread that aborts the process unless this object is destroyed
  /// within `limit`; `what` names the test in the message.
  explicit watchdog(std::string what, std::chrono::seconds limit = std::chrono::seconds(60))
      : what_(std::move(what)), limit_(limit), thread_([this] { watch(); }) {}
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  ~watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void watch() {
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, limit_, [this] { return done_; })) return;
    std::fprintf(stderr, "watchdog: '%s' still running after %lld s; aborting\n", what_.c_str(),
                 static_cast<long long>(limit_.count()));
    std::fflush(stderr);
    std::abort();
  }

  std::string what_;
  std::chrono::seconds limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members it reads
};

}  // namespace troupe::testing
