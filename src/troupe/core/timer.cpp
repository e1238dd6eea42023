#include "troupe/core/timer.hpp"

#include <thread>

namespace troupe {

void timer_base::lock() noexcept {
  while (lock_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
}

void timer_base::start(time_point first_due) {
  lock();
  due = first_due;
  add_ref();  // held by the clock while armed
  clock_.arm(*this);
  unlock();
}

void timer_base::cancel() noexcept {
  lock();
  if (!finished_.exchange(true, std::memory_order_acq_rel)) {
    if (clock_.cancel(*this)) release();
  }
  unlock();
}

void timer_base::fire() noexcept {
  lock();
  if (finished_.load(std::memory_order_acquire)) {
    // Cancelled while the clock was handing the timer over.
    unlock();
    release();
    return;
  }
  on_fire();
  if (period_.count() > 0) {
    due += period_;
    clock_.arm(*this);  // keeps the clock's reference
    unlock();
    return;
  }
  finished_.store(true, std::memory_order_release);
  unlock();
  release();
}

}  // namespace troupe
