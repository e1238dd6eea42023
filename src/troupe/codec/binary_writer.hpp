#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace troupe::codec {

class endpoint_resolver;

/// Appends values in troupe's binary format (docs/protocol.md) to a byte
/// buffer: unsigned integers as LEB128 varints, signed ones zigzag-encoded
/// first, floats as little-endian IEEE 754, byte strings length-prefixed.
///
/// Writing into a reused buffer whose capacity suffices allocates nothing.
/// Thread safety: one writer, one thread.
class binary_writer {
 public:
  /// Appends to `out` (its current contents stay in front).
  explicit binary_writer(std::vector<std::byte>& out,
                         const endpoint_resolver* resolver = nullptr) noexcept
      : out_(out), resolver_(resolver) {}

  /// Writes `v` as a varint: 7 bits a byte, low bits first, high bit set on
  /// every byte but the last (1 to 10 bytes).
  void varint(std::uint64_t v) {
    if (v < 0x80) {
      // Lengths, counts and small numbers: push_back's inline path, no call.
      out_.push_back(static_cast<std::byte>(v));
      return;
    }
    std::byte buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<std::byte>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<std::byte>(v);
    append(buf, n);
  }
  /// Writes `v` zigzag-encoded (0, -1, 1, -2, ... → 0, 1, 2, 3, ...) as a varint.
  void zigzag(std::int64_t v) {
    varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  /// Writes one byte: 0 or 1.
  void boolean(bool v) { out_.push_back(static_cast<std::byte>(v ? 1 : 0)); }
  /// Writes the 4 bytes of `v`, little-endian.
  void f32(float v) { fixed(std::bit_cast<std::uint32_t>(v)); }
  /// Writes the 8 bytes of `v`, little-endian.
  void f64(double v) { fixed(std::bit_cast<std::uint64_t>(v)); }
  /// Writes the length of `b` as a varint, then its bytes.
  void bytes(std::span<const std::byte> b) {
    varint(b.size());
    append(b.data(), b.size());
  }
  /// Writes the length of `s` as a varint, then its bytes (no terminator).
  void string(std::string_view s) {
    bytes(std::as_bytes(std::span<const char>(s.data(), s.size())));
  }
  /// Writes `b` as they are (no length).
  void raw(std::span<const std::byte> b) { append(b.data(), b.size()); }

  /// Returns the number of bytes in the buffer.
  [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }
  /// Returns what turns endpoints inside values into addresses (may be null).
  [[nodiscard]] const endpoint_resolver* resolver() const noexcept { return resolver_; }
  /// Overwrites bytes already written at `at` (for lengths patched in later).
  void patch(std::size_t at, std::span<const std::byte> b) noexcept {
    std::memcpy(out_.data() + at, b.data(), b.size());
  }

 private:
  // Appends n bytes in one step (one push_back per byte measured slower in
  // bench/codec_encode: each waits for the previous one's size update).
  void append(const std::byte* p, std::size_t n) { out_.insert(out_.end(), p, p + n); }

  template <class U>
  void fixed(U v) {
    std::byte buf[sizeof(U)];
    for (std::size_t i = 0; i < sizeof(U); ++i) buf[i] = static_cast<std::byte>(v >> (8 * i));
    append(buf, sizeof(U));
  }

  std::vector<std::byte>& out_;
  const endpoint_resolver* resolver_;
};

}  // namespace troupe::codec
