#include "troupe/core/mailbox_options.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <string>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/sim/runtime.hpp"

// Mailboxes: bounded capacity and its overflow policies, the system lane read
// before user messages, and batching between actors.

namespace {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::overflow;

struct item {
  static constexpr std::string_view type_name = "test.mailbox.item";
  int n;
};
struct item_ask {
  using reply = int;
  static constexpr std::string_view type_name = "test.mailbox.item_ask";
  int n;
};
struct stop_me {
  static constexpr std::string_view type_name = "test.mailbox.stop_me";
};

/// Records every item it handles (into a log it may share with others).
class recorder : public troupe::actor<recorder> {
 public:
  using handles = troupe::handles<item, item_ask, stop_me>;
  explicit recorder(std::vector<int>* log, int tag = 0) : log_(log), tag_(tag) {}

  void handle(item m) { log_->push_back(tag_ + m.n); }
  int handle(item_ask m) {
    log_->push_back(tag_ + m.n);
    return m.n;
  }
  void handle(stop_me) { self().stop(); }

 private:
  std::vector<int>* log_;
  int tag_;
};

troupe::spawn_options bounded(std::size_t capacity, overflow policy) {
  troupe::spawn_options o;
  o.mailbox = {capacity, policy};
  return o;
}

TEST(mailbox, a_full_mailbox_with_reject_refuses_tells_and_asks) {
  troupe::sim::runtime rt;
  std::vector<int> log;
  troupe::system sys(rt.config());
  auto r = sys.spawn_with<recorder>(bounded(2, overflow::reject), &log).value();
  EXPECT_TRUE(r.tell(item{0}).ok());
  EXPECT_TRUE(r.tell(item{1}).ok());
  troupe::send_result full = r.tell(item{2});
  EXPECT_FALSE(full.ok());
  EXPECT_EQ(full.error(), errc::mailbox_full);
  auto refused = r.ask(item_ask{3});
  ASSERT_TRUE(refused.ready()) << "refused at once";
  EXPECT_EQ(refused.get().error().code(), errc::mailbox_full);
  rt.run();
  EXPECT_EQ(log, (std::vector<int>{0, 1}));
  // Handling frees the room again.
  EXPECT_TRUE(r.tell(item{4}).ok());
  EXPECT_EQ(r.ask(item_ask{5}).get().value(), 5);
  EXPECT_EQ(log, (std::vector<int>{0, 1, 4, 5}));
  EXPECT_EQ(sys.dead_letters(), 0u) << "a refused tell is not a dead letter";
}

TEST(mailbox, drop_newest_keeps_the_first_messages) {
  troupe::sim::runtime rt;
  std::vector<int> log;
  troupe::system sys(rt.config());
  auto r = sys.spawn_with<recorder>(bounded(3, overflow::drop_newest), &log).value();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(r.tell(item{i}).ok()) << i;
  for (int i = 3; i < 6; ++i) EXPECT_EQ(r.tell(item{i}).error(), errc::dropped) << i;
  auto dropped = r.ask(item_ask{6});
  ASSERT_TRUE(dropped.ready());
  EXPECT_EQ(dropped.get().error().code(), errc::mailbox_full);
  rt.run();
  EXPECT_EQ(log, (std::vector<int>{0, 1, 2}));
}

TEST(mailbox, drop_oldest_keeps_the_last_messages) {
  troupe::sim::runtime rt;
  std::vector<int> log;
  troupe::system sys(rt.config());
  auto r = sys.spawn_with<recorder>(bounded(3, overflow::drop_oldest), &log).value();
  auto oldest = r.ask(item_ask{100});
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(r.tell(item{i}).ok()) << "drop_oldest accepts " << i;
  rt.run();
  EXPECT_EQ(log, (std::vector<int>{3, 4, 5}));
  ASSERT_TRUE(oldest.ready());
  EXPECT_EQ(oldest.get().error().code(), errc::mailbox_full) << "a dropped ask ends";
  // Once drained, the mailbox takes three again without dropping.
  for (int i = 10; i < 13; ++i) EXPECT_TRUE(r.tell(item{i}).ok());
  rt.run();
  EXPECT_EQ(log, (std::vector<int>{3, 4, 5, 10, 11, 12}));
}

TEST(mailbox, unbounded_by_default) {
  troupe::sim::runtime rt;
  std::vector<int> log;
  troupe::system sys(rt.config());
  auto r = sys.spawn<recorder>(&log).value();
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(r.tell(item{i}).ok());
  rt.run();
  ASSERT_EQ(log.size(), 100'000u);
  for (int i = 0; i < 100'000; ++i) ASSERT_EQ(log[i], i);
}

TEST(mailbox, a_stop_is_read_before_the_queued_messages) {
  troupe::sim::runtime rt;
  std::vector<int> log;
  troupe::system sys(rt.config());
  auto r = sys.spawn<recorder>(&log).value();
  r.tell(item{0});
  r.tell(stop_me{});  // message 1 sends a stop through the system lane
  for (int i = 2; i < 500; ++i) r.tell(item{i});
  auto late = r.ask(item_ask{500});
  rt.run();
  EXPECT_EQ(log, std::vector<int>{0});
  EXPECT_EQ(late.get().error().code(), errc::actor_not_found);
  EXPECT_EQ(sys.dead_letters(), 498u);
}

TEST(mailbox, a_kill_is_read_before_the_queued_messages) {
  troupe::sim::runtime rt;
  std::vector<int> log;
  troupe::system sys(rt.config());
  auto r = sys.spawn<recorder>(&log).value();
  for (int i = 0; i < 500; ++i) r.tell(item{i});
  r.kill();
  rt.run();
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(sys.dead_letters(), 500u);
}

TEST(mailbox, an_actor_yields_after_its_batch) {
  troupe::sim::runtime rt;
  troupe::system_config cfg = rt.config();
  cfg.batch = 4;
  std::vector<int> log;
  troupe::system sys(cfg);
  auto a = sys.spawn<recorder>(&log, 100).value();
  auto b = sys.spawn<recorder>(&log, 200).value();
  rt.run();
  for (int i = 0; i < 10; ++i) a.tell(item{i});
  for (int i = 0; i < 10; ++i) b.tell(item{i});
  rt.run();
  const std::vector<int> want{100, 101, 102, 103, 200, 201, 202, 203, 104, 105,
                              106, 107, 204, 205, 206, 207, 108, 109, 208, 209};
  EXPECT_EQ(log, want);
}

struct block {
  static constexpr std::string_view type_name = "test.mailbox.block";
};
struct count_me {
  using reply = int;
  static constexpr std::string_view type_name = "test.mailbox.count_me";
};

/// Blocks its thread in the first message until the test lets it go.
class gate : public troupe::actor<gate> {
 public:
  using handles = troupe::handles<block, count_me>;
  gate(std::latch* entered, std::latch* release, std::latch* stopped, int* handled)
      : entered_(entered), release_(release), stopped_(stopped), handled_(handled) {}

  void handle(block) {
    entered_->count_down();
    release_->wait();
  }
  int handle(count_me) { return ++*handled_; }
  void post_stop(const troupe::exit_reason& why) {
    reason_ = why.to_string();
    EXPECT_EQ(reason_, "normal");
    stopped_->count_down();
  }

 private:
  std::latch* entered_;
  std::latch* release_;
  std::latch* stopped_;
  int* handled_;
  std::string reason_;
};

TEST(mailbox, a_stop_overtakes_a_full_mailbox_on_real_threads) {
  troupe::testing::watchdog guard("mailbox.a_stop_overtakes_a_full_mailbox_on_real_threads");
  troupe::system sys(troupe::system_config{.workers = 2});
  std::latch entered(1), release(1), stopped(1);
  int handled = 0;
  auto g = sys.spawn<gate>(&entered, &release, &stopped, &handled).value();
  g.tell(block{});
  entered.wait();  // the actor is now inside its current message
  std::vector<troupe::response<int>> asks;
  for (int i = 0; i < 10'000; ++i) g.tell(count_me{});
  for (int i = 0; i < 10; ++i) asks.push_back(g.ask(count_me{}, 60s));
  g.stop();
  release.count_down();
  stopped.wait();
  EXPECT_EQ(handled, 0) << "the stop came right after the current message";
  for (auto& a : asks) EXPECT_EQ(a.get().error().code(), errc::actor_not_found);
  EXPECT_TRUE(sys.shutdown(5s).clean());
  EXPECT_EQ(sys.dead_letters(), 10'000u);
}

}  // namespace
