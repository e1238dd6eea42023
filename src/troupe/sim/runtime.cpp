#include "troupe/sim/runtime.hpp"

namespace troupe::sim {

namespace {
// Bounds a drive so that a test with a bug (say, a timer that re-arms forever
// while the awaited reply never comes) ends instead of spinning.
constexpr std::size_t max_drive_steps = 50'000'000;
}  // namespace

sim_executor::~sim_executor() {
  // Items still queued hold a scheduling reference each; running them lets
  // them release it.
  run_until_idle();
}

void sim_executor::post(schedulable* s, post_hint) noexcept {
  s->next_runnable = nullptr;
  if (tail_)
    tail_->next_runnable = s;
  else
    head_ = s;
  tail_ = s;
  ++size_;
}

bool sim_executor::step() {
  schedulable* s = head_;
  if (s == nullptr) return false;
  head_ = s->next_runnable;
  if (head_ == nullptr) tail_ = nullptr;
  s->next_runnable = nullptr;
  --size_;
  bool was = running_;
  running_ = true;
  s->run();
  running_ = was;
  return true;
}

std::size_t sim_executor::run_until_idle() {
  std::size_t n = 0;
  while (step()) ++n;
  return n;
}

bool sim_executor::drive_until(bool (*done)(void*), void* ctx) {
  for (std::size_t i = 0; i < max_drive_steps; ++i) {
    if (done(ctx)) return true;
    if (step()) continue;
    if (!clock_.fire_next(time_point::max())) return true;  // nothing can happen any more
  }
  return true;
}

void runtime::advance(duration d) {
  const time_point target = clock_.now() + d;
  executor_.run_until_idle();
  while (clock_.fire_next(target)) executor_.run_until_idle();
  clock_.set(target);
  executor_.run_until_idle();
}

}  // namespace troupe::sim
