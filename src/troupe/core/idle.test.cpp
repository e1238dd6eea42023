#include <sys/resource.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/testing/watchdog.hpp"

// An idle system parks its threads: 1,000 idle actors cost (almost) no CPU.

namespace {

using namespace std::chrono_literals;

struct poke {
  using reply = int;
  static constexpr std::string_view type_name = "test.idle.poke";
};

class idler : public troupe::actor<idler> {
 public:
  using handles = troupe::handles<poke>;
  int handle(poke) { return 1; }
};

/// Returns the CPU time (user + system) this process has used so far.
std::chrono::microseconds process_cpu_time() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto tv = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return tv(u.ru_utime) + tv(u.ru_stime);
}

TEST(idle, a_thousand_idle_actors_use_less_than_one_percent_cpu) {
  troupe::testing::watchdog guard("idle.a_thousand_idle_actors_use_less_than_one_percent_cpu");
  troupe::system sys;  // the default: one worker per hardware thread
  std::vector<troupe::endpoint<idler>> actors;
  for (int i = 0; i < 1000; ++i) actors.push_back(sys.spawn<idler>().value());
  for (auto& a : actors) ASSERT_EQ(a.ask(poke{}).get().value(), 1);  // all started, all idle

  const auto before = process_cpu_time();
  // This test measures idleness itself, so it waits on purpose.
  std::this_thread::sleep_for(10s);
  const auto used = process_cpu_time() - before;

  RecordProperty("cpu_us_in_10s", static_cast<int>(used.count()));
  std::printf("idle: %lld us of CPU in 10 s\n", static_cast<long long>(used.count()));
  EXPECT_LT(used, 100ms) << "1% of 10 s";
  for (auto& a : actors) ASSERT_EQ(a.ask(poke{}).get().value(), 1) << "still responsive";
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

}  // namespace
