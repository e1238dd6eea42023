#include "troupe/net/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace troupe::net {

hmac_sha256_digest hmac_sha256(std::span<const std::byte> key, std::span<const std::byte> data) {
  // OpenSSL's HMAC() wants a non-null key pointer even for an empty key, and
  // takes the key length as an int.
  static const unsigned char empty = 0;
  if (key.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::bad_alloc();
  const auto* k = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  const auto* d = data.empty() ? &empty : reinterpret_cast<const unsigned char*>(data.data());

  hmac_sha256_digest out{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), k, static_cast<int>(key.size()), d, data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
      len != out.size())
    throw std::bad_alloc();
  return out;
}

bool constant_time_equal(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void cleanse(std::span<std::byte> bytes) noexcept {
  if (!bytes.empty()) OPENSSL_cleanse(bytes.data(), bytes.size());
}

std::uint64_t crypto_random::next() noexcept {
  unsigned char buf[8];
  if (RAND_bytes(buf, sizeof buf) != 1) {
    std::fputs("troupe: the cryptographic random generator failed (no entropy)\n", stderr);
    std::abort();
  }
  std::uint64_t v = 0;
  std::memcpy(&v, buf, sizeof v);
  OPENSSL_cleanse(buf, sizeof buf);
  return v;
}

}  // namespace troupe::net
