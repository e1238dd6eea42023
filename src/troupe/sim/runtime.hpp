#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "troupe/core/executor.hpp"
#include "troupe/core/random.hpp"
#include "troupe/core/system.hpp"
#include "troupe/sim/manual_clock.hpp"

namespace troupe::sim {

/// A random source that replays: the same seed gives the same numbers.
class seeded_random final : public random_source {
 public:
  explicit seeded_random(std::uint64_t seed) : gen_(seed) {}
  std::uint64_t next() noexcept override { return gen_(); }

 private:
  xoshiro256 gen_;
};

/// Runs every posted item on the thread that drives it, in posting order.
/// Nothing runs until run(), step() or a waiting response drives it.
///
/// Thread safety: one thread only.
class sim_executor final : public executor {
 public:
  explicit sim_executor(manual_clock& clock) : clock_(clock) {}
  ~sim_executor() override;

  void post(schedulable* s, post_hint hint) noexcept override;
  [[nodiscard]] bool in_executor() const noexcept override { return running_; }
  /// Runs queued items, then lets virtual time pass timer by timer, until
  /// `done(ctx)` holds or nothing can happen any more.
  bool drive_until(bool (*done)(void*), void* ctx) override;

  /// Runs one queued item; false when none is queued.
  bool step();
  /// Runs queued items until none is left (time does not move). Returns how
  /// many ran.
  std::size_t run_until_idle();
  [[nodiscard]] std::size_t queued() const noexcept { return size_; }

 private:
  manual_clock& clock_;
  schedulable* head_ = nullptr;
  schedulable* tail_ = nullptr;
  std::size_t size_ = 0;
  bool running_ = false;
};

/// Everything a deterministic test needs: a manual clock, a single-threaded
/// executor and a seeded random source, plus the config that plugs them into
/// a troupe::system.
///
/// ```
/// troupe::sim::runtime rt(42);
/// troupe::system sys(rt.config());
/// auto ep = sys.spawn<counter>().value();
/// ep.tell(add{1});
/// rt.run();                     // handle everything that is ready
/// rt.advance(std::chrono::seconds(1));  // fire timers due within 1 s
/// ```
class runtime {
 public:
  explicit runtime(std::uint64_t seed = 1) : random_(seed), executor_(clock_) {}

  /// Returns a system config that uses this runtime's seams.
  [[nodiscard]] system_config config() noexcept {
    system_config c;
    c.clock = &clock_;
    c.executor = &executor_;
    c.random = &random_;
    return c;
  }
  /// Runs all ready work; returns the number of items run.
  std::size_t run() { return executor_.run_until_idle(); }
  /// Moves time forward by `d`, firing each due timer in order and running
  /// the work it causes before the next one fires.
  void advance(duration d);
  /// Moves time forward in steps of `step` until `done()` holds (checked
  /// first, and after each step) or `limit` has passed; returns whether
  /// `done()` held. The bounded wait of simulated tests.
  template <class Pred>
  bool advance_until(Pred done, duration limit, duration step = std::chrono::milliseconds(10)) {
    const time_point end = now() + limit;
    while (!done()) {
      if (now() >= end) return false;
      advance(step);
    }
    return true;
  }
  /// Returns the virtual time.
  [[nodiscard]] time_point now() const noexcept { return clock_.now(); }

  [[nodiscard]] manual_clock& clock() noexcept { return clock_; }
  [[nodiscard]] sim_executor& executor() noexcept { return executor_; }
  [[nodiscard]] seeded_random& random() noexcept { return random_; }

 private:
  manual_clock clock_;
  seeded_random random_;
  sim_executor executor_;
};

}  // namespace troupe::sim
