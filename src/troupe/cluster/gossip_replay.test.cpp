#include "troupe/cluster/gossip_crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

// The cipher's per-sender anti-replay window (reordering, old packets,
// restarts, the bounded sender table) and key rotation across members.

namespace troupe::cluster {
namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto b = std::as_bytes(std::span<const char>(s.data(), s.size()));
  return {b.begin(), b.end()};
}

std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

gossip_key key_from(std::uint8_t seed) {
  gossip_key k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::byte>(seed * 31 + i);
  return k;
}

std::shared_ptr<gossip_keyring> ring_of(std::uint8_t seed) {
  return std::make_shared<gossip_keyring>(key_from(seed));
}

std::uint64_t counter_of(const std::vector<std::byte>& wire) {
  std::uint64_t v = 0;
  for (std::size_t i = 9; i < 17; ++i) v = (v << 8) | static_cast<std::uint8_t>(wire[i]);
  return v;
}

std::uint64_t rejected(const gossip_crypto_stats& s) {
  return s.rejected_auth + s.rejected_replay + s.rejected_malformed + s.rejected_unencrypted;
}

bool is_replay(const result<std::vector<std::byte>>& r) {
  return !r && r.error().code() == errc::unauthorized && r.error().detail().starts_with("replay");
}

// ---- replays -----------------------------------------------------------------

TEST(gossip_replay, rejects_a_packet_seen_before) {
  gossip_cipher alice("prod", ring_of(1));
  gossip_cipher bob("prod", ring_of(1));

  const auto wire = alice.seal(bytes_of("alive alice 3"));
  ASSERT_TRUE(bob.open(wire));
  for (int i = 0; i < 3; ++i) {
    auto again = bob.open(wire);
    ASSERT_TRUE(is_replay(again)) << (again ? "accepted" : again.error().message());
  }
  EXPECT_EQ(bob.stats().rejected_replay, 3u);
  EXPECT_EQ(bob.stats().opened, 1u);
  // The next packet from the same sender is fine, and only once.
  const auto next = alice.seal(bytes_of("alive alice 4"));
  EXPECT_TRUE(bob.open(next));
  EXPECT_TRUE(is_replay(bob.open(next)));
  EXPECT_TRUE(is_replay(bob.open(wire)));
}

TEST(gossip_replay, accepts_packets_reordered_within_the_window_once_each) {
  gossip_cipher alice("prod", ring_of(1));
  gossip_cipher bob("prod", ring_of(1));

  std::vector<std::vector<std::byte>> sent;
  for (std::uint64_t i = 0; i < gossip_cipher::window; ++i)
    sent.push_back(alice.seal(bytes_of("#" + std::to_string(i))));
  std::mt19937_64 shuffle_rng(7);
  std::shuffle(sent.begin(), sent.end(), shuffle_rng);
  for (const auto& w : sent) {
    auto r = bob.open(w);
    ASSERT_TRUE(r) << "counter " << counter_of(w) << ": " << r.error().message();
  }
  for (const auto& w : sent) EXPECT_TRUE(is_replay(bob.open(w))) << "counter " << counter_of(w);
  EXPECT_EQ(bob.stats().opened, gossip_cipher::window);
  EXPECT_EQ(bob.stats().rejected_replay, gossip_cipher::window);
}

TEST(gossip_replay, rejects_packets_below_the_window) {
  gossip_cipher alice("prod", ring_of(1));
  gossip_cipher bob("prod", ring_of(1));

  std::vector<std::vector<std::byte>> sent;
  for (std::uint64_t i = 0; i < gossip_cipher::window + 10; ++i)
    sent.push_back(alice.seal(bytes_of("x")));
  // Only the newest arrives first (the others were delayed or captured).
  ASSERT_TRUE(bob.open(sent.back()));
  const std::uint64_t top = counter_of(sent.back());
  std::uint64_t too_old = 0;
  for (std::size_t i = 0; i + 1 < sent.size(); ++i) {
    auto r = bob.open(sent[i]);
    if (top - counter_of(sent[i]) >= gossip_cipher::window) {
      ASSERT_TRUE(is_replay(r)) << "counter " << counter_of(sent[i]) << " below the window";
      EXPECT_NE(r.error().detail().find("window"), std::string::npos);
      ++too_old;
    } else {
      ASSERT_TRUE(r) << "counter " << counter_of(sent[i]) << " inside the window";
    }
  }
  EXPECT_EQ(too_old, 10u);
  EXPECT_EQ(bob.stats().rejected_replay, 10u);

  // A jump far ahead clears the window: everything before is now too old.
  for (std::uint64_t i = 0; i < 5 * gossip_cipher::window; ++i) (void)alice.seal({});
  ASSERT_TRUE(bob.open(alice.seal({})));
  for (const auto& w : sent) EXPECT_TRUE(is_replay(bob.open(w)));
}

TEST(gossip_replay, accepts_a_restarted_sender_and_keeps_senders_apart) {
  const auto ring = ring_of(1);
  auto alice = std::make_unique<gossip_cipher>("prod", ring);
  gossip_cipher carol("prod", ring);
  gossip_cipher bob("prod", ring);

  for (int i = 0; i < 100; ++i) ASSERT_TRUE(bob.open(alice->seal(bytes_of("alice"))));
  // Another sender's low counters are not below alice's window.
  ASSERT_TRUE(bob.open(carol.seal(bytes_of("carol 1"))));

  // Alice restarts: a new life, a new sender id, counters from 1 again.
  const auto old_life = alice->seal(bytes_of("old life"));
  alice = std::make_unique<gossip_cipher>("prod", ring);
  const auto first = alice->seal(bytes_of("new life"));
  EXPECT_EQ(counter_of(first), 1u);
  auto r = bob.open(first);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(text_of(*r), "new life");
  EXPECT_TRUE(bob.open(old_life)) << "the old life's packet was never seen";
  EXPECT_TRUE(is_replay(bob.open(old_life)));
  EXPECT_EQ(bob.senders(), 3u);
}

TEST(gossip_replay, tracks_a_bounded_number_of_senders_evicting_the_least_recent) {
  const auto ring = ring_of(1);
  gossip_cipher bob("prod", ring, 3);
  std::vector<std::unique_ptr<gossip_cipher>> others;
  std::vector<std::vector<std::byte>> first;
  for (int i = 0; i < 3; ++i) {
    others.push_back(std::make_unique<gossip_cipher>("prod", ring));
    first.push_back(others.back()->seal(bytes_of("hello")));
    ASSERT_TRUE(bob.open(first.back()));
  }
  EXPECT_EQ(bob.senders(), 3u);
  // Sender 0 is heard again, so sender 1 is now the least recently heard.
  ASSERT_TRUE(bob.open(others[0]->seal(bytes_of("again"))));

  for (int i = 0; i < 50; ++i) {
    gossip_cipher stranger("prod", ring);
    ASSERT_TRUE(bob.open(stranger.seal(bytes_of("hi"))));
    EXPECT_LE(bob.senders(), 3u);
    if (i == 0) {
      // Sender 1 went first; 0 and 2 are still remembered.
      EXPECT_TRUE(is_replay(bob.open(first[0])));
      EXPECT_TRUE(is_replay(bob.open(first[2])));
    }
  }
  EXPECT_EQ(bob.senders(), 3u);
  EXPECT_EQ(bob.stats().senders_evicted, 50u);
  // An evicted sender is a stranger again: its next packet is accepted.
  EXPECT_TRUE(bob.open(others[1]->seal(bytes_of("still here"))));

  // Forgeries never take a place: a flood under a wrong key evicts nobody.
  gossip_cipher mallory("prod", ring_of(9));
  const auto evicted = bob.stats().senders_evicted;
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(bob.open(mallory.seal(bytes_of("x"))));
  EXPECT_EQ(bob.stats().senders_evicted, evicted);
  EXPECT_EQ(bob.stats().rejected_auth, 1000u);
}

// ---- rotation ----------------------------------------------------------------

struct member {
  explicit member(const gossip_key& k)
      : keys(std::make_shared<gossip_keyring>(k)), cipher("prod", keys) {}
  std::shared_ptr<gossip_keyring> keys;
  gossip_cipher cipher;
};

/// Sends one packet from every member to every other; returns how many were
/// not accepted with their payload intact.
int exchange_all(std::vector<std::unique_ptr<member>>& members) {
  int failures = 0;
  for (std::size_t from = 0; from < members.size(); ++from) {
    for (std::size_t to = 0; to < members.size(); ++to) {
      if (from == to) continue;
      const auto payload = bytes_of("from " + std::to_string(from) + " to " + std::to_string(to));
      auto r = members[to]->cipher.open(members[from]->cipher.seal(payload));
      if (!r || *r != payload) ++failures;
    }
  }
  return failures;
}

TEST(gossip_rotation, install_use_remove_across_the_cluster_loses_no_packet) {
  const gossip_key old_key = key_from(1), new_key = key_from(2);
  std::vector<std::unique_ptr<member>> members;
  for (int i = 0; i < 3; ++i) members.push_back(std::make_unique<member>(old_key));
  ASSERT_EQ(exchange_all(members), 0);

  // Each step rolls out one member at a time, with gossip flowing in between.
  for (auto& m : members) {
    m->keys->install(new_key);
    ASSERT_EQ(exchange_all(members), 0) << "after an install";
  }
  for (auto& m : members) {
    ASSERT_TRUE(m->keys->use(new_key));
    ASSERT_EQ(exchange_all(members), 0) << "after a use";
  }
  for (auto& m : members) {
    ASSERT_TRUE(m->keys->remove(old_key));
    ASSERT_EQ(exchange_all(members), 0) << "after a remove";
  }
  for (auto& m : members) {
    EXPECT_EQ(m->keys->keys(), std::vector<gossip_key>{new_key});
    EXPECT_EQ(rejected(m->cipher.stats()), 0u);
    EXPECT_EQ(m->cipher.stats().opened, 2u * (1 + 3 * 3));
  }

  // A member that missed the rotation can neither read nor be read.
  member straggler(old_key);
  auto in = straggler.cipher.open(members[0]->cipher.seal(bytes_of("to straggler")));
  ASSERT_FALSE(in);
  EXPECT_EQ(in.error().code(), errc::unauthorized);
  EXPECT_EQ(straggler.cipher.stats().rejected_auth, 1u);
  auto out = members[1]->cipher.open(straggler.cipher.seal(bytes_of("from straggler")));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), errc::unauthorized);
  EXPECT_EQ(members[1]->cipher.stats().rejected_auth, 1u);
}

TEST(gossip_rotation, a_member_with_only_the_new_key_cannot_read_the_old) {
  member old_only(key_from(1));
  member new_only(key_from(2));
  member both_keys(key_from(1));
  both_keys.keys->install(key_from(2));

  EXPECT_FALSE(new_only.cipher.open(old_only.cipher.seal(bytes_of("old"))));
  EXPECT_EQ(new_only.cipher.stats().rejected_auth, 1u);
  EXPECT_FALSE(old_only.cipher.open(new_only.cipher.seal(bytes_of("new"))));
  EXPECT_EQ(old_only.cipher.stats().rejected_auth, 1u);
  // Holding both, a member reads either (primary first, then the rest).
  EXPECT_TRUE(both_keys.cipher.open(old_only.cipher.seal(bytes_of("old"))));
  EXPECT_TRUE(both_keys.cipher.open(new_only.cipher.seal(bytes_of("new"))));
  // ... and seals with its primary only.
  EXPECT_TRUE(old_only.cipher.open(both_keys.cipher.seal(bytes_of("x"))));
  EXPECT_FALSE(new_only.cipher.open(both_keys.cipher.seal(bytes_of("x"))));
}

TEST(gossip_rotation, keys_change_on_another_thread_while_packets_flow) {
  const gossip_key a = key_from(1), b = key_from(2);
  member sender(a);
  member receiver(a);
  receiver.keys->install(b);  // opens both, whichever the sender uses

  std::atomic<bool> done{false};
  std::atomic<int> rotations{0};
  std::thread rotator([&] {
    // Bounded: at most this many rounds, or until the packets are through.
    for (int i = 0; i < 200'000 && !done.load(); ++i) {
      sender.keys->install(b);
      (void)sender.keys->use(b);
      (void)sender.keys->use(a);
      (void)sender.keys->remove(b);
      rotations.fetch_add(1);
    }
  });
  int failures = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto payload = bytes_of("packet " + std::to_string(i));
    auto r = receiver.cipher.open(sender.cipher.seal(payload));
    if (!r || *r != payload) ++failures;
  }
  done = true;
  rotator.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(rotations.load(), 0);
  EXPECT_EQ(sender.keys->keys(), std::vector<gossip_key>{a});
}

}  // namespace
}  // namespace troupe::cluster
