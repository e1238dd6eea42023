#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/testing/sanitizers.hpp"
#include "troupe/core/testing/watchdog.hpp"

// Real-thread stress: FIFO per sender under heavy fan-in, ask storms with
// short deadlines, spawn/stop churn, bounded mailboxes under contention, and
// kills racing with senders. Every test has a watchdog; none sleeps.

namespace {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::task;
using troupe::testing::scaled;

constexpr int max_senders = 8;

struct seq_msg {
  static constexpr std::string_view type_name = "test.stress.seq_msg";
  int sender;
  long seq;
};
struct fifo_report {
  long received = 0;
  long violations = 0;
  std::vector<long> last;
};
struct get_fifo_report {
  using reply = fifo_report;
  static constexpr std::string_view type_name = "test.stress.get_fifo_report";
};

/// Checks that each sender's sequence numbers arrive strictly increasing and
/// without gaps.
class fifo_checker : public troupe::actor<fifo_checker> {
 public:
  using handles = troupe::handles<seq_msg, get_fifo_report>;
  fifo_checker() { r_.last.assign(max_senders, -1); }

  void handle(seq_msg m) {
    if (m.seq != r_.last[m.sender] + 1) ++r_.violations;
    r_.last[m.sender] = m.seq;
    ++r_.received;
  }
  fifo_report handle(get_fifo_report) { return r_; }

 private:
  fifo_report r_;
};

TEST(stress, fifo_per_sender_under_eight_concurrent_senders) {
  troupe::testing::watchdog guard("stress.fifo_per_sender_under_eight_concurrent_senders", 120s);
  const long per_sender = scaled(1'000'000, 100'000);
  troupe::system sys(troupe::system_config{.workers = 2});
  auto checker = sys.spawn<fifo_checker>().value();
  std::latch go(max_senders + 1);
  std::vector<std::thread> senders;
  std::atomic<long> refused{0};
  for (int s = 0; s < max_senders; ++s) {
    senders.emplace_back([&, s] {
      go.arrive_and_wait();
      for (long i = 0; i < per_sender; ++i) {
        if (!checker.tell(seq_msg{s, i}).ok()) refused.fetch_add(1);
      }
    });
  }
  go.arrive_and_wait();
  for (auto& t : senders) t.join();
  // Every tell above happened before this ask was sent: the report is final.
  troupe::result<fifo_report> r = checker.ask(get_fifo_report{}, 100s).get();
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(r->violations, 0);
  EXPECT_EQ(r->received, max_senders * per_sender);
  for (int s = 0; s < max_senders; ++s) EXPECT_EQ(r->last[s], per_sender - 1) << "sender " << s;
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

struct echo_req {
  using reply = long;
  static constexpr std::string_view type_name = "test.stress.echo_req";
  long value;
  troupe::duration delay;  // zero: reply at once
};

/// Echoes at once, or after a delay (a reentrant coroutine, so slow asks
/// overlap).
class echo : public troupe::actor<echo> {
 public:
  using handles = troupe::handles<echo_req>;
  static constexpr bool reentrant = true;
  task<long> handle(echo_req m) {
    if (m.delay > 0ns) co_await sleep_for(m.delay);
    co_return m.value;
  }
};

TEST(stress, every_ask_in_a_storm_with_short_deadlines_ends) {
  troupe::testing::watchdog guard("stress.every_ask_in_a_storm_with_short_deadlines_ends");
  troupe::system sys(troupe::system_config{.workers = 2});
  std::vector<troupe::endpoint<echo>> echoes;
  for (int i = 0; i < 4; ++i) echoes.push_back(sys.spawn<echo>().value());
  constexpr int threads = 4;
  const long per_thread = scaled(20'000, 4'000);
  constexpr int wave = 200;  // asks in flight per thread
  std::atomic<long> values{0}, timeouts{0}, wrong{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::pair<long, troupe::response<long>>> inflight;
      for (long i = 0; i < per_thread; i += wave) {
        inflight.clear();
        for (long k = i; k < i + wave && k < per_thread; ++k) {
          const long v = t * 1'000'000 + k;
          // Every fifth ask is slower (5 ms) than its deadline (1 ms); the
          // others race a 1 ms deadline on a loaded machine.
          const troupe::duration delay = k % 5 == 0 ? 5ms : 0ns;
          inflight.emplace_back(v, echoes[k % echoes.size()].ask(echo_req{v, delay}, 1ms));
        }
        for (auto& [v, resp] : inflight) {
          troupe::result<long> r = resp.get();
          if (r) {
            (*r == v ? values : wrong).fetch_add(1);
          } else if (r.error().code() == errc::timeout) {
            timeouts.fetch_add(1);
          } else {
            other.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(values.load() + timeouts.load(), threads * per_thread) << "every ask ended";
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(timeouts.load(), threads * per_thread / 5) << "the slow fifth all timed out";
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

struct relay_req {
  using reply = long;
  static constexpr std::string_view type_name = "test.stress.relay_req";
  long value;
};

/// Forwards each request to an echo from a coroutine and adds one.
class relay : public troupe::actor<relay> {
 public:
  using handles = troupe::handles<relay_req>;
  explicit relay(troupe::endpoint<echo> e) : e_(e) {}
  task<long> handle(relay_req m) {
    echo_req req{m.value, 0ns};
    troupe::result<long> r = co_await e_.ask(req, 30s);
    co_return r.value_or(-1) + 1;
  }

 private:
  troupe::endpoint<echo> e_;
};

TEST(stress, coroutine_relays_across_threads_return_every_reply) {
  troupe::testing::watchdog guard("stress.coroutine_relays_across_threads_return_every_reply");
  troupe::system sys(troupe::system_config{.workers = 2});
  auto e = sys.spawn<echo>().value();
  std::vector<troupe::endpoint<relay>> relays;
  for (int i = 0; i < 8; ++i) relays.push_back(sys.spawn<relay>(e).value());
  constexpr int threads = 4;
  const long per_thread = scaled(20'000, 4'000);
  std::atomic<long> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<troupe::response<long>> inflight;
      for (long i = 0; i < per_thread; i += 100) {
        inflight.clear();
        for (long k = i; k < i + 100; ++k)
          inflight.push_back(relays[(t + k) % relays.size()].ask(relay_req{k}, 30s));
        for (long k = i; k < i + 100; ++k) {
          troupe::result<long> r = inflight[k - i].get();
          if (r && *r == k + 1) good.fetch_add(1);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(good.load(), threads * per_thread);
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

struct ping {
  static constexpr std::string_view type_name = "test.stress.ping";
};

/// Counts its own lifecycle in shared counters.
class ephemeral : public troupe::actor<ephemeral> {
 public:
  using handles = troupe::handles<ping>;
  ephemeral(std::atomic<long>* pings, std::atomic<long>* stops, std::atomic<long>* alive)
      : pings_(pings), stops_(stops), alive_(alive) {
    alive_->fetch_add(1);
  }
  ~ephemeral() { alive_->fetch_sub(1); }
  void handle(ping) { pings_->fetch_add(1); }
  void post_stop(const troupe::exit_reason& why) {
    if (why == troupe::exit_reason::kind::normal) stops_->fetch_add(1);
  }

 private:
  std::atomic<long>* pings_;
  std::atomic<long>* stops_;
  std::atomic<long>* alive_;
};

TEST(stress, spawn_stop_churn_leaves_no_actor_behind) {
  troupe::testing::watchdog guard("stress.spawn_stop_churn_leaves_no_actor_behind");
  std::atomic<long> pings{0}, stops{0}, alive{0}, failed_spawns{0};
  troupe::system sys(troupe::system_config{.workers = 2});
  const long per_thread = scaled(10'000, 2'000);
  std::vector<std::thread> spawners;
  for (int t = 0; t < 2; ++t) {
    spawners.emplace_back([&] {
      for (long i = 0; i < per_thread; ++i) {
        auto r = sys.spawn<ephemeral>(&pings, &stops, &alive);
        if (!r) {
          failed_spawns.fetch_add(1);
          continue;
        }
        r->tell(ping{});
        r->stop();  // after the ping: both come from this thread
      }
    });
  }
  for (auto& s : spawners) s.join();
  ASSERT_TRUE(sys.core().wait_all_stopped(sys.time().now() + 60s));
  EXPECT_EQ(sys.live_actors(), 0u);
  EXPECT_EQ(failed_spawns.load(), 0);
  EXPECT_EQ(stops.load(), 2 * per_thread);
  EXPECT_EQ(alive.load(), 0) << "every actor object was destroyed";
  // A stop travels in the system lane, which may overtake the ping: each ping
  // is either handled or a dead letter, never lost.
  EXPECT_EQ(pings.load() + static_cast<long>(sys.dead_letters()), 2 * per_thread);
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

struct item {
  static constexpr std::string_view type_name = "test.stress.item";
};
struct handled_count {
  using reply = long;
  static constexpr std::string_view type_name = "test.stress.handled_count";
};

/// Counts the items it handles.
class sink : public troupe::actor<sink> {
 public:
  using handles = troupe::handles<item, handled_count>;
  void handle(item) { ++n_; }
  long handle(handled_count) { return n_; }

 private:
  long n_ = 0;
};

TEST(stress, a_bounded_mailbox_accounts_for_every_message_under_contention) {
  troupe::testing::watchdog guard("stress.a_bounded_mailbox_accounts_for_every_message");
  for (troupe::overflow policy :
       {troupe::overflow::reject, troupe::overflow::drop_newest, troupe::overflow::drop_oldest}) {
    troupe::system sys(troupe::system_config{.workers = 2});
    troupe::spawn_options opts;
    opts.mailbox = {64, policy};
    auto s = sys.spawn_with<sink>(opts).value();
    const long per_thread = scaled(200'000, 20'000);
    std::atomic<long> accepted{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t) {
      producers.emplace_back([&] {
        for (long i = 0; i < per_thread; ++i) {
          if (s.tell(item{}).ok()) accepted.fetch_add(1);
        }
      });
    }
    for (auto& p : producers) p.join();
    // The count ask may itself find the mailbox full: retry until it fits.
    troupe::result<long> handled = errc::mailbox_full;
    while (!handled && handled.error().code() == errc::mailbox_full)
      handled = s.ask(handled_count{}, 30s).get();
    ASSERT_TRUE(handled.has_value()) << handled.error().message();
    EXPECT_GT(*handled, 0);
    if (policy == troupe::overflow::drop_oldest) {
      EXPECT_EQ(accepted.load(), 4 * per_thread) << "drop_oldest accepts everything";
      EXPECT_LE(*handled, accepted.load());
    } else {
      EXPECT_EQ(*handled, accepted.load()) << "every accepted item was handled";
    }
    EXPECT_TRUE(sys.shutdown(10s).clean());
  }
}

/// Counts tells; asks reply at once.
class target : public troupe::actor<target> {
 public:
  using handles = troupe::handles<item, handled_count>;
  explicit target(std::atomic<long>* handled) : handled_(handled) {}
  void handle(item) { handled_->fetch_add(1); }
  long handle(handled_count) { return handled_->load(); }

 private:
  std::atomic<long>* handled_;
};

TEST(stress, kills_racing_with_senders_lose_nothing_silently) {
  troupe::testing::watchdog guard("stress.kills_racing_with_senders_lose_nothing_silently");
  std::atomic<long> handled{0}, sent{0}, asks_ok{0}, asks_gone{0}, asks_other{0};
  troupe::system sys(troupe::system_config{.workers = 2});
  const int rounds = static_cast<int>(scaled(200, 40));
  for (int round = 0; round < rounds; ++round) {
    auto t = sys.spawn<target>(&handled).value();
    std::latch go(3);
    std::thread teller([&] {
      go.arrive_and_wait();
      for (int i = 0; i < 500; ++i) {
        (void)t.tell(item{});
        sent.fetch_add(1);
      }
    });
    std::thread asker([&] {
      go.arrive_and_wait();
      for (int i = 0; i < 50; ++i) {
        troupe::result<long> r = t.ask(handled_count{}, 30s).get();
        if (r)
          asks_ok.fetch_add(1);
        else if (r.error().code() == errc::actor_not_found)
          asks_gone.fetch_add(1);
        else
          asks_other.fetch_add(1);
      }
    });
    go.arrive_and_wait();
    if (round % 2)
      t.kill();
    else
      t.drain();
    teller.join();
    asker.join();
  }
  ASSERT_TRUE(sys.core().wait_all_stopped(sys.time().now() + 60s));
  EXPECT_EQ(asks_ok.load() + asks_gone.load(), rounds * 50L) << "every ask ended";
  EXPECT_EQ(asks_other.load(), 0);
  EXPECT_EQ(handled.load() + static_cast<long>(sys.dead_letters()), sent.load())
      << "each tell was handled or counted as a dead letter";
  EXPECT_TRUE(sys.shutdown(10s).clean());
}

}  // namespace
