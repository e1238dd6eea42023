#include "troupe/cluster/gossip_crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/sim/manual_clock.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::cluster {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

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

std::array<std::byte, 12> nonce_of(const std::vector<std::byte>& wire) {
  std::array<std::byte, 12> n;
  std::copy_n(wire.begin() + 1, n.size(), n.begin());
  return n;
}

std::uint64_t rejected(const gossip_crypto_stats& s) {
  return s.rejected_auth + s.rejected_replay + s.rejected_malformed + s.rejected_unencrypted +
         s.rejected_overload;
}

/// One member: its own random source and a cipher on a shared (or its own)
/// clock.
struct member {
  member(std::string cluster, gossip_keyring keys, clock& time, std::uint64_t seed,
         duration window = seconds(60), std::size_t cap = gossip_cipher::default_max_remembered)
      : random(seed), cipher(std::move(cluster), std::move(keys), time, random, window, cap) {}
  sim::seeded_random random;
  gossip_cipher cipher;
};

// ---- keys --------------------------------------------------------------------

TEST(gossip_key_text, parses_hex_in_either_case_and_base64) {
  const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  gossip_key expected;
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::byte>(i);

  auto lower = parse_gossip_key(hex);
  ASSERT_TRUE(lower) << lower.error().message();
  EXPECT_EQ(*lower, expected);

  std::string upper = hex;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) {
    return c >= 'a' && c <= 'f' ? static_cast<char>(c - 'a' + 'A') : c;
  });
  auto up = parse_gossip_key("  " + upper + "\n");
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(*up, expected);

  // `printf '\x00\x01...\x1f' | base64`
  const std::string b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  EXPECT_EQ(format_gossip_key(expected), b64);
  auto padded = parse_gossip_key(b64);
  ASSERT_TRUE(padded) << padded.error().message();
  EXPECT_EQ(*padded, expected);
  auto unpadded = parse_gossip_key(std::string_view(b64).substr(0, 43));
  ASSERT_TRUE(unpadded) << unpadded.error().message();
  EXPECT_EQ(*unpadded, expected);

  const gossip_key made = make_gossip_key();
  auto round = parse_gossip_key(format_gossip_key(made));
  ASSERT_TRUE(round);
  EXPECT_EQ(*round, made);
}

TEST(gossip_key_text, rejects_anything_else) {
  const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  const std::string b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  const std::vector<std::string> bad = {
      "",
      "   ",
      hex.substr(0, 63),                                   // one digit short
      hex + "0",                                           // one digit long
      hex.substr(0, 62) + "g1",                            // not a hex digit
      hex.substr(0, 31) + " " + hex.substr(32),            // space inside
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",      // base64 of 31 bytes
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8AAA==",  // of 34 bytes
      b64.substr(0, 42) + "*=",                            // not a base64 digit
      b64.substr(0, 42) + "9=",                            // unused low bits set
      b64.substr(0, 43) + "A",                             // 44 chars without padding
  };
  for (const std::string& text : bad) {
    auto k = parse_gossip_key(text);
    EXPECT_FALSE(k) << "accepted '" << text << "'";
    if (!k) {
      EXPECT_EQ(k.error().code(), errc::invalid_argument);
    }
  }
}

TEST(gossip_key_text, made_keys_differ) {
  std::set<gossip_key> keys;
  for (int i = 0; i < 16; ++i) keys.insert(make_gossip_key());
  EXPECT_EQ(keys.size(), 16u);
}

// ---- keyring -----------------------------------------------------------------

TEST(gossip_keyring, installs_uses_and_removes_keeping_the_primary_first) {
  const gossip_key a = key_from(1), b = key_from(2), c = key_from(3);
  gossip_keyring ring(a);
  EXPECT_EQ(ring.primary(), a);
  ring.install(b);
  ring.install(c);
  ring.install(b);  // again: no change
  EXPECT_EQ(ring.keys(), (std::vector<gossip_key>{a, b, c}));
  EXPECT_EQ(ring.primary(), a);

  ASSERT_TRUE(ring.use(c));
  EXPECT_EQ(ring.primary(), c);
  EXPECT_EQ(ring.keys().front(), c);
  EXPECT_EQ(ring.keys().size(), 3u);

  ASSERT_TRUE(ring.remove(a));
  EXPECT_FALSE(ring.contains(a));
  EXPECT_EQ(ring.keys(), (std::vector<gossip_key>{c, b}));
}

TEST(gossip_keyring, refuses_to_remove_the_primary_or_use_or_remove_an_unknown_key) {
  const gossip_key a = key_from(1), b = key_from(2), unknown = key_from(9);
  gossip_keyring ring(a);
  ring.install(b);

  auto r = ring.remove(a);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_TRUE(ring.contains(a));

  auto u = ring.use(unknown);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code(), errc::invalid_argument);
  EXPECT_EQ(ring.primary(), a);

  auto x = ring.remove(unknown);
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().code(), errc::invalid_argument);
  EXPECT_EQ(ring.keys(), (std::vector<gossip_key>{a, b}));
}

// ---- cipher ------------------------------------------------------------------

TEST(gossip_cipher, round_trips_and_hides_the_payload) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member bob("prod", gossip_keyring(key_from(1)), time, 2);

  const auto payload = bytes_of("the quick brown fox jumps over the lazy member list");
  const auto wire = alice.cipher.seal(payload);
  EXPECT_EQ(wire.size(), payload.size() + gossip_cipher::overhead);
  EXPECT_EQ(text_of(wire).find("quick brown fox"), std::string::npos);

  auto opened = bob.cipher.open(wire);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(*opened, payload);

  auto empty = bob.cipher.open(alice.cipher.seal({}));
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_TRUE(empty->empty());

  EXPECT_EQ(alice.cipher.stats().sealed, 2u);
  EXPECT_EQ(bob.cipher.stats().opened, 2u);
  EXPECT_EQ(rejected(bob.cipher.stats()), 0u);
}

TEST(gossip_cipher, rejects_a_packet_sealed_under_another_key) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member mallory("prod", gossip_keyring(key_from(2)), time, 2);

  auto r = alice.cipher.open(mallory.cipher.seal(bytes_of("member x is dead")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthorized);
  EXPECT_EQ(alice.cipher.stats().rejected_auth, 1u);
  EXPECT_EQ(alice.cipher.stats().opened, 0u);
  EXPECT_EQ(alice.cipher.remembered(), 0u);
}

TEST(gossip_cipher, rejects_a_packet_sealed_for_another_cluster) {
  sim::manual_clock time;
  member a("cluster-a", gossip_keyring(key_from(1)), time, 1);
  member b("cluster-b", gossip_keyring(key_from(1)), time, 2);
  member a2("cluster-a", gossip_keyring(key_from(1)), time, 3);

  const auto wire = a.cipher.seal(bytes_of("hello"));
  auto r = b.cipher.open(wire);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthorized);
  EXPECT_EQ(b.cipher.stats().rejected_auth, 1u);
  EXPECT_TRUE(a2.cipher.open(wire));  // same name: fine
}

TEST(gossip_cipher, rejects_every_single_byte_change) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member bob("prod", gossip_keyring(key_from(1)), time, 2);

  const auto wire = alice.cipher.seal(bytes_of("suspect bob incarnation 7"));
  for (std::size_t i = 0; i < wire.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      auto bad = wire;
      bad[i] ^= static_cast<std::byte>(flip);
      auto r = bob.cipher.open(bad);
      ASSERT_FALSE(r) << "byte " << i << " flipped by " << int(flip) << " was accepted";
      EXPECT_EQ(r.error().code(), errc::unauthorized) << "byte " << i;
    }
  }
  const auto& s = bob.cipher.stats();
  EXPECT_EQ(s.opened, 0u);
  EXPECT_EQ(s.rejected_unencrypted, 3u);  // the magic byte
  EXPECT_EQ(s.rejected_auth, 3 * (wire.size() - 1));
  EXPECT_EQ(bob.cipher.remembered(), 0u);

  // None of the forgeries poisoned the replay memory for the genuine packet.
  auto genuine = bob.cipher.open(wire);
  ASSERT_TRUE(genuine) << genuine.error().message();
  EXPECT_EQ(text_of(*genuine), "suspect bob incarnation 7");
}

TEST(gossip_cipher, rejects_truncated_extended_and_empty_input) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member bob("prod", gossip_keyring(key_from(1)), time, 2);

  const auto wire = alice.cipher.seal(bytes_of("ack 42"));
  std::uint64_t short_ones = 0, long_ones = 0;
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = bob.cipher.open(std::span(wire).first(n));
    ASSERT_FALSE(r) << "prefix of " << n << " bytes accepted";
    if (n < gossip_cipher::overhead) {
      EXPECT_EQ(r.error().code(), errc::decode_error) << n;
      ++short_ones;
    } else {
      EXPECT_EQ(r.error().code(), errc::unauthorized) << n;
      ++long_ones;
    }
  }
  auto longer = wire;
  longer.push_back(std::byte{0});
  EXPECT_FALSE(bob.cipher.open(longer));

  auto empty = bob.cipher.open({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), errc::decode_error);

  const auto& s = bob.cipher.stats();
  EXPECT_EQ(s.rejected_malformed, short_ones + 1);
  EXPECT_EQ(s.rejected_auth, long_ones + 1);
  EXPECT_EQ(s.opened, 0u);
  EXPECT_TRUE(bob.cipher.open(wire));
}

TEST(gossip_cipher, rejects_unencrypted_packets) {
  sim::manual_clock time;
  member bob("prod", gossip_keyring(key_from(1)), time, 2);

  // A plain gossip packet starts with 'S' and version 1.
  auto plain = bytes_of("S\x01\x07 some plaintext gossip, long enough to be a sealed packet");
  auto r = bob.cipher.open(plain);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthorized);
  EXPECT_EQ(bob.cipher.stats().rejected_unencrypted, 1u);

  // Plaintext that happens to start with the sealed format's magic byte still
  // fails authentication.
  plain[0] = std::byte{0xE1};
  auto m = bob.cipher.open(plain);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), errc::unauthorized);
  EXPECT_EQ(bob.cipher.stats().rejected_auth, 1u);
  EXPECT_EQ(bob.cipher.stats().opened, 0u);
}

TEST(gossip_cipher, rejects_a_replay_of_the_same_packet) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member bob("prod", gossip_keyring(key_from(1)), time, 2);

  const auto wire = alice.cipher.seal(bytes_of("alive alice 3"));
  ASSERT_TRUE(bob.cipher.open(wire));
  time.set(time.now() + seconds(30));  // still inside the window
  auto again = bob.cipher.open(wire);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), errc::unauthorized);
  EXPECT_TRUE(again.error().detail().starts_with("replay")) << again.error().detail();
  EXPECT_EQ(bob.cipher.stats().rejected_replay, 1u);
  EXPECT_EQ(bob.cipher.stats().opened, 1u);
  // The next packet from the same sender is fine.
  EXPECT_TRUE(bob.cipher.open(alice.cipher.seal(bytes_of("alive alice 4"))));
}

TEST(gossip_cipher, rejects_packets_outside_the_timestamp_window) {
  sim::manual_clock sender_time, receiver_time;
  member alice("prod", gossip_keyring(key_from(1)), sender_time, 1);
  member bob("prod", gossip_keyring(key_from(1)), receiver_time, 2);

  // Exactly at the edge of the window: accepted.
  const auto edge = alice.cipher.seal(bytes_of("edge"));
  receiver_time.set(receiver_time.now() + seconds(60));
  ASSERT_TRUE(bob.cipher.open(edge));

  // Sealed now, delivered (first time ever) a millisecond past the window.
  sender_time.set(receiver_time.now());
  const auto old = alice.cipher.seal(bytes_of("old"));
  receiver_time.set(receiver_time.now() + seconds(60) + milliseconds(1));
  auto r = bob.cipher.open(old);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthorized);
  EXPECT_TRUE(r.error().detail().starts_with("replay")) << r.error().detail();
  EXPECT_EQ(bob.cipher.stats().rejected_replay, 1u);

  // From a sender whose clock runs further ahead than the window.
  sender_time.set(receiver_time.now() + seconds(61));
  auto future = bob.cipher.open(alice.cipher.seal(bytes_of("future")));
  ASSERT_FALSE(future);
  EXPECT_TRUE(future.error().detail().starts_with("replay")) << future.error().detail();
  EXPECT_EQ(bob.cipher.stats().rejected_replay, 2u);

  // Within the window ahead: accepted.
  receiver_time.set(receiver_time.now() + seconds(2));
  EXPECT_TRUE(bob.cipher.open(alice.cipher.seal(bytes_of("soon"))));
  EXPECT_EQ(bob.cipher.stats().opened, 2u);
}

TEST(gossip_cipher, forgets_nonces_once_their_timestamps_leave_the_window) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member bob("prod", gossip_keyring(key_from(1)), time, 2, seconds(10));

  std::vector<std::vector<std::byte>> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(alice.cipher.seal(bytes_of("ping")));
    ASSERT_TRUE(bob.cipher.open(sent.back()));
    time.set(time.now() + milliseconds(100));
  }
  EXPECT_EQ(bob.cipher.remembered(), 20u);

  time.set(time.now() + seconds(11));
  ASSERT_TRUE(bob.cipher.open(alice.cipher.seal(bytes_of("ping"))));
  EXPECT_EQ(bob.cipher.remembered(), 1u);
  // The forgotten packets are still refused, by their timestamps.
  for (const auto& w : sent) {
    auto r = bob.cipher.open(w);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().detail().starts_with("replay"));
  }
  EXPECT_EQ(bob.cipher.stats().rejected_replay, 20u);
}

TEST(gossip_cipher, refuses_new_packets_rather_than_forget_nonces_when_full) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member bob("prod", gossip_keyring(key_from(1)), time, 2, seconds(10), 3);

  std::vector<std::vector<std::byte>> sent;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(alice.cipher.seal(bytes_of("x")));
    ASSERT_TRUE(bob.cipher.open(sent.back()));
  }
  auto full = bob.cipher.open(alice.cipher.seal(bytes_of("x")));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code(), errc::unauthorized);
  EXPECT_EQ(bob.cipher.stats().rejected_overload, 1u);
  for (const auto& w : sent) EXPECT_FALSE(bob.cipher.open(w));  // still remembered
  EXPECT_EQ(bob.cipher.stats().rejected_replay, 3u);

  time.set(time.now() + seconds(11));
  EXPECT_TRUE(bob.cipher.open(alice.cipher.seal(bytes_of("x"))));
}

TEST(gossip_cipher, never_repeats_a_nonce) {
  sim::manual_clock time;
  member alice("prod", gossip_keyring(key_from(1)), time, 1);
  member bob("prod", gossip_keyring(key_from(1)), time, 2);

  std::set<std::array<std::byte, 12>> nonces;
  constexpr int per_member = 20'000;
  for (int i = 0; i < per_member; ++i) {
    nonces.insert(nonce_of(alice.cipher.seal(bytes_of("a"))));
    nonces.insert(nonce_of(bob.cipher.seal(bytes_of("b"))));
  }
  EXPECT_EQ(nonces.size(), 2u * per_member);

  // A key change does not restart the counter either.
  const auto before = nonce_of(alice.cipher.seal({}));
  alice.cipher.keyring().install(key_from(2));
  ASSERT_TRUE(alice.cipher.keyring().use(key_from(2)));
  EXPECT_TRUE(nonces.insert(before).second);
  EXPECT_TRUE(nonces.insert(nonce_of(alice.cipher.seal({}))).second);
}

// ---- rotation ----------------------------------------------------------------

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
  sim::manual_clock time;
  const gossip_key old_key = key_from(1), new_key = key_from(2);
  std::vector<std::unique_ptr<member>> members;
  for (std::uint64_t i = 0; i < 3; ++i)
    members.push_back(std::make_unique<member>("prod", gossip_keyring(old_key), time, 100 + i));
  ASSERT_EQ(exchange_all(members), 0);

  // Each step rolls out one member at a time, with gossip flowing in between.
  for (auto& m : members) {
    m->cipher.keyring().install(new_key);
    ASSERT_EQ(exchange_all(members), 0) << "after an install";
    time.set(time.now() + milliseconds(200));
  }
  for (auto& m : members) {
    ASSERT_TRUE(m->cipher.keyring().use(new_key));
    ASSERT_EQ(exchange_all(members), 0) << "after a use";
    time.set(time.now() + milliseconds(200));
  }
  for (auto& m : members) {
    ASSERT_TRUE(m->cipher.keyring().remove(old_key));
    ASSERT_EQ(exchange_all(members), 0) << "after a remove";
    time.set(time.now() + milliseconds(200));
  }
  for (auto& m : members) {
    EXPECT_EQ(m->cipher.keyring().keys(), std::vector<gossip_key>{new_key});
    EXPECT_EQ(rejected(m->cipher.stats()), 0u);
    EXPECT_EQ(m->cipher.stats().opened, 2u * (1 + 3 * 3));
  }

  // A member that missed the rotation can neither read nor be read.
  member straggler("prod", gossip_keyring(old_key), time, 200);
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
  sim::manual_clock time;
  member old_only("prod", gossip_keyring(key_from(1)), time, 1);
  member new_only("prod", gossip_keyring(key_from(2)), time, 2);
  gossip_keyring both(key_from(1));
  both.install(key_from(2));
  member both_keys("prod", both, time, 3);

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

}  // namespace
}  // namespace troupe::cluster
