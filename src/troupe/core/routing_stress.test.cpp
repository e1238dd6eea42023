#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <latch>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "troupe/core/output_port.hpp"
#include "troupe/core/router.hpp"
#include "troupe/core/testing/sanitizers.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/core/worker_pool.hpp"

// Real-thread stress for routers, pools and ports: concurrent callers,
// members and workers dying meanwhile. Every ask must end; counters must add
// up; nothing published may be lost silently. Every test has a watchdog;
// none sleeps to order events.

namespace routing_stress {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::testing::scaled;

struct ping {
  using reply = int;
  static constexpr std::string_view type_name = "test.routing_stress.ping";
  int n = 0;
  bool crash = false;
};

/// Replies n + 1, or fails when asked to (which ends it).
class echo : public troupe::actor<echo> {
 public:
  using handles = troupe::handles<ping>;
  int handle(ping p) {
    if (p.crash) throw std::runtime_error("boom");
    return p.n + 1;
  }
};

/// Calls the router one of three ways; returns a value or the error.
troupe::result<int> call(int how, const troupe::router<echo>& r, int n) {
  ping p{n, how == 0 && n % 97 == 0};  // single asks kill a member now and then
  switch (how) {
    case 0:
      return r.ask(p, 5s).get();
    case 1: {
      auto q = r.quorum(2, p, 5s).get();
      if (!q) return q.error();
      return q->front().value;
    }
    default: {
      auto g = r.scatter_gather(p, 5s).get();
      if (!g) return g.error();
      if (g->replies.empty()) return errc::no_route;
      return g->replies.front().value;
    }
  }
}

TEST(routing_stress, routers_under_concurrent_callers_and_dying_members) {
  troupe::testing::watchdog guard("routing_stress.routers", 120s);
  const int per_thread = static_cast<int>(scaled(4000, 400));
  constexpr int threads = 4;
  troupe::system sys(troupe::system_config{.workers = 4});
  troupe::router<echo> r(sys, troupe::routing::round_robin);
  for (int i = 0; i < 6; ++i) r.add_member(sys.spawn<echo>().value());

  std::atomic<long> ok{0}, failed{0}, unexpected{0};
  std::atomic<bool> done{false};
  std::latch go(threads + 2);
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      go.arrive_and_wait();
      for (int i = 1; i <= per_thread; ++i) {
        const int n = t * per_thread + i;
        troupe::result<int> res = call(n % 3, r, n);
        (res ? ok : failed).fetch_add(1);
        if (!res) {
          const troupe::errc e = res.error().code();
          if (e != errc::handler_failed && e != errc::actor_not_found && e != errc::no_route &&
              e != errc::quorum_failed) {
            unexpected.fetch_add(1);
          }
          // A failure takes no time and a reply does: without this pause, a
          // caller would pile up failures while the keeper (one thread
          // among many on a busy machine) has not yet replaced the dead.
          const auto until = std::chrono::steady_clock::now() + 1s;
          while (r.size() < 6 && std::chrono::steady_clock::now() < until) {
            std::this_thread::yield();
          }
        }
      }
    });
  }
  // Replaces members as they die, until the callers are done.
  std::thread keeper([&] {
    go.arrive_and_wait();
    while (!done.load()) {
      while (r.size() < 6) r.add_member(sys.spawn<echo>().value());
      std::this_thread::yield();
    }
  });
  go.arrive_and_wait();
  for (auto& c : callers) c.join();
  done = true;
  keeper.join();
  EXPECT_EQ(ok + failed, static_cast<long>(threads) * per_thread) << "every ask ended";
  EXPECT_EQ(unexpected.load(), 0) << "failures other than a crash or a dead member";
  EXPECT_GT(ok.load(), failed.load() * 10);
  std::printf("router stress: %ld ok, %ld failed\n", ok.load(), failed.load());
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

struct job {
  using reply = int;
  static constexpr std::string_view type_name = "test.routing_stress.job";
  int n = 0;
};

/// Runs jobs; fails on multiples of 50 (so the pool replaces it).
class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<job>;
  int handle(job j) {
    if (j.n % 50 == 0) throw std::runtime_error("crash");
    return j.n;
  }
};

TEST(routing_stress, a_pool_under_concurrent_submitters_with_crashing_workers) {
  troupe::testing::watchdog guard("routing_stress.pool", 120s);
  const int per_thread = static_cast<int>(scaled(5000, 500));
  constexpr int threads = 4;
  troupe::system sys(troupe::system_config{.workers = 4});
  troupe::pool_options o;
  o.workers = 4;
  o.queue_capacity = 64;
  o.discard = troupe::pool_discard::drop_oldest;
  auto pool = troupe::worker_pool<worker>::spawn(sys, o).value();

  std::atomic<long> ok{0}, failed{0}, dropped{0};
  std::latch go(threads + 1);
  std::vector<std::thread> submitters;
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      go.arrive_and_wait();
      std::vector<troupe::response<int>> pending;
      for (int i = 1; i <= per_thread; ++i) {
        troupe::job_options jo;
        jo.priority = static_cast<troupe::job_priority>(i % 3);
        jo.timeout = 60s;
        pending.push_back(pool.ask(job{t * per_thread + i}, jo));
        if (pending.size() == 32) {
          for (auto& r : pending) {
            troupe::result<int> res = r.get();
            if (res) {
              ok.fetch_add(1);
            } else if (res.error() == errc::dropped) {
              dropped.fetch_add(1);
            } else {
              failed.fetch_add(1);
            }
          }
          pending.clear();
        }
      }
      for (auto& r : pending) {
        troupe::result<int> res = r.get();
        (res ? ok : res.error() == errc::dropped ? dropped : failed).fetch_add(1);
      }
    });
  }
  go.arrive_and_wait();
  for (auto& s : submitters) s.join();
  const long total = static_cast<long>(threads) * per_thread;
  EXPECT_EQ(ok + failed + dropped, total) << "every job's ask ended";
  troupe::pool_stats st = pool.stats().get().value();
  EXPECT_EQ(static_cast<long>(st.done), ok.load());
  EXPECT_EQ(static_cast<long>(st.failed), failed.load());
  EXPECT_EQ(static_cast<long>(st.dropped), dropped.load());
  EXPECT_GT(st.restarted, 0u);
  std::printf("pool stress: %ld done, %ld failed, %ld dropped, %llu workers replaced\n", ok.load(),
              failed.load(), dropped.load(), static_cast<unsigned long long>(st.restarted));
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.busy, 0u);
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

struct tick {
  static constexpr std::string_view type_name = "test.routing_stress.tick";
};
struct count_ticks {
  using reply = long;
  static constexpr std::string_view type_name = "test.routing_stress.count_ticks";
};

/// Counts ticks.
class counter : public troupe::actor<counter> {
 public:
  using handles = troupe::handles<tick, count_ticks>;
  void handle(tick) { ++n_; }
  long handle(count_ticks) const { return n_; }

 private:
  long n_ = 0;
};

TEST(routing_stress, a_back_pressured_port_loses_nothing_silently) {
  troupe::testing::watchdog guard("routing_stress.port", 120s);
  const int per_thread = static_cast<int>(scaled(20000, 2000));
  constexpr int threads = 4;
  constexpr int subscribers = 4;
  troupe::system sys(troupe::system_config{.workers = 2});
  troupe::output_port<tick> port(troupe::port_options{64, troupe::port_overflow::back_pressure});
  std::vector<troupe::endpoint<counter>> subs;
  for (int i = 0; i < subscribers; ++i) {
    subs.push_back(sys.spawn<counter>().value());
    ASSERT_TRUE(port.subscribe(subs.back()));
  }
  std::mutex mu;
  std::map<troupe::actor_id, long> skipped;  // guarded by mu
  std::latch go(threads + 1);
  std::vector<std::thread> publishers;
  for (int t = 0; t < threads; ++t) {
    publishers.emplace_back([&] {
      go.arrive_and_wait();
      std::map<troupe::actor_id, long> mine;
      for (int i = 0; i < per_thread; ++i) {
        troupe::publish_result r = port.publish(tick{});
        for (troupe::actor_id id : r.full) ++mine[id];
        if (!r.ok()) std::this_thread::yield();  // back off a little, as a publisher would
      }
      std::lock_guard lock(mu);
      for (auto [id, n] : mine) skipped[id] += n;
    });
  }
  go.arrive_and_wait();
  for (auto& p : publishers) p.join();
  const long total = static_cast<long>(threads) * per_thread;
  long all_skipped = 0;
  for (const auto& s : subs) {
    // Every publish happened before this ask: the count is final.
    const long got = s.ask(count_ticks{}, 60s).get().value();
    EXPECT_EQ(got + skipped[s.id()], total) << "subscriber " << s.id();
    all_skipped += skipped[s.id()];
  }
  EXPECT_EQ(port.subscribers(), static_cast<std::size_t>(subscribers));
  std::printf("port stress: %ld of %ld deliveries reported as full\n", all_skipped,
              total * subscribers);
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

}  // namespace routing_stress
