#include "troupe/core/real_clock.hpp"

namespace troupe {

real_clock::real_clock() : thread_([this] { loop(); }) {}

real_clock::~real_clock() { stop(); }

void real_clock::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (!thread_.joinable()) return;
  // The last reference to a system may be dropped by a timer's own action.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

time_point real_clock::now() const noexcept {
  return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
}

void real_clock::arm(timer_node& t) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    queue_.push(&t);
    wake = t.due < sleeping_until_;
  }
  // Only a timer earlier than the one the thread sleeps for needs a wake-up;
  // most ask deadlines lie later and cost no system call.
  if (wake) cv_.notify_one();
}

bool real_clock::cancel(timer_node& t) noexcept {
  std::lock_guard lock(mu_);
  return queue_.erase(&t);
}

void real_clock::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    timer_node* t = queue_.top();
    if (t == nullptr) {
      sleeping_until_ = time_point::max();
      cv_.wait(lock);
      continue;
    }
    time_point n = now();
    if (t->due <= n) {
      queue_.pop();
      lock.unlock();
      t->fire();
      lock.lock();
      continue;
    }
    // Copy the due time: once the lock is released the timer may be
    // cancelled and freed while this thread sleeps.
    const time_point due = t->due;
    sleeping_until_ = due;
    cv_.wait_until(lock, due);
  }
  sleeping_until_ = time_point::min();
}

}  // namespace troupe
