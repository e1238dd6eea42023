#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "troupe/core/supervisor.hpp"
#include "troupe/core/testing/sanitizers.hpp"
#include "troupe/core/testing/watchdog.hpp"

namespace supervision_stress_test {

using namespace std::chrono_literals;

struct work {
  using reply = int;
  static constexpr std::string_view type_name = "test.work";
  int n;
};

/// Fails on every multiple of 7.
class flaky : public troupe::actor<flaky> {
 public:
  using handles = troupe::handles<work>;
  explicit flaky(std::atomic<int>* births) { births->fetch_add(1); }
  int handle(work w) {
    if (w.n % 7 == 0) throw std::runtime_error("seven");
    return w.n * 2;
  }
};

// Real threads ask supervised children while they crash and restart: every
// ask ends, exactly the poisoned ones with handler_failed; asks queued while
// a child waits for its restart reach the new instance; children come back.
TEST(supervision_stress, asks_racing_with_crashes_and_restarts_all_end) {
  troupe::testing::watchdog guard("supervision_stress", std::chrono::seconds(120));
  const int per_thread = static_cast<int>(troupe::testing::scaled(2000, 300));
  std::atomic<int> births{0};
  troupe::system sys(troupe::system_config{.workers = 2});
  troupe::supervisor_spec spec;
  spec.strategy = troupe::supervision_strategy::one_for_one;
  spec.intensity = {1'000'000, 60s};
  spec.backoff.initial = 0ms;  // restart at once, every time
  spec.backoff.multiplier = 1.0;
  for (int i = 0; i < 4; ++i) {
    spec.children.push_back(troupe::child_spec::of<flaky>(
        "c" + std::to_string(i), troupe::restart_policy::permanent, &births));
  }
  auto sup = sys.spawn<troupe::supervisor>(std::move(spec)).value();
  auto kids = sup.ask(troupe::which_children{}).get().value();
  std::vector<troupe::endpoint<flaky>> eps;
  for (auto& k : kids) eps.push_back(troupe::child_endpoint<flaky>(k));

  std::atomic<int> ok{0}, failed{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 1; i <= per_thread; ++i) {
        auto r = eps[(t + i) % eps.size()].ask(work{i}, 10s).get();
        if (i % 7 != 0 && r && *r == i * 2) {
          ok.fetch_add(1);
        } else if (i % 7 == 0 && !r && r.error().code() == troupe::errc::handler_failed) {
          failed.fetch_add(1);
        } else {
          wrong.fetch_add(1);  // a lost message (timeout), or a wrong outcome
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(ok.load() + failed.load(), 4 * per_thread);
  EXPECT_EQ(failed.load(), 4 * (per_thread / 7));  // exactly the multiples of 7
  EXPECT_GT(births.load(), 4);                     // children were rebuilt
  // Still alive and answering after all that.
  for (auto& ep : eps) EXPECT_EQ(ep.ask(work{1}, 10s).get().value(), 2);
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

}  // namespace supervision_stress_test
