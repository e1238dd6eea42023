#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "troupe/net/node.hpp"
#include "troupe/net/testing/two_nodes.hpp"

// Channels (ordered bytes between nodes for the cluster layer) and drop()
// (ending a session at once when the peer is known dead).

namespace troupe::net {
namespace {

using namespace std::chrono_literals;
using namespace node_testing;

std::vector<std::byte> bytes_of(const std::string& s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return std::vector<std::byte>(p, p + s.size());
}

std::string text_of(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

struct received {
  std::string peer;
  std::uint64_t incarnation = 0;
  std::string body;
};

TEST_F(two_nodes, channel_bytes_arrive_in_order_with_the_senders_identity) {
  std::vector<received> got;
  auto nth = [](int i) {
    std::string m = "m";
    m += std::to_string(i);
    return m;
  };
  ASSERT_TRUE(node_b->set_channel(
      3, [&](const std::string& peer, std::uint64_t inc, std::span<const std::byte> body) {
        got.push_back(received{peer, inc, text_of(body)});
      }));
  connect();
  for (int i = 0; i < 50; ++i) {
    auto r = node_a->send_channel("b", 0, 3, bytes_of(nth(i)));
    ASSERT_TRUE(r) << r.error().message();
  }
  // A large body is split into chunks on the wire and arrives whole.
  const std::string big(300000, 'x');
  ASSERT_TRUE(node_a->send_channel("b", node_b->incarnation(), 3, bytes_of(big)));
  rt.advance(100ms);
  ASSERT_EQ(got.size(), 51U);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i].body, nth(i));
    EXPECT_EQ(got[i].peer, "a");
    EXPECT_EQ(got[i].incarnation, node_a->incarnation());
  }
  EXPECT_EQ(got[50].body, big);
}

TEST_F(two_nodes, channel_misuse_fails_with_typed_errors) {
  auto none = node_a->send_channel("b", 0, 1, bytes_of("x"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::node_down);
  connect();
  EXPECT_EQ(node_a->send_channel("b", 0, 0, bytes_of("x")).error().code(), errc::invalid_argument);
  EXPECT_EQ(node_a->send_channel("b", 0, node::max_channel + 1, bytes_of("x")).error().code(),
            errc::invalid_argument);
  EXPECT_EQ(node_a->set_channel(0, {}).error().code(), errc::invalid_argument);
  // Another life of the peer than the one connected: no such session.
  auto wrong = node_a->send_channel("b", node_b->incarnation() + 1, 1, bytes_of("x"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), errc::node_down);
  // A channel nobody listens on is counted, and the session stays.
  const auto before = node_b->stats().undeliverable;
  ASSERT_TRUE(node_a->send_channel("b", 0, 9, bytes_of("nobody")));
  rt.advance(50ms);
  EXPECT_EQ(node_b->stats().undeliverable, before + 1);
  EXPECT_EQ(node_a->peers(), std::vector<std::string>{"b"});
}

TEST_F(two_nodes, a_throwing_channel_handler_does_not_end_the_session) {
  int calls = 0;
  ASSERT_TRUE(
      node_b->set_channel(2, [&](const std::string&, std::uint64_t, std::span<const std::byte>) {
        ++calls;
        throw std::runtime_error("handler bug");
      }));
  connect();
  ASSERT_TRUE(node_a->send_channel("b", 0, 2, bytes_of("1")));
  ASSERT_TRUE(node_a->send_channel("b", 0, 2, bytes_of("2")));
  rt.advance(50ms);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(node_a->peers(), std::vector<std::string>{"b"});
  // Cleared: later frames are undeliverable.
  ASSERT_TRUE(node_b->set_channel(2, {}));
  ASSERT_TRUE(node_a->send_channel("b", 0, 2, bytes_of("3")));
  rt.advance(50ms);
  EXPECT_EQ(calls, 2);
}

TEST_F(two_nodes, drop_ends_pending_asks_and_fires_each_watch_once_at_once) {
  spawn_counter_on_b("svc/counter");
  connect();
  auto ep = node_a->lookup<counter>("b", "svc/counter").get().value();
  std::vector<down> downs;
  auto w = sys_a->watch(ep, [&](const down& d) { downs.push_back(d); });
  rt.advance(5ms);
  net.freeze("b");  // b can no longer answer: only drop() ends the ask soon
  auto pending = ep.ask(echo{"lost"}, 30s);
  const time_point before = rt.now();
  EXPECT_FALSE(node_a->drop("b", node_b->incarnation() + 1, "not this life"));
  EXPECT_TRUE(node_a->drop("b", node_b->incarnation(), "declared dead"));
  auto r = pending.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::node_down);
  EXPECT_LT(rt.now() - before, 100ms);
  rt.advance(5s);
  ASSERT_EQ(downs.size(), 1U);
  EXPECT_EQ(downs[0].reason.what(), exit_reason::kind::node_down);
  EXPECT_FALSE(node_a->drop("b", 0, "again"));
  EXPECT_TRUE(node_a->peers().empty());
}

}  // namespace
}  // namespace troupe::net
