#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "member_process.hpp"

// Cluster members as real processes on loopback (`troupe node`): they find
// each other through one seed, and the others see a kill -9, a SIGSTOP and a
// goodbye for what they are. Every process is ended by its pid.

namespace system_test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

struct cluster_processes {
  explicit cluster_processes(std::size_t n) {
    members.push_back(std::make_unique<member_process>("m0", "127.0.0.1:0", ""));
    const std::string started = members[0]->wait_for("started", "m0", 10s);
    seed = json_field(started, "address");
    EXPECT_FALSE(seed.empty()) << "m0 did not start";
    for (std::size_t i = 1; i < n; ++i)
      members.push_back(
          std::make_unique<member_process>("m" + std::to_string(i), "127.0.0.1:0", seed));
  }
  ~cluster_processes() {
    for (auto& m : members) m->kill_now();
    if (::testing::Test::HasFailure())
      for (std::size_t i = 0; i < members.size(); ++i)
        std::printf("--- m%zu printed:\n%s", i, members[i]->transcript().c_str());
  }
  /// Waits until every member in `who` has seen every other join.
  bool joined(const std::vector<std::size_t>& who) {
    for (std::size_t i : who)
      for (std::size_t j : who)
        if (i != j && members[i]->wait_for("joined", name(j), 15s).empty()) return false;
    return true;
  }
  static std::string name(std::size_t i) { return "m" + std::to_string(i); }

  std::string seed;
  std::vector<std::unique_ptr<member_process>> members;
};

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

TEST(cluster_process, members_join_through_one_seed_and_a_killed_one_is_dead_everywhere) {
  cluster_processes c(5);
  ASSERT_FALSE(c.seed.empty());
  ASSERT_TRUE(c.joined({0, 1, 2, 3, 4}));
  for (std::size_t i = 1; i < 5; ++i)
    EXPECT_FALSE(c.members[i]->wait_for("session_up", "", 10s).empty()) << "no session at m" << i;
  const auto killed = clock_type::now();
  c.members[4]->kill_now();
  double slowest = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    ASSERT_FALSE(c.members[i]->wait_for("dead", "m4", 10s).empty()) << "m" << i << " missed it";
    slowest = std::max(slowest, seconds_since(killed));
  }
  std::printf("kill -9 to dead at all 4 members: %.2f s\n", slowest);
  EXPECT_LT(slowest, 5.0);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      if (i != j) {
        EXPECT_EQ(c.members[i]->count("dead", cluster_processes::name(j)), 0u);
      }
}

TEST(cluster_process, a_stopped_member_is_dead_and_comes_back_after_sigcont) {
  cluster_processes c(4);
  ASSERT_FALSE(c.seed.empty());
  ASSERT_TRUE(c.joined({0, 1, 2, 3}));
  const auto stopped = clock_type::now();
  c.members[2]->signal(SIGSTOP);
  for (std::size_t i : {0, 1, 3})
    ASSERT_FALSE(c.members[i]->wait_for("dead", "m2", 15s).empty()) << "m" << i << " missed it";
  std::printf("SIGSTOP to dead at all 3 members: %.2f s\n", seconds_since(stopped));
  c.members[2]->signal(SIGCONT);
  for (std::size_t i : {0, 1, 3})
    EXPECT_FALSE(c.members[i]->wait_for("alive", "m2", 15s).empty())
        << "m" << i << " never saw m2 come back";
}

TEST(cluster_process, a_member_that_leaves_is_left_and_exits) {
  cluster_processes c(3);
  ASSERT_FALSE(c.seed.empty());
  ASSERT_TRUE(c.joined({0, 1, 2}));
  c.members[1]->say("leave");
  for (std::size_t i : {0, 2})
    EXPECT_FALSE(c.members[i]->wait_for("left", "m1", 10s).empty()) << "m" << i;
  EXPECT_EQ(c.members[1]->wait_exit(10s), 0);
  for (std::size_t i : {0, 2}) EXPECT_EQ(c.members[i]->count("dead", "m1"), 0u);
}

}  // namespace
}  // namespace system_test
