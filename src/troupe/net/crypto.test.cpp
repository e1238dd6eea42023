#include "troupe/net/crypto.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::net {
namespace {

std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

std::string hex(std::span<const std::byte> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::byte x : b) {
    out += digits[static_cast<unsigned>(x) >> 4];
    out += digits[static_cast<unsigned>(x) & 0xf];
  }
  return out;
}

// RFC 4231, test case 1.
TEST(HmacSha256, Rfc4231Case1) {
  const std::string key(20, '\x0b');
  EXPECT_EQ(hex(hmac_sha256(bytes_of(key), bytes_of("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

// RFC 4231, test case 2: a key shorter than the output.
TEST(HmacSha256, Rfc4231Case2) {
  EXPECT_EQ(hex(hmac_sha256(bytes_of("Jefe"), bytes_of("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// RFC 4231, test case 6: a key longer than SHA-256's block is hashed first.
TEST(HmacSha256, Rfc4231Case6LongKey) {
  const std::string key(131, '\xaa');
  EXPECT_EQ(hex(hmac_sha256(bytes_of(key),
                            bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, EmptyKeyAndData) {
  EXPECT_EQ(hex(hmac_sha256({}, {})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal(bytes_of("abc"), bytes_of("abc")));
  EXPECT_FALSE(constant_time_equal(bytes_of("abc"), bytes_of("abd")));
  EXPECT_FALSE(constant_time_equal(bytes_of("abc"), bytes_of("ab")));
  EXPECT_TRUE(constant_time_equal({}, {}));
}

TEST(Cleanse, ZeroesTheBuffer) {
  std::vector<std::byte> secret(16, std::byte{0x5a});
  cleanse(secret);
  for (std::byte b : secret) EXPECT_EQ(b, std::byte{0});
}

TEST(CryptoRandom, DrawsDistinctValues) {
  crypto_random r;
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(r.next());
  EXPECT_EQ(seen.size(), 64u);  // a repeat among 64 draws has probability ~2^-53
  EXPECT_LT(r.below(10), 10u);
}

}  // namespace
}  // namespace troupe::net
