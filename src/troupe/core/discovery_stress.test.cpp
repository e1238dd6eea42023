// Registry, receptionist and process groups under real threads: several
// threads register, check in, join, look up, leave and kill actors at once,
// while a listing, a subscribing actor and a group callback follow along.
// At the end every entry must have gone with its actor, and every follower
// must have seen each entry added exactly once and removed exactly once.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "troupe/core/random.hpp"
#include "troupe/core/testing/sanitizers.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/troupe.hpp"

namespace discovery_stress_test {

using namespace std::chrono_literals;

struct ping {
  using reply = int;
  static constexpr std::string_view type_name = "test.ping";
};

class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<ping>;
  int handle(ping) { return 1; }
};

/// One follower's view: (label, version) -> "+" / "-" in the order seen.
using trace = std::map<std::tuple<std::string, std::uint64_t>, std::string>;

/// Returns "" when every entry was added once, then removed once; else the
/// first entry that was not.
std::string check(const trace& t) {
  for (const auto& [entry, seen] : t) {
    if (seen != "+-")
      return std::get<0>(entry) + "@" + std::to_string(std::get<1>(entry)) + ": " + seen;
  }
  return {};
}

struct report {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.report";
};

/// Follows the "workers" key as an actor.
class follower : public troupe::actor<follower> {
 public:
  using handles = troupe::handles<troupe::listing_event<worker>, report>;
  void handle(const troupe::listing_event<worker>& e) {
    seen_[{e.label, e.stamp.version}] += e.what == troupe::listing_change::added ? "+" : "-";
  }
  std::string handle(report) {
    std::string bad = check(seen_);
    return bad.empty() ? "ok " + std::to_string(seen_.size()) : bad;
  }

 private:
  trace seen_;
};

TEST(discovery_stress, concurrent_registrations_end_with_their_actors_and_exactly_once_events) {
  troupe::testing::watchdog dog("discovery_stress", std::chrono::seconds(120));
  troupe::system sys(troupe::system_config{.workers = 2});
  const troupe::reception_key<worker> key{"workers"};

  auto stream = sys.receptionist().subscribe(key).value();
  auto fol = sys.spawn<follower>().value();
  ASSERT_TRUE(sys.receptionist().subscribe(key, fol));
  std::mutex group_mu;
  std::map<std::tuple<std::string, std::uint64_t>, std::string> group_trace;
  auto group_sub = sys.groups().monitor_scope("stress", [&](const troupe::group_event& e) {
    std::lock_guard lock(group_mu);
    group_trace[{e.group + "#" + std::to_string(e.member.id), e.member.stamp.version}] +=
        e.what == troupe::group_change::joined ? "+" : "-";
  });
  ASSERT_TRUE(group_sub);

  constexpr int slots = 32;
  std::mutex slots_mu;
  std::vector<troupe::endpoint<worker>> actors;
  for (int i = 0; i < slots; ++i) actors.push_back(sys.spawn<worker>().value());

  const long ops = troupe::testing::scaled(100000, 10000);
  constexpr int threads = 4;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      troupe::xoshiro256 rng(static_cast<std::uint64_t>(t) + 1);
      auto& reg = sys.registry();
      auto& rec = sys.receptionist();
      auto& groups = sys.groups();
      for (long n = 0; n < ops / threads; ++n) {
        const auto i = static_cast<int>(rng() % slots);
        const std::string name = "n/" + std::to_string(i);
        const std::string label = "w/" + std::to_string(i);
        const std::string group = "g" + std::to_string(i % 3);
        troupe::endpoint<worker> ep;
        {
          std::lock_guard lock(slots_mu);
          ep = actors[static_cast<std::size_t>(i)];
        }
        switch (rng() % 9) {
          case 0:
            (void)reg.add(name, ep);
            break;
          case 1:
            reg.remove(name);
            break;
          case 2:
            (void)rec.check_in(label, ep, key);
            break;
          case 3:
            rec.check_out(label);
            break;
          case 4:
            (void)groups.join("stress", group, ep);
            break;
          case 5:
            groups.leave("stress", group, ep);
            break;
          case 6:
            (void)reg.lookup<worker>(name);
            (void)rec.lookup<worker>(label);
            (void)rec.members(key);
            (void)groups.members<worker>("stress", group);
            break;
          default: {
            if (rng() % 4 != 0) break;
            std::lock_guard lock(slots_mu);  // one replacement per slot at a time
            actors[static_cast<std::size_t>(i)].kill();
            actors[static_cast<std::size_t>(i)] = sys.spawn<worker>().value();
            break;
          }
        }
      }
    });
  }
  for (auto& th : pool) th.join();

  for (auto& ep : actors) ep.kill();
  while (sys.live_actors() != 1) std::this_thread::yield();  // only the follower is left

  EXPECT_EQ(sys.registry().size(), 0u);
  EXPECT_EQ(sys.receptionist().size(), 0u);
  EXPECT_TRUE(sys.groups().scopes().empty());

  trace stream_trace;
  while (auto e = stream.try_next())
    stream_trace[{e->label, e->stamp.version}] +=
        e->what == troupe::listing_change::added ? "+" : "-";
  EXPECT_EQ(check(stream_trace), "");
  EXPECT_FALSE(stream_trace.empty());

  auto fol_report = fol.ask(report{}).get();
  ASSERT_TRUE(fol_report);
  EXPECT_EQ(*fol_report, "ok " + std::to_string(stream_trace.size()));

  {
    std::lock_guard lock(group_mu);
    EXPECT_EQ(check(group_trace), "");
    EXPECT_FALSE(group_trace.empty());
  }
  group_sub->cancel();
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

}  // namespace discovery_stress_test
