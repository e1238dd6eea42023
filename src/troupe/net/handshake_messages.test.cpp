#include "troupe/net/handshake_messages.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace troupe::net {
namespace {

std::string hex(std::span<const std::byte> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::byte x : b) {
    if (!out.empty()) out += ' ';
    out += digits[static_cast<unsigned>(x) >> 4];
    out += digits[static_cast<unsigned>(x) & 0xf];
  }
  return out;
}

hello_message sample_hello() {
  hello_message m;
  m.role = handshake_role::acceptor;
  m.incarnation = 0x0102030405060708;
  for (std::size_t i = 0; i < m.challenge.size(); ++i) m.challenge[i] = std::byte(i);
  m.name.assign(1, 'a');  // (not = "a": a false -Wrestrict in GCC 12)
  return m;
}

// The layout documented in docs/protocol.md, byte by byte.
TEST(HandshakeMessages, HelloBytes) {
  EXPECT_EQ(hex(encode_hello(sample_hello())),
            "01 54 52 50 45 01 00 01 00 01 08 07 06 05 04 03 02 01 "
            "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f "
            "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 01 61 00");
}

TEST(HandshakeMessages, ProofAndRejectBytes) {
  proof_message p;
  p.tag.fill(std::byte{0xab});
  const auto bytes = encode_proof(p);
  ASSERT_EQ(bytes.size(), 33u);
  EXPECT_EQ(bytes[0], std::byte{0x02});
  EXPECT_EQ(hex(encode_reject(reject_message{3})), "03 03");
}

TEST(HandshakeMessages, RoundTrips) {
  hello_message h = sample_hello();
  h.extensions = {std::byte{1}, std::byte{2}};
  auto d = decode_handshake_message(encode_hello(h));
  ASSERT_TRUE(d.has_value()) << d.error().message();
  const auto& back = std::get<hello_message>(*d);
  EXPECT_EQ(back.name, "a");
  EXPECT_EQ(back.incarnation, h.incarnation);
  EXPECT_EQ(back.role, handshake_role::acceptor);
  EXPECT_EQ(back.challenge, h.challenge);
  EXPECT_EQ(back.extensions, h.extensions);

  proof_message p;
  p.tag[31] = std::byte{7};
  auto dp = decode_handshake_message(encode_proof(p));
  ASSERT_TRUE(dp.has_value());
  EXPECT_EQ(std::get<proof_message>(*dp).tag, p.tag);

  auto dr = decode_handshake_message(encode_reject(reject_message{200}));
  ASSERT_TRUE(dr.has_value());
  EXPECT_EQ(std::get<reject_message>(*dr).reason, 200);
}

TEST(HandshakeMessages, RefusesMalformedInput) {
  auto bytes = encode_hello(sample_hello());
  bytes.push_back(std::byte{0});
  EXPECT_EQ(decode_handshake_message(bytes).error().detail(),
            "bytes left over after the handshake message");

  auto bad_magic = encode_hello(sample_hello());
  bad_magic[1] = std::byte{'X'};
  EXPECT_EQ(decode_handshake_message(bad_magic).error().detail(),
            "bad magic: not a troupe handshake");

  auto bad_role = encode_hello(sample_hello());
  bad_role[9] = std::byte{2};
  EXPECT_EQ(decode_handshake_message(bad_role).error().detail(), "invalid role");

  hello_message inverted = sample_hello();
  inverted.min_version = 3;
  inverted.max_version = 2;
  EXPECT_EQ(decode_hello_versions(encode_hello(inverted)).error().detail(),
            "invalid version range");

  hello_message spaced = sample_hello();
  spaced.name = "a b";
  EXPECT_EQ(decode_handshake_message(encode_hello(spaced)).error().code(), errc::decode_error);

  EXPECT_FALSE(decode_handshake_message({}).has_value());
  const std::vector<std::byte> unknown{std::byte{9}};
  EXPECT_EQ(decode_handshake_message(unknown).error().detail(), "unknown handshake message kind");
  const std::vector<std::byte> big(handshake_max_message_size + 1, std::byte{2});
  EXPECT_FALSE(decode_handshake_message(big).has_value());
}

// A future version may change everything after the version range; the range
// itself can always be read.
TEST(HandshakeMessages, VersionsReadableAlone) {
  hello_message h = sample_hello();
  h.min_version = 2;
  h.max_version = 0x0102;
  auto bytes = encode_hello(h);
  bytes.resize(9);
  bytes.push_back(std::byte{0xff});  // whatever a later layout holds
  auto v = decode_hello_versions(bytes);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->min, 2);
  EXPECT_EQ(v->max, 0x0102);
  EXPECT_FALSE(decode_handshake_message(bytes).has_value());
}

TEST(HandshakeMessages, NodeNames) {
  EXPECT_TRUE(validate_node_name("node-1@host.example:4369").has_value());
  EXPECT_TRUE(validate_node_name(std::string(255, 'x')).has_value());
  EXPECT_EQ(validate_node_name("").error().code(), errc::invalid_name);
  EXPECT_EQ(validate_node_name(std::string(256, 'x')).error().code(), errc::invalid_name);
  EXPECT_FALSE(validate_node_name("a b").has_value());
  EXPECT_FALSE(validate_node_name("tab\there").has_value());
  EXPECT_FALSE(validate_node_name("del\x7f").has_value());
  EXPECT_FALSE(validate_node_name("caf\xc3\xa9").has_value());
  EXPECT_FALSE(validate_node_name(std::string_view("nul\0", 4)).has_value());
}

// The proof's input: label, prover role, channel binding, dialer hello,
// acceptor hello, each variable part length-prefixed.
TEST(HandshakeMessages, ProofInputLayout) {
  const std::vector<std::byte> binding{std::byte{0xcc}};
  const std::vector<std::byte> d{std::byte{0xd1}, std::byte{0xd2}};
  const std::vector<std::byte> a{std::byte{0xa1}};
  EXPECT_EQ(hex(handshake_proof_input(handshake_role::acceptor, binding, d, a)),
            "13 74 72 6f 75 70 65 2d 68 61 6e 64 73 68 61 6b 65 2d 76 31 "
            "01 01 cc 02 d1 d2 01 a1");
  const std::string cookie = "secret";
  const auto key = std::as_bytes(std::span<const char>(cookie.data(), cookie.size()));
  EXPECT_EQ(handshake_proof(key, handshake_role::acceptor, binding, d, a),
            hmac_sha256(key, handshake_proof_input(handshake_role::acceptor, binding, d, a)));
  EXPECT_NE(handshake_proof(key, handshake_role::acceptor, binding, d, a),
            handshake_proof(key, handshake_role::dialer, binding, d, a));
}

TEST(HandshakeMessages, FailureNamesAndCodes) {
  EXPECT_EQ(to_string(handshake_failure::bad_cookie), "bad_cookie");
  EXPECT_EQ(to_string(static_cast<handshake_failure>(99)), "unknown");
  EXPECT_EQ(to_errc(handshake_failure::bad_cookie), errc::unauthorized);
  EXPECT_EQ(to_errc(handshake_failure::malformed), errc::decode_error);
  EXPECT_EQ(to_errc(handshake_failure::wrong_version), errc::decode_error);
  EXPECT_EQ(to_errc(handshake_failure::timed_out), errc::timeout);
  EXPECT_EQ(to_errc(handshake_failure::self_dial), errc::invalid_argument);
  EXPECT_EQ(to_errc(handshake_failure::name_clash), errc::name_taken);
}

}  // namespace
}  // namespace troupe::net
