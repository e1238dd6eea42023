#include "troupe/sim/manual_clock.hpp"

namespace troupe::sim {

manual_clock::manual_clock(time_point start) : now_(start) {}

time_point manual_clock::now() const noexcept {
  std::lock_guard lock(mu_);
  return now_;
}

void manual_clock::arm(timer_node& t) {
  std::lock_guard lock(mu_);
  queue_.push(&t);
}

bool manual_clock::cancel(timer_node& t) noexcept {
  std::lock_guard lock(mu_);
  return queue_.erase(&t);
}

bool manual_clock::fire_next(time_point limit) {
  timer_node* t;
  {
    std::lock_guard lock(mu_);
    t = queue_.top();
    if (t == nullptr || t->due > limit) return false;
    queue_.pop();
    if (t->due > now_) now_ = t->due;
  }
  t->fire();
  return true;
}

void manual_clock::set(time_point t) noexcept {
  std::lock_guard lock(mu_);
  if (t > now_) now_ = t;
}

time_point manual_clock::next_due() const noexcept {
  std::lock_guard lock(mu_);
  const timer_node* t = queue_.top();
  return t ? t->due : time_point::max();
}

std::size_t manual_clock::armed() const noexcept {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace troupe::sim
