#include "troupe/cluster/cluster.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "troupe/cluster/gossip_crypto.hpp"
#include "troupe/cluster/testing/test_cluster.hpp"

// Nodes that are cluster members: sessions join by themselves, a dead member
// loses its session, and a reset tells membership at once.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using net::node_testing::counter;
using net::node_testing::echo;
using testing::sim_cluster;
using testing::test_cluster;

TEST(cluster, a_node_that_joined_through_one_seed_reaches_actors_on_every_node) {
  sim_cluster c(test_cluster(4));
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.full_mesh({0, 1, 2, 3});
      },
      10s))
      << "sessions did not join by themselves";
  // c3 only knew c0; it reaches an actor on c2 by lookup and ask.
  auto target = c.sys(2).spawn<counter>().value();
  ASSERT_TRUE(c.sys(2).receptionist().check_in("svc/echo", target));
  auto found = c.node(3).lookup<counter>("c2", "svc/echo");
  ASSERT_TRUE(c.run_until([&] { return found.ready(); }, 5s));
  auto ep = std::move(found).get();
  ASSERT_TRUE(ep) << ep.error().message();
  echo hello{"over the cluster"};
  auto reply = ep->ask(hello);
  ASSERT_TRUE(c.run_until([&] { return reply.ready(); }, 5s));
  auto text = std::move(reply).get();
  ASSERT_TRUE(text) << text.error().message();
  EXPECT_EQ(*text, "echo: over the cluster");
}

TEST(cluster, a_crashed_member_loses_its_sessions_and_asks_to_it_end_with_node_down) {
  sim_cluster c(test_cluster(4, 3));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2, 3}); }, 10s));
  auto target = c.sys(1).spawn<counter>().value();
  ASSERT_TRUE(c.sys(1).receptionist().check_in("svc/nap", target));
  auto found = c.node(2).lookup<counter>("c1", "svc/nap");
  ASSERT_TRUE(c.run_until([&] { return found.ready(); }, 5s));
  auto ep = std::move(found).get();
  ASSERT_TRUE(ep);
  net::node_testing::nap long_nap{60'000};
  auto pending = ep->ask(long_nap, 120s);
  c.advance(100ms);
  c.freeze(1);  // silent: no reset, only membership can tell
  ASSERT_TRUE(c.run_until([&] { return pending.ready(); }, 15s)) << "the ask outlived the member";
  auto r = std::move(pending).get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::node_down);
  ASSERT_TRUE(c.run_until([&] { return c.sees(2, 1, member_state::dead); }, 10s));
}

TEST(cluster, a_member_that_leaves_is_left_not_dead) {
  sim_cluster c(test_cluster(3, 5));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  c.member(2).leave();
  ASSERT_TRUE(c.run_until([&] { return c.sees(0, 2, member_state::left); }, 5s));
}

// Sends `updates` to `to` as gossip datagrams from a socket of its own on
// `host` (a sender that is not a member), in packets of at most 200 updates.
void inject(sim_cluster& c, const std::string& host, const std::string& to,
            const std::vector<member_update>& updates) {
  auto sender = c.network().host(host);
  auto sock = sender->bind(host + ":7946", [](std::string_view, std::span<const std::byte>) {});
  ASSERT_TRUE(sock);
  for (std::size_t at = 0; at < updates.size(); at += 200) {
    packet p;
    p.kind = packet_kind::gossip;
    p.sender = member_key{host, 1};
    p.sender_address = host + ":7946";
    p.updates.assign(
        updates.begin() + static_cast<std::ptrdiff_t>(at),
        updates.begin() + static_cast<std::ptrdiff_t>(std::min(at + 200, updates.size())));
    std::vector<std::byte> bytes;
    encode(p, bytes);
    auto sent = (*sock)->send_to(to, bytes);
    ASSERT_TRUE(sent) << sent.error().message();
  }
  c.advance(10ms);
}

TEST(cluster, a_full_state_larger_than_any_datagram_travels_whole_over_the_node_session) {
  auto cfg = test_cluster(2, 9);
  cfg.cluster_setup = [](std::size_t, cluster_config& cc) { cc.swim.sync_interval = 1s; };
  sim_cluster c(cfg);
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1}); }, 10s));
  // c0 hears of 1,000 dead members with long names: its full state is
  // about 100 kB, more than a datagram carries (max_datagram_size).
  std::vector<member_update> dead;
  for (int i = 0; i < 1000; ++i) {
    member_update u;
    u.key = member_key{"a-gone-" + std::to_string(i) + std::string(60, 'x'), 1};
    u.address = "a-gone:1";
    u.state = member_state::dead;
    dead.push_back(std::move(u));
  }
  inject(c, "a-injector", "c0:7000", dead);
  ASSERT_GE(c.member(0).members().members().size(), 1000U);
  const auto streamed = c.member(1).members().stats().stream_syncs;
  // Within two sync periods c1 holds all of them: gossip alone, a dozen
  // updates a packet, would take far longer.
  ASSERT_TRUE(c.run_until([&] { return c.member(1).members().members().size() >= 1002; }, 2s))
      << "c1 knows " << c.member(1).members().members().size();
  EXPECT_GT(c.member(1).members().stats().stream_syncs + c.member(0).members().stats().stream_syncs,
            streamed);
}

TEST(cluster, a_full_state_on_the_session_counts_only_in_its_senders_own_name) {
  sim_cluster c(test_cluster(3, 13));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  ASSERT_TRUE(c.all_see({0}, 1, member_state::alive));
  const swim_stats before = c.member(0).members().stats();
  // c2 sends c0 junk, then a sync in c1's name that says c1 is dead.
  const std::vector<std::byte> junk{std::byte{0x53}, std::byte{1}, std::byte{0xff}};
  ASSERT_TRUE(c.node(2).send_channel("c0", 0, cluster::state_channel, junk));
  packet forged;
  forged.kind = packet_kind::sync;
  forged.sender = member_key{"c1", c.node(1).incarnation()};
  forged.sender_address = "c1:7000";
  member_update verdict;
  verdict.key = forged.sender;
  verdict.address = "c1:7000";
  verdict.state = member_state::dead;
  verdict.incarnation = 1000;
  forged.updates.push_back(verdict);
  std::vector<std::byte> bytes;
  encode(forged, bytes);
  ASSERT_TRUE(c.node(2).send_channel("c0", 0, cluster::state_channel, bytes));
  c.advance(100ms);
  const swim_stats after = c.member(0).members().stats();
  EXPECT_EQ(after.bad_packets, before.bad_packets + 1);
  EXPECT_EQ(after.stream_refused, before.stream_refused + 1);
  EXPECT_TRUE(c.all_see({0, 2}, 1, member_state::alive));
  EXPECT_EQ(c.node(0).peers().size(), 2U);  // the sessions stay
}

TEST(cluster, with_gossip_encryption_the_state_on_the_session_is_sealed_as_well) {
  auto keys = std::make_shared<gossip_keyring>(make_gossip_key());
  auto cfg = test_cluster(3, 21);
  cfg.cluster_setup = [&](std::size_t, cluster_config& cc) {
    cc.swim.sync_interval = 1s;
    cc.encryption = {keys, "sealed"};
  };
  sim_cluster c(cfg);
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  c.advance(5s);
  std::uint64_t streamed = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const swim_stats s = c.member(i).members().stats();
    streamed += s.stream_syncs;
    EXPECT_EQ(s.dropped_unencrypted + s.dropped_unauthentic + s.dropped_replays, 0U);
  }
  EXPECT_GE(streamed, 5U);
  // A plain state, even in the session peer's own name, opens nothing.
  packet plain;
  plain.kind = packet_kind::sync;
  plain.sender = member_key{"c1", c.node(1).incarnation()};
  plain.sender_address = "c1:7000";
  std::vector<std::byte> bytes;
  encode(plain, bytes);
  const swim_stats before = c.member(0).members().stats();
  ASSERT_TRUE(c.node(1).send_channel("c0", 0, cluster::state_channel, bytes));
  c.advance(100ms);
  const swim_stats after = c.member(0).members().stats();
  EXPECT_EQ(after.dropped_unencrypted, before.dropped_unencrypted + 1);
}

TEST(cluster, a_node_that_does_not_listen_cannot_be_a_member) {
  sim::runtime rt;
  sim::network net(rt);
  system sys(rt.config());
  net::node_config cfg;
  cfg.name = "quiet";
  cfg.cookie = "cluster-secret";
  auto host = net.host("quiet");
  auto nd = net::node::start(sys, cfg, net::node_testing::test_types(), host);
  ASSERT_TRUE(nd);
  auto c = cluster::start(rt.clock(), rt.random(), *host, **nd, {});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), errc::invalid_argument);
  (*nd)->stop();
  sys.shutdown(1s);
}

}  // namespace
}  // namespace troupe::cluster
