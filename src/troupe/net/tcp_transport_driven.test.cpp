#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "troupe/core/thread_pool.hpp"
#include "troupe/net/tcp_transport.hpp"
#include "troupe/net/testing/link_recorder.hpp"

// A tcp_transport whose I/O runs on a thread_pool's idle workers
// (tcp_transport_config::io_executor): the same contract as with its own
// threads, reads on the pool's workers, progress while every worker is busy,
// and stop() from anywhere.

namespace troupe::net {
namespace {

using namespace std::chrono_literals;
using namespace troupe::net::testing;

// True on one of the pool's threads: a worker, or the keeper that polls the
// transport while every worker is busy (a slow run, under a sanitizer, may
// leave a read to it).
bool on_pool_thread(const thread_pool& pool) {
  if (pool.in_executor()) return true;
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return std::string_view(name) == keeper_thread_name;
}

tcp_transport_config on(executor& pool) {
  tcp_transport_config c;
  c.io_executor = &pool;
  return c;
}

/// Blocks its worker until released.
class blocker final : public schedulable {
 public:
  void run() noexcept override {
    entered.count_down();
    release.wait();
    left.count_down();
  }
  std::latch entered{1};
  std::latch release{1};
  std::latch left{1};
};

TEST(TcpTransportDriven, ReadsOnThePoolWorkersAndKeepsTheContract) {
  thread_pool server_pool(thread_pool_options{.workers = 2});
  thread_pool client_pool(thread_pool_options{.workers = 2});
  auto j = join(on(server_pool), on(client_pool));
  ASSERT_TRUE(j);
  std::atomic<int> reads_outside{0};
  std::atomic<int> reads{0};
  auto echo = recorder::make(true);
  echo->on_read = [&] {
    reads.fetch_add(1);
    if (!on_pool_thread(server_pool)) reads_outside.fetch_add(1);
  };
  echo->start(j->s);
  auto rec = recorder::make();
  rec->start(j->c);
  produce(*rec);
  ASSERT_TRUE(rec->wait_received(produced_bytes));
  expect_complete_and_in_order(rec->received());
  expect_complete_and_in_order(echo->received());
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(reads_outside.load(), 0) << "every read ran on a thread of the pool";
  stop_both(*j, *rec, *echo);
  EXPECT_EQ(server_pool.stop(5s), 0u);
  EXPECT_EQ(client_pool.stop(5s), 0u);
}

TEST(TcpTransportDriven, TransfersLargeStreamsBothWays) {
  thread_pool server_pool(thread_pool_options{.workers = 2});
  thread_pool client_pool(thread_pool_options{.workers = 1});
  auto j = join(on(server_pool), on(client_pool));
  ASSERT_TRUE(j);
  constexpr std::size_t n = std::size_t{16} << 20;
  auto up = make_pattern(n, 1);
  auto down = make_pattern(n, 2);
  auto client_side = std::make_shared<streamer>(up, down);
  auto server_side = std::make_shared<streamer>(down, up);
  j->c->start(client_side);
  j->s->start(server_side);
  j->c->wake();
  j->s->wake();
  ASSERT_TRUE(client_side->wait_received(n));
  ASSERT_TRUE(server_side->wait_received(n));
  EXPECT_EQ(client_side->mismatches(), 0);
  EXPECT_EQ(server_side->mismatches(), 0);
  j->client->stop();
  j->server->stop();
}

TEST(TcpTransportDriven, KeepsReadingWhileEveryWorkerIsInsideALongTurn) {
  thread_pool server_pool(thread_pool_options{.workers = 1});
  auto j = join(on(server_pool));
  ASSERT_TRUE(j);
  auto rec = recorder::make();
  std::atomic<bool> read_by_keeper{false};
  rec->on_read = [&] {
    read_by_keeper.store(!server_pool.in_executor() && on_pool_thread(server_pool));
  };
  rec->start(j->s);
  auto sender = recorder::make();
  sender->start(j->c);
  blocker busy;
  server_pool.post(&busy, post_hint::wake);
  busy.entered.wait();
  sender->send(as_bytes("while busy"));
  EXPECT_TRUE(rec->wait_received(10)) << "the read waited for the turn to end";
  EXPECT_FALSE(busy.left.try_wait()) << "the only worker was still blocked";
  EXPECT_TRUE(read_by_keeper.load()) << "the pool's keeper thread read it";
  busy.release.count_down();
  busy.left.wait();
  stop_both(*j, *sender, *rec);
}

TEST(TcpTransportDriven, ASecondTransportOnTheSamePoolRunsItsOwnThreads) {
  thread_pool pool(thread_pool_options{.workers = 2});
  auto j = join(on(pool), on(pool));
  ASSERT_TRUE(j);
  std::atomic<int> server_reads_in_pool{0};
  std::atomic<int> client_reads_in_pool{0};
  auto echo = recorder::make(true);
  echo->on_read = [&] { server_reads_in_pool.fetch_add(on_pool_thread(pool) ? 1 : 0); };
  echo->start(j->s);
  auto rec = recorder::make();
  rec->on_read = [&] { client_reads_in_pool.fetch_add(on_pool_thread(pool) ? 1 : 0); };
  rec->start(j->c);
  rec->send(as_bytes("ping"));
  ASSERT_TRUE(rec->wait_received(4));
  // The server was made first and took the pool; the client fell back.
  EXPECT_GT(server_reads_in_pool.load(), 0);
  EXPECT_EQ(client_reads_in_pool.load(), 0);
  stop_both(*j, *rec, *echo);
}

TEST(TcpTransportDriven, StopFromInsideACallbackReturnsAndTheDestructorFinishes) {
  thread_pool pool(thread_pool_options{.workers = 2});
  auto j = join(on(pool));
  ASSERT_TRUE(j);
  auto rec = recorder::make();
  std::atomic<bool> stopped_inside{false};
  tcp_transport* server = j->server.get();
  rec->on_read = [&] {
    if (!stopped_inside.exchange(true)) server->stop();
  };
  rec->start(j->s);
  auto sender = recorder::make();
  sender->start(j->c);
  sender->send(as_bytes("stop"));
  ASSERT_TRUE(rec->wait_closed()) << "stop() from inside ended the link";
  EXPECT_EQ(rec->why().code(), errc::shutting_down);
  EXPECT_TRUE(stopped_inside.load());
  j->server.reset();  // from outside: detaches from the pool and finishes
  EXPECT_TRUE(sender->wait_closed());
  j->client->stop();
  EXPECT_EQ(rec->closed(), 1);
  EXPECT_EQ(rec->violations(), 0);
  EXPECT_EQ(sender->violations(), 0);
}

TEST(TcpTransportDriven, StopsAfterThePoolHasStopped) {
  auto pool = std::make_unique<thread_pool>(thread_pool_options{.workers = 2});
  auto j = join(on(*pool));
  ASSERT_TRUE(j);
  auto rec = recorder::make();
  rec->start(j->s);
  auto sender = recorder::make();
  sender->start(j->c);
  sender->send(as_bytes("x"));
  ASSERT_TRUE(rec->wait_received(1));
  EXPECT_EQ(pool->stop(5s), 0u);
  pool.reset();
  // Nothing drives the server's I/O now; stop() runs what is left itself.
  j->server->stop();
  EXPECT_EQ(rec->closed(), 1);
  EXPECT_EQ(rec->why().code(), errc::shutting_down);
  j->client->stop();
  EXPECT_EQ(rec->violations(), 0);
}

}  // namespace
}  // namespace troupe::net
