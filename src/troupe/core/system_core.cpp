#include "troupe/core/system_core.hpp"

#include "troupe/core/cell.hpp"
#include "troupe/core/process_groups.hpp"
#include "troupe/core/receptionist.hpp"
#include "troupe/core/registry.hpp"

namespace troupe {

system_core::system_core(clock& c, executor& e, random_source& r)
    : clock_(c),
      executor_(e),
      random_(r),
      registry_(std::make_unique<troupe::registry>(*this)),
      receptionist_(std::make_unique<troupe::receptionist>(*this)),
      groups_(std::make_unique<process_groups>(*this)) {}

system_core::~system_core() = default;

void system_core::clear_discovery() noexcept {
  groups_->clear();
  receptionist_->clear();
  registry_->clear();
}

bool system_core::attach(cell* c) noexcept {
  std::lock_guard lock(mu_);
  if (shutting_down_.load()) return false;
  c->live_prev = nullptr;
  c->live_next = live_head_;
  if (live_head_) live_head_->live_prev = c;
  live_head_ = c;
  ++live_count_;
  c->add_ref();  // a live actor is kept by its system, not by its endpoints
  return true;
}

void system_core::detach(cell* c) noexcept {
  bool none_left;
  {
    std::lock_guard lock(mu_);
    if (c->live_prev)
      c->live_prev->live_next = c->live_next;
    else if (live_head_ == c)
      live_head_ = c->live_next;
    else
      return;  // never attached
    if (c->live_next) c->live_next->live_prev = c->live_prev;
    c->live_prev = c->live_next = nullptr;
    none_left = --live_count_ == 0;
  }
  if (none_left) cv_.notify_all();
  c->release();
}

std::size_t system_core::live() const noexcept {
  std::lock_guard lock(mu_);
  return live_count_;
}

std::vector<ref_ptr<cell>> system_core::collect_live() {
  std::vector<ref_ptr<cell>> all;
  std::lock_guard lock(mu_);
  all.reserve(live_count_);
  for (cell* c = live_head_; c; c = c->live_next) all.emplace_back(c);
  return all;
}

void system_core::begin_shutdown() {
  shutting_down_.store(true);
  for (auto& c : collect_live()) {
    // A prepared actor that was never started has nothing to stop.
    if (!c->discard()) c->request_stop(exit_reason::shutdown());
  }
}

void system_core::kill_all() {
  for (auto& c : collect_live()) c->request_kill();
}

bool system_core::wait_all_stopped(time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return live_count_ == 0; });
}

void system_core::thread_started() noexcept {
  std::lock_guard lock(mu_);
  ++threads_;
}

void system_core::thread_ended() noexcept {
  {
    std::lock_guard lock(mu_);
    --threads_;
  }
  cv_.notify_all();
}

bool system_core::wait_threads(time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return threads_ == 0; });
}

}  // namespace troupe
