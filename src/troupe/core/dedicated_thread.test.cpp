#include "troupe/core/dedicated_thread.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/testing/watchdog.hpp"

// Actors on a thread of their own may block without stalling the pool.

namespace {

using namespace std::chrono_literals;
using troupe::task;

struct block_on {
  static constexpr std::string_view type_name = "test.dedicated.block_on";
  std::latch* entered;
  std::latch* release;
};
struct where {
  using reply = std::thread::id;
  static constexpr std::string_view type_name = "test.dedicated.where";
};
struct where_after_ask {
  using reply = std::pair<std::thread::id, std::thread::id>;
  static constexpr std::string_view type_name = "test.dedicated.where_after_ask";
};

/// Replies the thread it runs on.
class locator : public troupe::actor<locator> {
 public:
  using handles = troupe::handles<where>;
  std::thread::id handle(where) { return std::this_thread::get_id(); }
};

/// Blocks its thread on request; asks a pool actor from a coroutine.
class blocker : public troupe::actor<blocker> {
 public:
  using handles = troupe::handles<block_on, where, where_after_ask>;
  explicit blocker(troupe::endpoint<locator> pool_actor) : pool_actor_(pool_actor) {}

  void handle(block_on m) {
    m.entered->count_down();
    m.release->wait();
  }
  std::thread::id handle(where) { return std::this_thread::get_id(); }
  task<std::pair<std::thread::id, std::thread::id>> handle(where_after_ask) {
    const std::thread::id before = std::this_thread::get_id();
    where req;
    troupe::result<std::thread::id> other = co_await pool_actor_.ask(req, 30s);
    EXPECT_TRUE(other.has_value());
    EXPECT_NE(other.value_or({}), before) << "the pool actor ran elsewhere";
    co_return std::pair{before, std::this_thread::get_id()};
  }

 private:
  troupe::endpoint<locator> pool_actor_;
};

TEST(dedicated_thread, a_blocked_actor_does_not_stall_the_pool) {
  troupe::testing::watchdog guard("dedicated_thread.a_blocked_actor_does_not_stall_the_pool");
  troupe::system sys(troupe::system_config{.workers = 1});  // one worker: easy to stall
  auto pool_actor = sys.spawn<locator>().value();
  auto b =
      sys.spawn_with<blocker>(troupe::spawn_options{.dedicated_thread = true}, pool_actor).value();
  const std::thread::id blocker_thread = b.ask(where{}, 30s).get().value();

  std::latch entered(1), release(1);
  b.tell(block_on{&entered, &release});
  entered.wait();
  // The blocker holds its own thread; the pool's only worker still serves.
  for (int i = 0; i < 100; ++i) {
    troupe::result<std::thread::id> r = pool_actor.ask(where{}, 30s).get();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_NE(*r, blocker_thread);
  }
  release.count_down();
  EXPECT_EQ(b.ask(where{}, 30s).get().value(), blocker_thread) << "always the same thread";

  // A coroutine on the dedicated thread resumes there after awaiting.
  auto [before, after] = b.ask(where_after_ask{}, 30s).get().value();
  EXPECT_EQ(before, blocker_thread);
  EXPECT_EQ(after, blocker_thread);

  b.stop();
  EXPECT_TRUE(sys.core().wait_threads(sys.time().now() + 30s))
      << "the dedicated thread ends with its actor";
  EXPECT_TRUE(sys.shutdown(5s).clean());
}

TEST(dedicated_thread, many_dedicated_actors_each_get_a_thread_and_end) {
  troupe::testing::watchdog guard("dedicated_thread.many_dedicated_actors");
  troupe::system sys(troupe::system_config{.workers = 1});
  auto pool_actor = sys.spawn<locator>().value();
  constexpr int n = 16;
  std::latch entered(n), release(1);
  std::vector<troupe::endpoint<blocker>> all;
  for (int i = 0; i < n; ++i) {
    all.push_back(
        sys.spawn_with<blocker>(troupe::spawn_options{.dedicated_thread = true}, pool_actor)
            .value());
    all.back().tell(block_on{&entered, &release});
  }
  entered.wait();  // all 16 block at the same time: 16 threads
  release.count_down();
  troupe::shutdown_report rep = sys.shutdown(10s);
  EXPECT_TRUE(rep.clean()) << rep.stuck_actors << " actors, " << rep.stuck_threads << " threads";
  EXPECT_EQ(sys.live_actors(), 0u);
}

}  // namespace
