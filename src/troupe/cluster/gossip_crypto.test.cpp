#include "troupe/cluster/gossip_crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// Gossip keys, keyrings and the cipher: key text, rotation steps, sealing,
// and every way a packet fails to open. Replays: gossip_replay.test.cpp.

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

std::uint64_t sender_of(const std::vector<std::byte>& wire) {
  std::uint64_t v = 0;
  for (std::size_t i = 1; i < 9; ++i) v = (v << 8) | static_cast<std::uint8_t>(wire[i]);
  return v;
}

std::uint64_t counter_of(const std::vector<std::byte>& wire) {
  std::uint64_t v = 0;
  for (std::size_t i = 9; i < 17; ++i) v = (v << 8) | static_cast<std::uint8_t>(wire[i]);
  return v;
}

std::uint64_t rejected(const gossip_crypto_stats& s) {
  return s.rejected_auth + s.rejected_replay + s.rejected_malformed + s.rejected_unencrypted;
}

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

TEST(gossip_key_text, a_key_file_has_one_key_per_line_the_first_the_primary) {
  const gossip_key a = key_from(1), b = key_from(2);
  const std::string text =
      "# rotated 2024-05\n\n" + format_gossip_key(a) + "\r\n  " + format_gossip_key(b) + "\n";
  auto keys = parse_gossip_keys(text);
  ASSERT_TRUE(keys) << keys.error().message();
  EXPECT_EQ(*keys, (std::vector<gossip_key>{a, b}));

  auto ring = gossip_keyring::make(*keys);
  ASSERT_TRUE(ring) << ring.error().message();
  EXPECT_EQ((*ring)->primary(), a);
  EXPECT_EQ((*ring)->keys(), (std::vector<gossip_key>{a, b}));
  EXPECT_FALSE(gossip_keyring::make({}));
}

TEST(gossip_key_text, a_bad_key_file_is_refused_naming_the_line_but_not_the_text) {
  const std::string good = format_gossip_key(key_from(1));
  const std::string secretish = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX";
  struct bad_file {
    std::string text;
    std::string says;
  };
  const std::vector<bad_file> bad = {
      {"", "no gossip key"},
      {"# only a comment\n\n", "no gossip key"},
      {good + "\n" + secretish + "\n", "line 2: "},
      {good + "\n\n" + good + "\n", "line 3: a key given twice"},
  };
  for (const auto& f : bad) {
    auto r = parse_gossip_keys(f.text);
    ASSERT_FALSE(r) << "accepted '" << f.text << "'";
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
    EXPECT_NE(r.error().detail().find(f.says), std::string::npos) << r.error().detail();
    EXPECT_EQ(r.error().detail().find("0123456789abcdef"), std::string::npos);
  }
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

TEST(gossip_keyring, assign_sets_every_key_at_once_as_a_reread_key_file_does) {
  const gossip_key a = key_from(1), b = key_from(2), c = key_from(3);
  gossip_keyring ring(a);
  ring.install(b);
  ASSERT_TRUE(ring.assign(std::vector<gossip_key>{c, b, c}));
  EXPECT_EQ(ring.keys(), (std::vector<gossip_key>{c, b}));
  EXPECT_FALSE(ring.contains(a));

  auto none = ring.assign({});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), errc::invalid_argument);
  EXPECT_EQ(ring.keys(), (std::vector<gossip_key>{c, b}));
}

// ---- cipher ------------------------------------------------------------------

TEST(gossip_cipher, round_trips_and_hides_the_payload) {
  gossip_cipher alice("prod", ring_of(1));
  gossip_cipher bob("prod", ring_of(1));

  const auto payload = bytes_of("the quick brown fox jumps over the lazy member list");
  const auto wire = alice.seal(payload);
  EXPECT_EQ(gossip_cipher::overhead, 33u);
  EXPECT_EQ(wire.size(), payload.size() + gossip_cipher::overhead);
  EXPECT_EQ(text_of(wire).find("quick brown fox"), std::string::npos);
  EXPECT_EQ(sender_of(wire), alice.sender_id());
  EXPECT_NE(alice.sender_id(), bob.sender_id());

  auto opened = bob.open(wire);
  ASSERT_TRUE(opened) << opened.error().message();
  EXPECT_EQ(*opened, payload);

  auto empty = bob.open(alice.seal({}));
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_TRUE(empty->empty());

  EXPECT_EQ(alice.stats().sealed, 2u);
  EXPECT_EQ(bob.stats().opened, 2u);
  EXPECT_EQ(rejected(bob.stats()), 0u);
  EXPECT_EQ(bob.senders(), 1u);
}

TEST(gossip_cipher, rejects_a_packet_sealed_under_another_key) {
  gossip_cipher alice("prod", ring_of(1));
  gossip_cipher mallory("prod", ring_of(2));

  auto r = alice.open(mallory.seal(bytes_of("member x is dead")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthorized);
  EXPECT_EQ(alice.stats().rejected_auth, 1u);
  EXPECT_EQ(alice.stats().opened, 0u);
  EXPECT_EQ(alice.senders(), 0u);
}

TEST(gossip_cipher, rejects_a_packet_sealed_for_another_cluster) {
  const auto ring = ring_of(1);
  gossip_cipher a("cluster-a", ring);
  gossip_cipher b("cluster-b", ring);
  gossip_cipher a2("cluster-a", ring);

  const auto wire = a.seal(bytes_of("hello"));
  auto r = b.open(wire);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthorized);
  EXPECT_EQ(b.stats().rejected_auth, 1u);
  EXPECT_TRUE(a2.open(wire));  // same name: fine
}

TEST(gossip_cipher, rejects_every_single_byte_change_header_included) {
  gossip_cipher alice("prod", ring_of(1));
  gossip_cipher bob("prod", ring_of(1));

  const auto wire = alice.seal(bytes_of("suspect bob incarnation 7"));
  for (std::size_t i = 0; i < wire.size(); ++i) {
    for (std::uint8_t flip : {0x01, 0x80, 0xff}) {
      auto bad = wire;
      bad[i] ^= static_cast<std::byte>(flip);
      auto r = bob.open(bad);
      ASSERT_FALSE(r) << "byte " << i << " flipped by " << int(flip) << " was accepted";
      EXPECT_EQ(r.error().code(), errc::unauthorized) << "byte " << i;
    }
  }
  const auto& s = bob.stats();
  EXPECT_EQ(s.opened, 0u);
  EXPECT_EQ(s.rejected_unencrypted, 3u);  // the magic byte
  EXPECT_EQ(s.rejected_auth, 3 * (wire.size() - 1));
  EXPECT_EQ(bob.senders(), 0u) << "a forgery entered the replay table";

  // None of the forgeries (altered counters included) blocks the genuine
  // packet.
  auto genuine = bob.open(wire);
  ASSERT_TRUE(genuine) << genuine.error().message();
  EXPECT_EQ(text_of(*genuine), "suspect bob incarnation 7");
}

TEST(gossip_cipher, rejects_truncated_extended_and_empty_input) {
  gossip_cipher alice("prod", ring_of(1));
  gossip_cipher bob("prod", ring_of(1));

  const auto wire = alice.seal(bytes_of("ack 42"));
  std::uint64_t short_ones = 0, long_ones = 0;
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = bob.open(std::span(wire).first(n));
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
  EXPECT_FALSE(bob.open(longer));

  auto empty = bob.open({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), errc::decode_error);

  const auto& s = bob.stats();
  EXPECT_EQ(s.rejected_malformed, short_ones + 1);
  EXPECT_EQ(s.rejected_auth, long_ones + 1);
  EXPECT_EQ(s.opened, 0u);
  EXPECT_TRUE(bob.open(wire));
}

TEST(gossip_cipher, rejects_unencrypted_packets) {
  gossip_cipher bob("prod", ring_of(1));

  // A plain gossip packet starts with 'S' and version 1.
  auto plain = bytes_of("S\x01\x07 some plaintext gossip, long enough to be a sealed packet");
  auto r = bob.open(plain);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::unauthorized);
  EXPECT_EQ(bob.stats().rejected_unencrypted, 1u);

  // Plaintext that happens to start with the sealed format's magic byte still
  // fails authentication.
  plain[0] = std::byte{0xE2};
  auto m = bob.open(plain);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), errc::unauthorized);
  EXPECT_EQ(bob.stats().rejected_auth, 1u);
  EXPECT_EQ(bob.stats().opened, 0u);
}

TEST(gossip_cipher, counters_grow_by_one_and_never_restart) {
  gossip_cipher alice("prod", ring_of(1));
  std::uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto w = alice.seal(bytes_of("a"));
    EXPECT_EQ(sender_of(w), alice.sender_id());
    ASSERT_EQ(counter_of(w), last + 1);
    last = counter_of(w);
  }
  // A key change does not restart the counter.
  alice.keyring().install(key_from(2));
  ASSERT_TRUE(alice.keyring().use(key_from(2)));
  EXPECT_EQ(counter_of(alice.seal({})), last + 1);

  // Every cipher (every life of a member) draws its own sender id.
  std::set<std::uint64_t> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(gossip_cipher("prod", ring_of(1)).sender_id());
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace troupe::cluster
