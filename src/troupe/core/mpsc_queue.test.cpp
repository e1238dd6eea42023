#include "troupe/core/mpsc_queue.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "troupe/core/testing/sanitizers.hpp"
#include "troupe/core/testing/watchdog.hpp"

// The lock-free MPSC queue behind every mailbox.

namespace {

struct node : troupe::mpsc_node {
  int producer = 0;
  int seq = 0;
};

TEST(mpsc_queue, is_fifo_for_one_thread) {
  troupe::mpsc_queue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop(), nullptr);
  std::vector<node> nodes(100);
  for (int round = 0; round < 3; ++round) {  // the stub is recycled between rounds
    for (int i = 0; i < 100; ++i) {
      nodes[i].seq = i;
      q.push(&nodes[i]);
      EXPECT_FALSE(q.empty());
    }
    for (int i = 0; i < 100; ++i) {
      auto* n = static_cast<node*>(q.pop());
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(n->seq, i);
    }
    EXPECT_EQ(q.pop(), nullptr);
    EXPECT_TRUE(q.empty());
  }
}

TEST(mpsc_queue, interleaved_push_and_pop_keep_order) {
  troupe::mpsc_queue q;
  std::vector<node> nodes(1000);
  int next_out = 0;
  for (int i = 0; i < 1000; ++i) {
    nodes[i].seq = i;
    q.push(&nodes[i]);
    if (i % 3 == 2) {
      for (int k = 0; k < 2; ++k) {
        auto* n = static_cast<node*>(q.pop());
        ASSERT_NE(n, nullptr);
        EXPECT_EQ(n->seq, next_out++);
      }
    }
  }
  while (auto* n = static_cast<node*>(q.pop())) EXPECT_EQ(n->seq, next_out++);
  EXPECT_EQ(next_out, 1000);
}

TEST(mpsc_queue, keeps_each_producers_order_under_contention) {
  troupe::testing::watchdog guard("mpsc_queue.keeps_each_producers_order_under_contention");
  constexpr int producers = 4;
  constexpr int per_producer = static_cast<int>(troupe::testing::scaled(500'000, 50'000));
  troupe::mpsc_queue q;
  std::vector<std::unique_ptr<node[]>> nodes;
  for (int p = 0; p < producers; ++p) {
    nodes.push_back(std::make_unique<node[]>(per_producer));
    for (int i = 0; i < per_producer; ++i) {
      nodes[p][i].producer = p;
      nodes[p][i].seq = i;
    }
  }
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) q.push(&nodes[p][i]);
    });
  }
  std::vector<int> next(producers, 0);
  long received = 0, out_of_order = 0;
  while (received < long{producers} * per_producer) {
    auto* n = static_cast<node*>(q.pop());
    if (n == nullptr) {
      std::this_thread::yield();  // empty, or a push is half done
      continue;
    }
    if (n->seq != next[n->producer]) ++out_of_order;
    next[n->producer] = n->seq + 1;
    ++received;
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(out_of_order, 0);
  for (int p = 0; p < producers; ++p) EXPECT_EQ(next[p], per_producer);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
}

}  // namespace
