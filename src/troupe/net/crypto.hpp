#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "troupe/core/random.hpp"

namespace troupe::net {

/// The 32 bytes of an HMAC-SHA-256 tag.
using hmac_sha256_digest = std::array<std::byte, 32>;

/// Returns HMAC-SHA-256 (RFC 2104, FIPS 198-1) of `data` keyed by `key`
/// (any length, empty included), computed by OpenSSL.
///
/// Throws std::bad_alloc if OpenSSL cannot compute it (it fails only when
/// out of memory). Thread safety: may be called from any thread.
[[nodiscard]] hmac_sha256_digest hmac_sha256(std::span<const std::byte> key,
                                             std::span<const std::byte> data);

/// Compares two byte strings in time that depends only on their lengths,
/// never on where they differ (OpenSSL's CRYPTO_memcmp). Use it for every
/// comparison of a secret or of a tag derived from one.
[[nodiscard]] bool constant_time_equal(std::span<const std::byte> a,
                                       std::span<const std::byte> b) noexcept;

/// Overwrites `bytes` with zeros in a way the compiler may not optimize away
/// (OPENSSL_cleanse), for buffers that held a secret.
void cleanse(std::span<std::byte> bytes) noexcept;

/// Holds secret bytes (a cookie, a key) and overwrites them with zeros when
/// they are cleared, replaced or destroyed. Move-only, so that no stray copy
/// outlives its owner.
class secret_bytes {
 public:
  secret_bytes() = default;
  /// Copies `bytes` in.
  explicit secret_bytes(std::span<const std::byte> bytes) : bytes_(bytes.begin(), bytes.end()) {}
  secret_bytes(const secret_bytes&) = delete;
  secret_bytes& operator=(const secret_bytes&) = delete;
  secret_bytes(secret_bytes&& o) noexcept : bytes_(std::move(o.bytes_)) { o.bytes_.clear(); }
  secret_bytes& operator=(secret_bytes&& o) noexcept {
    if (this != &o) {
      clear();
      bytes_ = std::move(o.bytes_);
      o.bytes_.clear();
    }
    return *this;
  }
  ~secret_bytes() { clear(); }

  /// Overwrites the bytes with zeros and empties the buffer.
  void clear() noexcept {
    cleanse(bytes_);
    bytes_.clear();
  }
  /// Returns the bytes (valid until the next change).
  [[nodiscard]] std::span<const std::byte> view() const noexcept { return bytes_; }
  [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }

 private:
  std::vector<std::byte> bytes_;
};

/// A random source backed by OpenSSL's cryptographically secure generator
/// (RAND_bytes). Pass it wherever random bits must be unpredictable to an
/// attacker, such as handshake challenges; system_random (xoshiro256** seeded
/// once) is fast but predictable from its output.
///
/// Aborts the process if the operating system cannot supply entropy (OpenSSL
/// reports this only when its generator cannot be seeded at all).
/// Thread safety: next() may be called from any thread.
class crypto_random final : public random_source {
 public:
  std::uint64_t next() noexcept override;
};

}  // namespace troupe::net
