#include "troupe/core/worker_pool.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/sim/runtime.hpp"

// Worker pools on the deterministic runtime: dispatch, queue policies,
// priorities, rate limits in virtual time, worker replacement, resizing and
// stats.

namespace pool_test {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::job_options;
using troupe::job_priority;
using troupe::pool_options;

struct job {
  using reply = int;
  static constexpr std::string_view type_name = "test.pool.job";
  int n = 0;
  troupe::duration cost{};
  bool crash = false;
};

/// One job's start: which job, on which worker, when.
struct start {
  int n;
  troupe::actor_id worker;
  troupe::time_point at;
};

/// Runs jobs: takes `cost` of virtual time, then replies 10 n (or throws).
class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<job>;
  explicit worker(std::vector<start>* log) : log_(log) {}
  troupe::task<int> handle(job j) {
    log_->push_back({j.n, self().id(), now()});
    if (j.cost > troupe::duration::zero()) co_await sleep_for(j.cost);
    if (j.crash) throw std::runtime_error("job " + std::to_string(j.n) + " crashed");
    co_return j.n * 10;
  }

 private:
  std::vector<start>* log_;
};

using pool = troupe::worker_pool<worker>;

pool make_pool(troupe::system& sys, const pool_options& o, std::vector<start>* log) {
  return pool::spawn(sys, o, [log](troupe::system& s) { return s.spawn<worker>(log); }).value();
}

pool_options with_workers(std::size_t n) {
  pool_options o;
  o.workers = n;
  return o;
}

std::vector<int> order(const std::vector<start>& log) {
  std::vector<int> out;
  for (const start& s : log) out.push_back(s.n);
  return out;
}

TEST(worker_pool, jobs_go_to_idle_workers_and_wait_when_none_is) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool p = make_pool(sys, with_workers(3), &log);
  std::vector<troupe::response<int>> replies;
  for (int i = 1; i <= 4; ++i) replies.push_back(p.ask(job{i, 10ms}));
  rt.run();
  ASSERT_EQ(log.size(), 3u) << "three workers, three jobs running";
  std::set<troupe::actor_id> workers;
  for (const start& s : log) workers.insert(s.worker);
  EXPECT_EQ(workers.size(), 3u);
  troupe::pool_stats st = p.stats().get().value();
  EXPECT_EQ(st.workers, 3u);
  EXPECT_EQ(st.busy, 3u);
  EXPECT_EQ(st.queued, 1u);
  rt.advance(10ms);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[3].at - log[0].at, 10ms);
  EXPECT_EQ(log[3].worker, log[0].worker) << "the worker idle longest takes the next job";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(replies[i].get().value(), (i + 1) * 10);
  st = p.stats().get().value();
  EXPECT_EQ(st.done, 4u);
  EXPECT_EQ(st.busy, 0u);
  EXPECT_EQ(st.queued, 0u);
}

TEST(worker_pool, sticky_dispatch_keeps_a_key_on_one_worker_in_order) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(4);
  o.dispatch = troupe::pool_dispatch::sticky;
  pool p = make_pool(sys, o, &log);
  std::vector<std::string> keys = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"};
  std::vector<troupe::response<int>> replies;
  for (int round = 0; round < 5; ++round) {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const int n = static_cast<int>(k) * 100 + round;
      replies.push_back(p.ask(job{n, 3ms}, job_options{keys[k], job_priority::normal, 1s}));
    }
  }
  for (auto& r : replies) EXPECT_TRUE(r.get());
  std::map<int, std::set<troupe::actor_id>> workers_of_key;
  std::map<int, std::vector<int>> rounds_of_key;
  std::map<int, troupe::time_point> last_start;
  for (const start& s : log) {
    workers_of_key[s.n / 100].insert(s.worker);
    rounds_of_key[s.n / 100].push_back(s.n % 100);
    if (last_start.count(s.n / 100)) {
      EXPECT_GE(s.at - last_start[s.n / 100], 3ms) << "overlap";
    }
    last_start[s.n / 100] = s.at;
  }
  for (auto& [k, ws] : workers_of_key) EXPECT_EQ(ws.size(), 1u) << keys[k];
  for (auto& [k, rs] : rounds_of_key) EXPECT_EQ(rs, (std::vector<int>{0, 1, 2, 3, 4})) << keys[k];
}

TEST(worker_pool, a_full_queue_rejects_new_jobs) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(1);
  o.queue_capacity = 2;
  o.discard = troupe::pool_discard::reject_new;
  pool p = make_pool(sys, o, &log);
  std::vector<troupe::response<int>> r;
  for (int i = 1; i <= 4; ++i) r.push_back(p.ask(job{i, 10ms}));
  rt.run();
  ASSERT_TRUE(r[3].ready());
  EXPECT_EQ(r[3].get().error(), errc::mailbox_full);
  EXPECT_EQ(p.stats().get().value().dropped, 1u);
  EXPECT_EQ(r[0].get().value(), 10);
  EXPECT_EQ(r[1].get().value(), 20);
  EXPECT_EQ(r[2].get().value(), 30);
  EXPECT_EQ(order(log), (std::vector<int>{1, 2, 3}));
}

TEST(worker_pool, a_full_queue_drops_the_oldest_job) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(1);
  o.queue_capacity = 2;
  o.discard = troupe::pool_discard::drop_oldest;
  pool p = make_pool(sys, o, &log);
  std::vector<troupe::response<int>> r;
  for (int i = 1; i <= 4; ++i) r.push_back(p.ask(job{i, 10ms}));
  rt.run();
  ASSERT_TRUE(r[1].ready());
  EXPECT_EQ(r[1].get().error(), errc::dropped);
  EXPECT_EQ(r[3].get().value(), 40);
  EXPECT_EQ(order(log), (std::vector<int>{1, 3, 4}));
  EXPECT_EQ(p.stats().get().value().dropped, 1u);
}

TEST(worker_pool, higher_priorities_start_first_and_low_ones_are_dropped_first) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(1);
  o.queue_capacity = 4;
  o.discard = troupe::pool_discard::drop_oldest;
  pool p = make_pool(sys, o, &log);
  auto first = p.ask(job{1, 10ms});
  auto low = p.ask(job{2, 1ms}, job_options{{}, job_priority::low, {}});
  auto normal_a = p.ask(job{3, 1ms});
  auto high = p.ask(job{4, 1ms}, job_options{{}, job_priority::high, {}});
  auto normal_b = p.ask(job{5, 1ms});
  auto high_b =
      p.ask(job{6, 1ms}, job_options{{}, job_priority::high, {}});  // full: the low one goes
  rt.run();
  ASSERT_TRUE(low.ready());
  EXPECT_EQ(low.get().error(), errc::dropped);
  rt.advance(1s);
  EXPECT_EQ(order(log), (std::vector<int>{1, 4, 6, 3, 5}));
  for (auto* r : {&first, &normal_a, &high, &normal_b, &high_b}) EXPECT_TRUE(r->get());
}

TEST(worker_pool, the_rate_limit_spaces_job_starts_in_virtual_time) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(4);
  o.rate = troupe::rate_limit{10, 1s, 1};  // 10 jobs per second, no burst
  pool p = make_pool(sys, o, &log);
  const troupe::time_point t0 = rt.now();
  for (int i = 0; i < 25; ++i) p.tell(job{i});
  rt.run();
  EXPECT_EQ(log.size(), 1u);
  rt.advance(1s);
  EXPECT_EQ(log.size(), 11u) << "one at once, then one every 100 ms";
  rt.advance(2s);
  ASSERT_EQ(log.size(), 25u);
  for (std::size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].at - t0, 100ms * static_cast<int>(i)) << "job " << i;
  }
  EXPECT_EQ(p.stats().get().value().done, 25u);
}

TEST(worker_pool, a_burst_starts_at_once_after_a_quiet_spell) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(4);
  o.rate = troupe::rate_limit{2, 1s, 3};
  pool p = make_pool(sys, o, &log);
  for (int i = 0; i < 5; ++i) p.tell(job{i});
  rt.run();
  EXPECT_EQ(log.size(), 3u);
  rt.advance(500ms);
  EXPECT_EQ(log.size(), 4u);
  rt.advance(500ms);
  EXPECT_EQ(log.size(), 5u);
}

TEST(worker_pool, a_dead_worker_is_replaced) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool p = make_pool(sys, with_workers(2), &log);
  auto crashed = p.ask(job{1, 1ms, true});
  troupe::result<int> r = crashed.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::handler_failed);
  rt.run();
  troupe::pool_stats st = p.stats().get().value();
  EXPECT_EQ(st.restarted, 1u);
  EXPECT_EQ(st.workers, 2u);
  EXPECT_EQ(st.failed, 1u);
  // Both workers serve again: two overlapping jobs start at once.
  auto a = p.ask(job{2, 5ms});
  auto b = p.ask(job{3, 5ms});
  rt.run();
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(a.get().value(), 20);
  EXPECT_EQ(b.get().value(), 30);
  EXPECT_EQ(sys.live_actors(), 3u);  // dispatcher + 2 workers
}

TEST(worker_pool, a_stuck_job_times_out_and_its_worker_is_replaced) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(1);
  o.job_timeout = 50ms;
  pool p = make_pool(sys, o, &log);
  auto stuck = p.ask(job{1, 10s});
  auto next = p.ask(job{2, 1ms});
  rt.advance(50ms);
  ASSERT_TRUE(stuck.ready());
  EXPECT_EQ(stuck.get().error(), errc::timeout);
  EXPECT_EQ(next.get().value(), 20);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].worker, log[1].worker) << "the stuck worker was killed";
  troupe::pool_stats st = p.stats().get().value();
  EXPECT_EQ(st.restarted, 1u);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_EQ(st.done, 1u);
}

TEST(worker_pool, a_job_whose_ask_ended_in_the_queue_never_runs) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool p = make_pool(sys, with_workers(1), &log);
  auto busy = p.ask(job{1, 10ms});
  auto impatient = p.ask(job{2, 1ms}, job_options{{}, job_priority::normal, 5ms});
  rt.advance(5ms);
  ASSERT_TRUE(impatient.ready());
  EXPECT_EQ(impatient.get().error(), errc::timeout);
  rt.advance(20ms);
  EXPECT_EQ(busy.get().value(), 10);
  EXPECT_EQ(order(log), (std::vector<int>{1}));
  EXPECT_EQ(p.stats().get().value().failed, 1u);
}

TEST(worker_pool, resizing_grows_and_shrinks_the_pool_at_run_time) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool p = make_pool(sys, with_workers(2), &log);
  p.resize(4);
  std::vector<troupe::response<int>> r;
  for (int i = 0; i < 4; ++i) r.push_back(p.ask(job{i, 10ms}));
  rt.run();
  EXPECT_EQ(log.size(), 4u) << "four workers now";
  EXPECT_EQ(p.stats().get().value().busy, 4u);
  p.resize(1);  // the busy ones finish their job first
  rt.advance(10ms);
  for (auto& x : r) EXPECT_TRUE(x.get());
  troupe::pool_stats st = p.stats().get().value();
  EXPECT_EQ(st.workers, 1u);
  EXPECT_EQ(st.restarted, 0u);
  EXPECT_EQ(sys.live_actors(), 2u);  // dispatcher + 1 worker
  for (int i = 0; i < 2; ++i) r.push_back(p.ask(job{10 + i, 10ms}));
  rt.run();
  EXPECT_EQ(log.size(), 5u) << "one worker: one job at a time";
  rt.advance(20ms);
  EXPECT_EQ(log.size(), 6u);
  // Shrinking to zero queues jobs until the pool grows again.
  p.resize(0);
  auto waiting = p.ask(job{20}, job_options{{}, job_priority::normal, 10s});
  rt.advance(1s);
  EXPECT_FALSE(waiting.ready());
  EXPECT_EQ(p.stats().get().value().queued, 1u);
  p.resize(1);
  EXPECT_EQ(waiting.get().value(), 200);
}

TEST(worker_pool, stopping_the_pool_ends_queued_jobs_and_workers) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool p = make_pool(sys, with_workers(1), &log);
  auto running = p.ask(job{1, 10ms});
  auto queued = p.ask(job{2, 10ms});
  rt.run();
  p.stop();
  rt.run();
  ASSERT_TRUE(queued.ready());
  EXPECT_EQ(queued.get().error(), errc::actor_not_found);
  EXPECT_EQ(running.get().value(), 10) << "a running job finishes";
  rt.run();
  EXPECT_EQ(sys.live_actors(), 0u);
  EXPECT_EQ(p.ask(job{3}).get().error(), errc::actor_not_found);
  EXPECT_FALSE(p.tell(job{4}));
}

TEST(worker_pool, bad_options_and_failing_factories_are_errors) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<start> log;
  pool_options o = with_workers(2);
  o.job_timeout = 0ms;
  auto bad = pool::spawn(sys, o, [&log](troupe::system& s) { return s.spawn<worker>(&log); });
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), errc::invalid_argument);
  int made = 0;
  auto failing = pool::spawn(sys, with_workers(3),
                             [&](troupe::system& s) -> troupe::result<troupe::endpoint<worker>> {
                               if (++made == 2) return errc::start_failed;
                               return s.spawn<worker>(&log);
                             });
  ASSERT_FALSE(failing);
  EXPECT_EQ(failing.error(), errc::start_failed);
  rt.run();
  EXPECT_EQ(sys.live_actors(), 0u) << "the worker already made was stopped";
}

}  // namespace pool_test
