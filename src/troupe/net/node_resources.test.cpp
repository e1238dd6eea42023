// What a node holds on to, and for how long: asks whose answer never comes,
// handles of remote actors, bytes queued for a slow peer; and node events
// delivered to an actor. All on the simulated network.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "troupe/net/node.hpp"
#include "troupe/net/testing/two_nodes.hpp"

namespace troupe::net {
namespace {

using namespace std::chrono_literals;
using namespace node_testing;

// ---- asks that ended here while the peer said nothing ----

TEST_F(two_nodes, asks_that_timed_out_here_are_forgotten_while_the_peer_stays_silent) {
  spawn_counter_on_b("svc/counter");
  connect();
  auto ep = node_a->lookup<counter>("b", "svc/counter").get().value();
  ASSERT_EQ(node_a->stats().pending_requests, 0U);

  // b's host freezes: it reads nothing and answers nothing, but the session
  // stays up (for peer_timeout).
  net.freeze("b");
  std::vector<response<std::string>> kept;
  for (int i = 0; i < 1000; ++i) {
    auto r = ep.ask(echo{"?"}, 100ms);
    if (i % 2 == 0) kept.push_back(std::move(r));  // the other half is abandoned
  }
  rt.advance(50ms);
  EXPECT_EQ(node_a->stats().pending_requests, 1000U);

  // The deadlines pass at 100 ms; within a tick after that, nothing is left.
  rt.advance(950ms);
  EXPECT_EQ(node_a->stats().pending_requests, 0U);
  EXPECT_EQ(node_a->peers(), std::vector<std::string>{"b"});  // not by the session's end
  for (auto& r : kept) {
    ASSERT_TRUE(r.ready());
    auto v = r.get();
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code(), errc::timeout);
  }

  // b thaws and answers every request: each answer is late, counted, dropped.
  net.thaw("b");
  rt.advance(100ms);
  EXPECT_EQ(node_a->stats().late_responses, 1000U);
  EXPECT_EQ(node_a->stats().pending_requests, 0U);
  auto fine = ep.ask(echo{"again"}).get();
  ASSERT_TRUE(fine) << fine.error().message();
  EXPECT_EQ(*fine, "echo: again");
}

TEST_F(two_nodes, node_service_requests_that_timed_out_here_are_forgotten_too) {
  spawn_counter_on_b("svc/counter");
  connect();
  net.freeze("b");
  for (int i = 0; i < 100; ++i) (void)node_a->lookup<counter>("b", "svc/counter", 100ms);
  rt.advance(50ms);
  EXPECT_EQ(node_a->stats().pending_requests, 100U);
  rt.advance(950ms);
  EXPECT_EQ(node_a->stats().pending_requests, 0U);
  net.thaw("b");
  rt.advance(100ms);
  EXPECT_EQ(node_a->stats().late_responses, 100U);
}

// ---- one handle per remote actor ----

TEST_F(two_nodes, lookups_of_one_remote_actor_give_equal_endpoints) {
  auto c = spawn_counter_on_b("svc/counter");
  spawn_counter_on_b("svc/other");
  connect();
  auto one = node_a->lookup<counter>("b", "svc/counter").get().value();
  auto two = node_a->lookup<counter>("b", "svc/counter").get().value();
  EXPECT_TRUE(one == two);
  EXPECT_EQ(one.handle().get(), two.handle().get());
  auto other = node_a->lookup<counter>("b", "svc/other").get().value();
  EXPECT_FALSE(one == other);

  // An endpoint that arrives inside a message resolves to the same handle.
  const actor_address where = node_a->resolver().address_of(*one.handle());
  EXPECT_EQ(where.node, "b");
  EXPECT_EQ(where.incarnation, node_b->incarnation());
  EXPECT_TRUE(endpoint<counter>(node_a->resolver().resolve(where)) == one);
  EXPECT_EQ(node_a->stats().remote_actors, 2U);

  // The cache holds no reference: once no endpoint holds the handle, it goes.
  one = {};
  EXPECT_EQ(node_a->stats().remote_actors, 2U);  // `two` still holds it
  two = {};
  EXPECT_EQ(node_a->stats().remote_actors, 1U);
  auto three = node_a->lookup<counter>("b", "svc/counter").get().value();
  auto four = node_a->lookup<counter>("b", "svc/counter").get().value();
  EXPECT_TRUE(three == four);
  EXPECT_EQ(node_a->stats().remote_actors, 2U);

  // A handle outlives its actor while held, and still works (a dead letter
  // there).
  c.stop();
  rt.advance(10ms);
  EXPECT_TRUE(three.tell(add{1}));
  EXPECT_EQ(node_a->stats().remote_actors, 2U);
}

TEST_F(two_nodes, handles_of_remote_actors_go_with_the_last_endpoint) {
  connect();
  std::vector<endpoint<counter>> spawned;
  for (int i = 0; i < 50; ++i) {
    auto ep = node_a->spawn_on<counter>("b", "", i).get();
    ASSERT_TRUE(ep) << ep.error().message();
    spawned.push_back(*ep);
  }
  EXPECT_EQ(node_a->stats().remote_actors, 50U);
  spawned.resize(25);
  EXPECT_EQ(node_a->stats().remote_actors, 25U);

  // The session ends: the handles still held answer node_down, and stay
  // one per actor.
  net.crash("b");
  rt.advance(100ms);
  EXPECT_EQ(spawned[10].tell(add{1}).error(), errc::node_down);
  const actor_address where = node_a->resolver().address_of(*spawned[10].handle());
  EXPECT_TRUE(endpoint<counter>(node_a->resolver().resolve(where)) == spawned[10]);
  spawned.clear();
  EXPECT_EQ(node_a->stats().remote_actors, 0U);
}

TEST_F(two_nodes, a_handle_made_without_a_session_is_shared_while_held) {
  auto h = node_a->resolver().resolve(actor_address{"b", 42, 7});
  ASSERT_TRUE(h);
  EXPECT_EQ(node_a->stats().remote_actors, 1U);
  auto again = node_a->resolver().resolve(actor_address{"b", 42, 7});
  EXPECT_EQ(h.get(), again.get());
  EXPECT_EQ(endpoint<counter>(h).tell(add{1}).error(), errc::node_down);
  h.reset();
  again.reset();
  EXPECT_EQ(node_a->stats().remote_actors, 0U);
}

// ---- back-pressure: bytes queued for a peer that does not read ----

class two_nodes_small_queue : public two_nodes {
 protected:
  static constexpr std::size_t limit = 256 << 10;
  void SetUp() override {
    tweak = [](node_config& c) { c.max_queued_bytes = limit; };
    two_nodes::SetUp();
    net.options().send_buffer = 64 << 10;  // the "socket" holds 64 KiB
  }
};

TEST_F(two_nodes_small_queue, sends_beyond_max_queued_bytes_are_refused_until_the_peer_reads) {
  spawn_counter_on_b("svc/counter");
  connect();
  auto ep = node_a->lookup<counter>("b", "svc/counter").get().value();
  const std::string payload(16 << 10, 'x');

  net.freeze("b");
  std::vector<int> accepted;
  std::optional<int> refused_at;
  for (int i = 0; i < 200 && !refused_at; ++i) {
    send_result r = ep.tell(blob{i, payload});
    if (r) {
      accepted.push_back(i);
    } else {
      ASSERT_EQ(r.error(), errc::mailbox_full);
      refused_at = i;
    }
    rt.advance(10ms);  // the writer moves what the network takes
  }
  ASSERT_TRUE(refused_at) << "no tell was refused";
  // About limit + one message + what the network holds went out.
  EXPECT_GE(accepted.size() * payload.size(), limit);
  EXPECT_LE(accepted.size() * payload.size(), limit + (64 << 10) + 3 * payload.size());
  // Refused again while b stays frozen; asks too.
  EXPECT_EQ(ep.tell(blob{-1, payload}).error(), errc::mailbox_full);
  auto ask = ep.ask(echo{"full?"}).get();
  ASSERT_FALSE(ask);
  EXPECT_EQ(ask.error().code(), errc::mailbox_full);
  // Control traffic is not refused: the session stays up past a few
  // heartbeats.
  rt.advance(1s);
  EXPECT_EQ(node_a->peers(), std::vector<std::string>{"b"});

  net.thaw("b");
  rt.advance(200ms);
  const int next = accepted.back() + 1000;
  ASSERT_TRUE(ep.tell(blob{next, payload}));
  accepted.push_back(next);
  auto seen = ep.ask(total{}, 10s).get();
  ASSERT_TRUE(seen) << seen.error().message();
  EXPECT_EQ(*seen, accepted);  // nothing accepted was lost, in order
}

// ---- node events delivered to an actor ----

struct events_so_far {
  using reply = std::vector<std::string>;
  static constexpr std::string_view type_name = "test.events_so_far";
};

class event_log : public actor<event_log> {
 public:
  using handles = troupe::handles<node_event, events_so_far>;
  void handle(const node_event& e) {
    seen_.push_back(std::string(to_string(e.what)) + " " + e.node + (e.reason.empty() ? "" : "!"));
  }
  std::vector<std::string> handle(const events_so_far&) const { return seen_; }

 private:
  std::vector<std::string> seen_;
};

TEST_F(two_nodes, an_actor_subscribed_to_node_events_gets_them_as_messages) {
  auto log = sys_a->spawn<event_log>().value();
  const auto sub = node_a->subscribe(log);
  connect();
  rt.advance(10ms);
  node_a->disconnect("b:7000");  // no redial after the crash
  net.crash("b");
  rt.advance(100ms);
  auto seen = log.ask(events_so_far{}).get();
  ASSERT_TRUE(seen) << seen.error().message();
  EXPECT_EQ(*seen, (std::vector<std::string>{"connected ", "authenticated b", "disconnected b!"}));

  node_a->unsubscribe(sub);
  node_b.reset();
  sys_b->shutdown(1s);
  sys_b = std::make_unique<system>(rt.config());
  node_b = start_node(*sys_b, "b", "secret");
  connect();
  rt.advance(10ms);
  EXPECT_EQ(log.ask(events_so_far{}).get().value().size(), 3U);  // none after unsubscribe
}

}  // namespace
}  // namespace troupe::net
