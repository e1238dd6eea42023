#include "troupe/core/system.hpp"

#include "troupe/core/real_clock.hpp"
#include "troupe/core/thread_pool.hpp"

namespace troupe {

struct system::owned {
  std::unique_ptr<real_clock> clock;
  std::unique_ptr<system_random> random;
  std::unique_ptr<thread_pool> pool;
};

namespace {

bool none_live(void* core) noexcept { return static_cast<system_core*>(core)->live() == 0; }

}  // namespace

system::system(system_config cfg)
    : owned_(std::make_shared<owned>()), shutdown_timeout_(cfg.shutdown_timeout) {
  if (cfg.clock == nullptr) cfg.clock = (owned_->clock = std::make_unique<real_clock>()).get();
  if (cfg.random == nullptr)
    cfg.random = (owned_->random = std::make_unique<system_random>()).get();
  if (cfg.executor == nullptr) {
    owned_->pool = std::make_unique<thread_pool>(thread_pool_options{cfg.workers});
    cfg.executor = owned_->pool.get();
  }
  core_ = make_ref<system_core>(*cfg.clock, *cfg.executor, *cfg.random);
  core_->default_ask_timeout = cfg.default_ask_timeout;
  core_->batch = cfg.batch == 0 ? 1 : cfg.batch;
  core_->owned_seams = owned_;
}

system::~system() { shutdown(shutdown_timeout_); }

shutdown_report system::shutdown(duration timeout) {
  if (shut_down_) return report_;
  shut_down_ = true;
  clock& clk = core_->time();
  const time_point start = clk.now();
  core_->begin_shutdown();
  bool all_stopped;
  if (core_->exec().drive_until(&none_live, core_.get())) {
    all_stopped = core_->live() == 0;
    if (!all_stopped) {
      core_->kill_all();
      core_->exec().drive_until(&none_live, core_.get());
      all_stopped = core_->live() == 0;
    }
  } else {
    all_stopped = core_->wait_all_stopped(start + timeout / 2);
    if (!all_stopped) {
      core_->kill_all();
      all_stopped = core_->wait_all_stopped(start + timeout);
    }
  }
  report_.stuck_actors = all_stopped ? 0 : core_->live();
  // Threads get what is left of the deadline (at least a few milliseconds to
  // notice that they are done).
  constexpr auto grace = std::chrono::milliseconds(5);
  if (!core_->wait_threads(std::max(start + timeout, clk.now() + grace))) {
    report_.stuck_threads += 1;
  }
  if (owned_->pool) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start + timeout - clk.now());
    report_.stuck_threads += owned_->pool->stop(std::max<std::chrono::milliseconds>(left, grace));
  }
  if (owned_->clock) owned_->clock->stop();
  core_->clear_discovery();
  return report_;
}

}  // namespace troupe
