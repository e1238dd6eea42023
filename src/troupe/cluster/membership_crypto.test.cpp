#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "troupe/cluster/gossip_crypto.hpp"
#include "troupe/cluster/membership.hpp"
#include "troupe/cluster/swim_messages.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

// Membership with gossip encryption on the simulated network: an encrypted
// cluster works, strangers without the key change nothing, replays and
// duplicates are dropped and counted, and keys rotate without a false
// suspicion.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;

gossip_key key_from(std::uint8_t seed) {
  gossip_key k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(seed * 37 + i);
  return k;
}

/// Encryption with a keyring of its own (as each process has) holding `k`.
gossip_encryption encrypted(const gossip_key& k, std::string cluster_name = "prod") {
  return gossip_encryption{std::make_shared<gossip_keyring>(k), std::move(cluster_name)};
}

struct datagram {
  std::string from;
  std::vector<std::byte> bytes;
};

/// Wraps a host's transport and records every datagram its socket sends and
/// receives. inject() hands a recorded datagram to the socket's owner again,
/// as if the network delivered it once more (an attacker replaying a
/// captured packet with its sender's address).
class tap final : public transport {
 public:
  explicit tap(std::shared_ptr<transport> inner) : inner_(std::move(inner)) {}

  result<std::string> listen(std::string_view address, accept_fn on_accept) override {
    return inner_->listen(address, std::move(on_accept));
  }
  void dial(std::string_view address, dial_fn done) override {
    inner_->dial(address, std::move(done));
  }
  void stop() noexcept override { inner_->stop(); }
  result<std::shared_ptr<datagram_socket>> bind(std::string_view address,
                                                datagram_fn on_datagram) override {
    deliver_ = on_datagram;
    auto s = inner_->bind(address,
                          [this, on_datagram](std::string_view from, std::span<const std::byte> d) {
                            received.push_back(datagram{std::string(from), {d.begin(), d.end()}});
                            on_datagram(from, d);
                          });
    if (!s) return s.error();
    return std::shared_ptr<datagram_socket>(std::make_shared<socket>(std::move(*s), *this));
  }
  void inject(const datagram& d) { deliver_(d.from, d.bytes); }

  std::vector<datagram> sent;  // `from` holds the destination here
  std::vector<datagram> received;

 private:
  class socket final : public datagram_socket {
   public:
    socket(std::shared_ptr<datagram_socket> inner, tap& t) : inner_(std::move(inner)), tap_(t) {}
    result<void> send_to(std::string_view address, std::span<const std::byte> data) override {
      tap_.sent.push_back(datagram{std::string(address), {data.begin(), data.end()}});
      return inner_->send_to(address, data);
    }
    [[nodiscard]] std::string local_address() const override { return inner_->local_address(); }
    void close() noexcept override { inner_->close(); }

   private:
    std::shared_ptr<datagram_socket> inner_;
    tap& tap_;
  };

  std::shared_ptr<transport> inner_;
  datagram_fn deliver_;
};

/// Members m0, m1, ... on the simulated network, each joined through m0
/// with encryption of its own choosing, each behind a tap.
struct secure_cluster {
  explicit secure_cluster(std::uint64_t seed = 1) : rt(seed), net(rt) {}
  ~secure_cluster() {
    for (auto& m : members)
      if (m) m->stop();
  }

  std::size_t add(gossip_encryption enc, swim_config swim = swim_config::lan()) {
    const std::size_t i = members.size();
    taps.push_back(std::make_shared<tap>(net.host(name(i))));
    membership_config c;
    c.name = name(i);
    c.listen = name(i) + ":7946";
    if (i != 0) c.seeds = {"m0:7946"};
    c.swim = swim;
    c.encryption = std::move(enc);
    auto m = membership::start(rt.clock(), rt.random(), *taps.back(), c);
    EXPECT_TRUE(m) << m.error().message();
    members.push_back(m ? std::move(*m) : nullptr);
    events.emplace_back();
    auto* log = &events.back();
    if (members.back())
      members.back()->subscribe([log](const member_event& e) { log->push_back(e); });
    return i;
  }
  static std::string name(std::size_t i) { return "m" + std::to_string(i); }

  bool holds(std::size_t observer, std::size_t subject, member_state s) {
    auto m = members[observer]->find(members[subject]->self());
    return m && m->state == s;
  }
  bool all_alive(const std::vector<std::size_t>& who) {
    for (std::size_t i : who)
      for (std::size_t j : who)
        if (i != j && !holds(i, j, member_state::alive)) return false;
    return true;
  }
  template <class Pred>
  bool run_until(Pred p, duration limit) {
    return rt.advance_until(p, limit);
  }
  /// Events at `observer` about member `name` (any kind when `only_bad` is
  /// false; else suspect and dead only).
  std::size_t heard(std::size_t observer, const std::string& about, bool only_bad = false) {
    std::size_t n = 0;
    for (const auto& e : events[observer])
      if (e.member.key.name == about && (!only_bad || e.what == member_event::kind::suspect ||
                                         e.what == member_event::kind::dead))
        ++n;
    return n;
  }
  /// Suspect and dead events at any member about any member.
  std::size_t false_alarms() {
    std::size_t n = 0;
    for (std::size_t i = 0; i < events.size(); ++i)
      for (std::size_t j = 0; j < members.size(); ++j) n += heard(i, name(j), true);
    return n;
  }

  sim::runtime rt;
  sim::network net;
  std::vector<std::shared_ptr<tap>> taps;
  std::vector<std::unique_ptr<membership>> members;
  std::deque<std::vector<member_event>> events;
};

bool contains(const std::vector<std::byte>& hay, std::string_view needle) {
  const auto n = std::as_bytes(std::span(needle));
  return std::search(hay.begin(), hay.end(), n.begin(), n.end()) != hay.end();
}

TEST(membership_crypto, an_encrypted_cluster_forms_and_finds_a_crash_and_hides_its_gossip) {
  secure_cluster c(3);
  const gossip_key k = key_from(1);
  for (int i = 0; i < 5; ++i) c.add(encrypted(k));
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4}); }, 5s));
  EXPECT_EQ(c.members[2]->keyring()->primary(), k);

  const time_point at = c.rt.now();
  c.net.crash("m3");
  ASSERT_TRUE(c.run_until(
      [&] {
        for (std::size_t i : {0, 1, 2, 4})
          if (!c.holds(i, 3, member_state::dead)) return false;
        return true;
      },
      15s));
  EXPECT_LE(c.rt.now() - at, 6s);
  for (std::size_t i : {0, 1, 2, 4}) {
    const swim_stats s = c.members[i]->stats();
    EXPECT_GT(s.packets_received, 0u);
    EXPECT_EQ(s.dropped_unencrypted + s.dropped_unauthentic + s.dropped_replays, 0u) << i;
    EXPECT_EQ(c.heard(i, "m1", true), 0u);
  }
  // Every datagram on the wire is sealed: no member address shows (each
  // plain packet carries its sender's, "mN:7946").
  std::size_t seen = 0, bytes = 0;
  for (const auto& t : c.taps)
    for (const auto& d : t->sent) {
      ++seen;
      bytes += d.bytes.size();
      ASSERT_FALSE(contains(d.bytes, ":7946")) << "plain gossip";
      ASSERT_EQ(static_cast<std::uint8_t>(d.bytes[0]), 0xE2);
    }
  EXPECT_GT(seen, 100u);
  std::printf("%zu sealed packets, %.1f bytes on average, %zu of them the seal's\n", seen,
              static_cast<double>(bytes) / static_cast<double>(seen), gossip_cipher::overhead);
}

TEST(membership_crypto, sealed_packets_still_fit_in_max_packet) {
  // A small budget and many members: gossip packets fill up to it.
  secure_cluster c(5);
  swim_config swim = swim_config::lan();
  swim.max_packet = 200;
  const gossip_key k = key_from(1);
  for (int i = 0; i < 8; ++i) c.add(encrypted(k), swim);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4, 5, 6, 7}); }, 10s));
  c.net.crash("m7");
  c.rt.advance(10s);

  // A spy holding the key opens copies of what went out, to tell full-state
  // syncs (never cut to max_packet) from the rest.
  gossip_cipher spy("prod", std::make_shared<gossip_keyring>(k));
  std::size_t largest = 0, checked = 0;
  for (const auto& t : c.taps)
    for (const auto& d : t->sent) {
      auto plain = spy.open(d.bytes);
      ASSERT_TRUE(plain) << plain.error().message();
      auto p = decode_packet(*plain);
      ASSERT_TRUE(p);
      if (p->kind == packet_kind::sync || p->kind == packet_kind::sync_reply) continue;
      ++checked;
      EXPECT_EQ(d.bytes.size(), plain->size() + gossip_cipher::overhead);
      largest = std::max(largest, d.bytes.size());
    }
  EXPECT_GT(checked, 100u);
  EXPECT_LE(largest, 200u) << "a sealed packet outgrew max_packet";
  EXPECT_GT(largest, 200u - 40u) << "the budget was never filled: the test proves nothing";

  swim.max_packet = gossip_cipher::overhead;
  membership_config bad;
  bad.name = "x";
  bad.listen = "x:7946";
  bad.swim = swim;
  bad.encryption = encrypted(k);
  auto host = c.net.host("x");
  auto r = membership::start(c.rt.clock(), c.rt.random(), *host, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
}

TEST(membership_crypto, members_without_the_key_change_nothing) {
  secure_cluster c(7);
  const gossip_key k = key_from(1);
  for (int i = 0; i < 3; ++i) c.add(encrypted(k));
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2}); }, 5s));

  const std::size_t wrong_key = c.add(encrypted(key_from(2)));
  const std::size_t no_key = c.add(gossip_encryption{});
  const std::size_t other_cluster = c.add(encrypted(k, "staging"));
  c.rt.advance(20s);

  for (std::size_t stranger : {wrong_key, no_key, other_cluster}) {
    const std::string who = secure_cluster::name(stranger);
    for (std::size_t i : {0, 1, 2}) {
      EXPECT_EQ(c.heard(i, who), 0u) << "m" << i << " heard of " << who;
      EXPECT_FALSE(c.members[i]->find(c.members[stranger]->self())) << who;
    }
    EXPECT_EQ(c.members[stranger]->members().size(), 1u) << who << " knows someone";
    EXPECT_TRUE(c.events[stranger].empty()) << who;
  }
  EXPECT_EQ(c.members[0]->members().size(), 3u);
  EXPECT_TRUE(c.all_alive({0, 1, 2}));
  EXPECT_EQ(c.false_alarms(), 0u);

  // The seed got their packets, and dropped and counted each.
  const swim_stats s = c.members[0]->stats();
  EXPECT_GE(s.dropped_unauthentic, 10u) << "wrong key and other cluster name";
  EXPECT_GE(s.dropped_unencrypted, 5u) << "no key";
  EXPECT_EQ(s.dropped_replays, 0u);
  const swim_stats plain = c.members[no_key]->stats();
  EXPECT_EQ(plain.dropped_unencrypted, 0u) << "no encryption, no counting";
}

TEST(membership_crypto, a_replayed_packet_changes_nothing) {
  for (const bool encrypt : {true, false}) {
    SCOPED_TRACE(encrypt ? "encrypted" : "plain (the control)");
    secure_cluster c(9);
    for (int i = 0; i < 4; ++i) c.add(encrypt ? encrypted(key_from(1)) : gossip_encryption{});
    ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3}); }, 5s));
    c.rt.advance(15s);

    // Every packet m1 has received so far, pings and acks among them, arrives
    // again from its sender's address. Time stands still meanwhile, so all
    // that changes is what the replays cause.
    const std::vector<datagram> captured = c.taps[1]->received;
    ASSERT_GT(captured.size(), 50u);
    const swim_stats before = c.members[1]->stats();
    const auto members_before = c.members[1]->members();
    const std::size_t sent_before = c.taps[1]->sent.size();
    const std::size_t events_before = c.events[1].size();
    for (const datagram& d : captured) c.taps[1]->inject(d);
    const swim_stats after = c.members[1]->stats();

    if (encrypt) {
      EXPECT_EQ(after.dropped_replays - before.dropped_replays, captured.size());
      EXPECT_EQ(after.packets_received, before.packets_received);
      EXPECT_EQ(after.packets_sent, before.packets_sent);
      EXPECT_EQ(c.taps[1]->sent.size(), sent_before) << "a replayed ping was answered";
      EXPECT_EQ(c.events[1].size(), events_before);
      const auto members_after = c.members[1]->members();
      ASSERT_EQ(members_after.size(), members_before.size());
      for (std::size_t i = 0; i < members_after.size(); ++i) {
        EXPECT_EQ(members_after[i].state, members_before[i].state);
        EXPECT_EQ(members_after[i].incarnation, members_before[i].incarnation);
      }
    } else {
      // Without encryption the same replays reach the engine, and the pings
      // among them are answered.
      EXPECT_EQ(after.packets_received - before.packets_received, captured.size());
      EXPECT_GT(c.taps[1]->sent.size(), sent_before);
    }
    c.rt.advance(5s);
    EXPECT_TRUE(c.all_alive({0, 1, 2, 3}));
    EXPECT_EQ(c.false_alarms(), 0u);
  }
}

TEST(membership_crypto, duplicated_datagrams_are_dropped_as_replays_and_the_cluster_works) {
  secure_cluster c(11);
  c.net.options().datagram_duplicate = 0.10;
  const gossip_key k = key_from(1);
  for (int i = 0; i < 5; ++i) c.add(encrypted(k));
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4}); }, 5s));
  c.rt.advance(60s);
  EXPECT_TRUE(c.all_alive({0, 1, 2, 3, 4}));
  EXPECT_EQ(c.false_alarms(), 0u);

  std::uint64_t replays = 0, accepted = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    const swim_stats s = c.members[i]->stats();
    EXPECT_EQ(s.dropped_unauthentic + s.dropped_unencrypted, 0u);
    EXPECT_GT(s.dropped_replays, 0u) << "m" << i;
    replays += s.dropped_replays;
    accepted += s.packets_received;
  }
  // About one in ten delivered datagrams is a copy.
  const double share = static_cast<double>(replays) / static_cast<double>(replays + accepted);
  EXPECT_GT(share, 0.05);
  EXPECT_LT(share, 0.15);

  c.net.crash("m2");
  ASSERT_TRUE(c.run_until(
      [&] {
        for (std::size_t i : {0, 1, 3, 4})
          if (!c.holds(i, 2, member_state::dead)) return false;
        return true;
      },
      15s));
}

TEST(membership_crypto, keys_rotate_while_running_without_a_false_suspicion) {
  secure_cluster c(13);
  const gossip_key old_key = key_from(1), new_key = key_from(2);
  std::vector<std::shared_ptr<gossip_keyring>> rings;
  for (int i = 0; i < 5; ++i) {
    auto enc = encrypted(old_key);
    rings.push_back(enc.keys);
    c.add(std::move(enc));
  }
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2, 3, 4}); }, 5s));
  ASSERT_EQ(c.members[3]->keyring(), rings[3]);

  // One member at a time, a few probe rounds apart, as an operator would
  // roll it out: install everywhere, then use everywhere, then remove.
  for (auto& r : rings) {
    r->install(new_key);
    c.rt.advance(2s);
  }
  for (auto& r : rings) {
    ASSERT_TRUE(r->use(new_key));
    c.rt.advance(2s);
  }
  for (auto& r : rings) {
    ASSERT_TRUE(r->remove(old_key));
    c.rt.advance(2s);
  }
  c.rt.advance(20s);

  EXPECT_EQ(c.false_alarms(), 0u);
  EXPECT_TRUE(c.all_alive({0, 1, 2, 3, 4}));
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(rings[i]->keys(), std::vector<gossip_key>{new_key});
    const swim_stats s = c.members[i]->stats();
    EXPECT_EQ(s.dropped_unauthentic + s.dropped_unencrypted + s.dropped_replays, 0u) << i;
  }
  // Only the new key opens the cluster's packets now.
  const std::size_t late = c.add(encrypted(old_key));
  c.rt.advance(5s);
  EXPECT_EQ(c.members[late]->members().size(), 1u);
  EXPECT_GT(c.members[0]->stats().dropped_unauthentic, 0u);
}

TEST(membership_crypto, switching_before_everyone_installed_the_key_is_seen_in_the_counters) {
  secure_cluster c(15);
  const gossip_key old_key = key_from(1), new_key = key_from(2);
  std::vector<std::shared_ptr<gossip_keyring>> rings;
  for (int i = 0; i < 3; ++i) {
    auto enc = encrypted(old_key);
    rings.push_back(enc.keys);
    c.add(std::move(enc));
  }
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2}); }, 5s));

  // m0 seals with a key nobody else holds: they drop all it says.
  rings[0]->install(new_key);
  ASSERT_TRUE(rings[0]->use(new_key));
  ASSERT_TRUE(c.run_until([&] { return c.members[1]->stats().dropped_unauthentic > 5; }, 3s));
  // Installing it everywhere mends the cluster.
  for (std::size_t i : {1, 2}) rings[i]->install(new_key);
  ASSERT_TRUE(c.run_until([&] { return c.all_alive({0, 1, 2}); }, 15s));
}

}  // namespace
}  // namespace troupe::cluster
