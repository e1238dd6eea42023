#include "troupe/core/output_port.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

// Output ports on the deterministic runtime: fan-out in order, both overflow
// policies, automatic removal of ended subscribers.

namespace port_test {

using namespace std::chrono_literals;
using troupe::errc;

struct tick {
  static constexpr std::string_view type_name = "test.port.tick";
  int n = 0;
};

/// What a subscriber saw: ticks, then maybe a drop notice.
struct seen {
  std::vector<int> ticks;
  std::vector<troupe::port_dropped> drops;
};

/// Handles ticks at once.
class fast : public troupe::actor<fast> {
 public:
  using handles = troupe::handles<tick, troupe::port_dropped>;
  explicit fast(seen* s) : s_(s) {}
  void handle(tick t) { s_->ticks.push_back(t.n); }
  void handle(troupe::port_dropped d) { s_->drops.push_back(d); }

 private:
  seen* s_;
};

/// Takes 10 ms (virtual) per tick; one at a time.
class slow : public troupe::actor<slow> {
 public:
  using handles = troupe::handles<tick, troupe::port_dropped>;
  explicit slow(seen* s) : s_(s) {}
  troupe::task<void> handle(tick t) {
    co_await sleep_for(10ms);
    s_->ticks.push_back(t.n);
  }
  void handle(troupe::port_dropped d) { s_->drops.push_back(d); }

 private:
  seen* s_;
};

/// Handles ticks but not port_dropped.
class plain : public troupe::actor<plain> {
 public:
  using handles = troupe::handles<tick>;
  void handle(tick) {}
};

TEST(output_port, every_subscriber_gets_every_message_in_order) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  seen a, b;
  troupe::output_port<tick> port;
  ASSERT_TRUE(port.subscribe(sys.spawn<fast>(&a).value()));
  ASSERT_TRUE(port.subscribe(sys.spawn<fast>(&b).value()));
  EXPECT_EQ(port.subscribers(), 2u);
  for (int i = 1; i <= 5; ++i) {
    troupe::publish_result r = port.publish(tick{i});
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.delivered, 2u);
    EXPECT_EQ(r.seq, static_cast<std::uint64_t>(i));
  }
  rt.run();
  EXPECT_EQ(a.ticks, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(b.ticks, a.ticks);
}

TEST(output_port, back_pressure_skips_a_full_subscriber_and_says_so) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  seen f, s;
  troupe::output_port<tick> port(troupe::port_options{2, troupe::port_overflow::back_pressure});
  ASSERT_TRUE(port.subscribe(sys.spawn<fast>(&f).value()));
  auto slow_ep = sys.spawn<slow>(&s).value();
  ASSERT_TRUE(port.subscribe(slow_ep));

  EXPECT_TRUE(port.publish(tick{1}).ok());
  EXPECT_TRUE(port.publish(tick{2}).ok());
  rt.run();
  EXPECT_EQ(port.backlog(slow_ep.id()), 2u) << "1 is being handled, 2 waits";
  troupe::publish_result third = port.publish(tick{3});
  EXPECT_FALSE(third.ok());
  EXPECT_EQ(third.delivered, 1u);
  EXPECT_EQ(third.full, (std::vector<troupe::actor_id>{slow_ep.id()}));
  EXPECT_EQ(port.subscribers(), 2u) << "back pressure never unsubscribes";

  rt.advance(10ms);  // the slow one finishes tick 1
  EXPECT_EQ(port.backlog(slow_ep.id()), 1u);
  troupe::publish_result retry = port.publish_to(third.full, tick{3});
  EXPECT_TRUE(retry.ok());
  EXPECT_EQ(retry.delivered, 1u);
  rt.advance(100ms);
  EXPECT_EQ(f.ticks, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(s.ticks, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(s.drops.empty());
  EXPECT_EQ(port.backlog(slow_ep.id()), 0u);
}

TEST(output_port, drop_subscriber_unsubscribes_a_full_subscriber_with_a_notice) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  seen f, s;
  troupe::output_port<tick> port(troupe::port_options{2, troupe::port_overflow::drop_subscriber});
  ASSERT_TRUE(port.subscribe(sys.spawn<fast>(&f).value()));
  auto slow_ep = sys.spawn<slow>(&s).value();
  ASSERT_TRUE(port.subscribe(slow_ep));

  (void)port.publish(tick{1});
  (void)port.publish(tick{2});
  rt.run();
  troupe::publish_result third = port.publish(tick{3});
  EXPECT_EQ(third.dropped, (std::vector<troupe::actor_id>{slow_ep.id()}));
  EXPECT_TRUE(third.full.empty());
  EXPECT_EQ(port.subscribers(), 1u);
  EXPECT_TRUE(port.publish(tick{4}).ok());
  rt.advance(100ms);
  EXPECT_EQ(f.ticks, (std::vector<int>{1, 2, 3, 4}));
  // The slow one got 1 and 2, then the notice naming the first it missed.
  EXPECT_EQ(s.ticks, (std::vector<int>{1, 2}));
  ASSERT_EQ(s.drops.size(), 1u);
  EXPECT_EQ(s.drops[0].port, port.id());
  EXPECT_EQ(s.drops[0].first_missed, third.seq);
  // It may subscribe again.
  ASSERT_TRUE(port.subscribe(slow_ep));
  EXPECT_TRUE(port.publish(tick{5}).ok());
  rt.advance(100ms);
  EXPECT_EQ(s.ticks, (std::vector<int>{1, 2, 5}));
}

TEST(output_port, drop_subscriber_requires_subscribers_that_handle_the_notice) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::output_port<tick> drop_port(
      troupe::port_options{4, troupe::port_overflow::drop_subscriber});
  troupe::output_port<tick> pressure_port;
  auto p = sys.spawn<plain>().value();
  troupe::result<void> r = drop_port.subscribe(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_argument);
  EXPECT_TRUE(pressure_port.subscribe(p));
}

TEST(output_port, a_refusing_bounded_mailbox_counts_as_full) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  seen s;
  troupe::output_port<tick> port(troupe::port_options{8, troupe::port_overflow::back_pressure});
  troupe::spawn_options opts;
  opts.mailbox.capacity = 1;
  auto tiny = sys.spawn_with<fast>(opts, &s).value();
  ASSERT_TRUE(port.subscribe(tiny));
  EXPECT_TRUE(port.publish(tick{1}).ok());
  troupe::publish_result second = port.publish(tick{2});
  EXPECT_EQ(second.full, (std::vector<troupe::actor_id>{tiny.id()}));
  EXPECT_EQ(port.backlog(tiny.id()), 1u);
  rt.run();
  EXPECT_EQ(s.ticks, (std::vector<int>{1}));
}

TEST(output_port, ended_subscribers_leave_by_themselves) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  seen a, b;
  troupe::output_port<tick> port;
  auto x = sys.spawn<fast>(&a).value();
  auto y = sys.spawn<fast>(&b).value();
  ASSERT_TRUE(port.subscribe(x));
  ASSERT_TRUE(port.subscribe(y));
  ASSERT_TRUE(port.subscribe(y));  // twice: still one subscription
  EXPECT_EQ(port.subscribers(), 2u);
  x.kill();
  rt.run();
  EXPECT_EQ(port.subscribers(), 1u);
  troupe::publish_result r = port.publish(tick{1});
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.delivered, 1u);
  // An ended actor cannot subscribe; an empty endpoint neither.
  EXPECT_EQ(port.subscribe(x).error(), errc::actor_not_found);
  EXPECT_EQ(port.subscribe(troupe::endpoint<fast>{}).error(), errc::actor_not_found);
  EXPECT_TRUE(port.unsubscribe(y));
  EXPECT_FALSE(port.unsubscribe(y));
  EXPECT_EQ(port.publish(tick{2}).delivered, 0u);
  rt.run();
  EXPECT_EQ(b.ticks, (std::vector<int>{1}));
}

struct subscribe_me {
  static constexpr std::string_view type_name = "test.port.subscribe_me";
  troupe::endpoint<fast> who;
};
struct emit {
  using reply = std::size_t;
  static constexpr std::string_view type_name = "test.port.emit";
  int n = 0;
};

/// Owns a port and publishes from its handlers.
class publisher : public troupe::actor<publisher> {
 public:
  using handles = troupe::handles<subscribe_me, emit>;
  void handle(const subscribe_me& m) { (void)port_.subscribe(m.who); }
  std::size_t handle(emit e) { return port_.publish(tick{e.n}).delivered; }

 private:
  troupe::output_port<tick> port_;
};

TEST(output_port, an_actor_owns_a_port_and_publishes_from_its_handlers) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  seen a;
  auto pub = sys.spawn<publisher>().value();
  pub.tell(subscribe_me{sys.spawn<fast>(&a).value()});
  EXPECT_EQ(pub.ask(emit{7}).get().value(), 1u);
  rt.run();
  EXPECT_EQ(a.ticks, (std::vector<int>{7}));
}

}  // namespace port_test
