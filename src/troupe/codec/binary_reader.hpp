#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "troupe/core/error.hpp"

namespace troupe::codec {

class endpoint_resolver;

/// Bounds what a decoder accepts, so that hostile input cannot make it
/// allocate without limit or recurse without end.
struct decode_limits {
  std::size_t max_total = 16u << 20;    ///< bytes of input accepted at all
  std::size_t max_elements = 1u << 20;  ///< elements in one container or string
  std::size_t max_depth = 64;           ///< nesting of structs and containers
};

/// Reads values written by binary_writer from a byte span.
///
/// The first problem (truncated input, an overlong varint, a length larger
/// than what is left, a limit exceeded) sets a sticky decode_error with its
/// reason; every later read then returns a zero value, so a decoder checks
/// ok() once at the end. No read allocates more than the input could hold.
/// Thread safety: one reader, one thread.
class binary_reader {
 public:
  explicit binary_reader(std::span<const std::byte> in, decode_limits limits = {},
                         const endpoint_resolver* resolver = nullptr) noexcept
      : pos_(in.data()), end_(in.data() + in.size()), limits_(limits), resolver_(resolver) {
    if (in.size() > limits_.max_total) [[unlikely]]
      refuse_input();
  }

  // The reads below are inline for their common case (a one-byte varint, a
  // length that fits, a read within the input) and leave everything else to
  // out-of-line functions in binary_reader.cpp.

  /// Reads a varint (at most 10 bytes; the 10th may only hold the top bit).
  std::uint64_t varint() noexcept {
    if (pos_ != end_) [[likely]] {
      const auto b = static_cast<std::uint8_t>(*pos_);
      if (b < 0x80) {
        ++pos_;
        return b;
      }
    }
    return varint_long();
  }
  /// Reads a zigzag-encoded varint.
  std::int64_t zigzag() noexcept {
    const std::uint64_t u = varint();
    return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
  }
  /// Reads a boolean; bytes other than 0 and 1 are an error.
  bool boolean() noexcept {
    if (pos_ != end_) [[likely]] {
      const auto b = static_cast<std::uint8_t>(*pos_);
      if (b <= 1) {
        ++pos_;
        return b == 1;
      }
    }
    return boolean_bad();
  }
  float f32() noexcept { return std::bit_cast<float>(fixed<std::uint32_t>()); }
  double f64() noexcept { return std::bit_cast<double>(fixed<std::uint64_t>()); }
  /// Reads a length prefix for `element_size`-byte (or larger) elements:
  /// fails when it exceeds the limits or what is left of the input, before
  /// anything is allocated for it.
  std::size_t length(std::size_t min_element_size = 1) noexcept {
    // After a failure varint() returns 0, which passes both checks.
    const std::uint64_t n = varint();
    if (n > limits_.max_elements) [[unlikely]]
      return length_fail("length exceeds max_elements");
    // Checked against what is left before anything is allocated: hostile
    // lengths cannot make a decoder reserve memory the input cannot fill.
    if (min_element_size != 0 && n > remaining() / min_element_size) [[unlikely]]
      return length_fail("length exceeds the remaining input");
    return static_cast<std::size_t>(n);
  }
  /// Reads a length-prefixed byte string as a view into the input.
  std::span<const std::byte> bytes() noexcept {
    const std::size_t n = length(1);  // n <= remaining()
    if (!ok()) return {};
    std::span<const std::byte> out(pos_, n);
    pos_ += n;
    return out;
  }
  /// Reads a length-prefixed string.
  std::string string() {
    const std::span<const std::byte> b = bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  /// Returns the next `n` bytes as they are.
  std::span<const std::byte> raw(std::size_t n) noexcept {
    if (n > remaining()) [[unlikely]]
      return truncated();
    std::span<const std::byte> out(pos_, n);
    pos_ += n;
    return out;
  }
  /// Skips `n` bytes (for fields a decoder does not know).
  void skip(std::size_t n) noexcept { (void)raw(n); }

  /// Returns a reader over `body` (bytes this reader returned) that shares
  /// this reader's limits, resolver and current nesting depth.
  [[nodiscard]] binary_reader nested(std::span<const std::byte> body) const noexcept {
    binary_reader sub(body, limits_, resolver_);
    sub.depth_ = depth_;
    return sub;
  }
  /// Enters a nested value; false (and an error) past max_depth.
  bool enter() noexcept {
    if (depth_ >= limits_.max_depth) [[unlikely]]
      return too_deep();
    ++depth_;
    return true;
  }
  /// Leaves a nested value.
  void leave() noexcept {
    if (depth_ > 0) --depth_;
  }

  /// Records a problem found by a decoder above this reader (a field count
  /// that does not fit, an unknown variant index, ...). The first one wins.
  void fail(std::string_view reason) noexcept;

  [[nodiscard]] bool ok() const noexcept { return failed_ == nullptr; }
  /// Returns the first problem as errc::decode_error with its reason.
  [[nodiscard]] error failure() const;
  /// Returns the number of bytes not read yet.
  [[nodiscard]] std::size_t remaining() const noexcept {
    return static_cast<std::size_t>(end_ - pos_);
  }
  /// Returns true when all input was read and no problem was found.
  [[nodiscard]] bool done() const noexcept { return ok() && pos_ == end_; }
  [[nodiscard]] const decode_limits& limits() const noexcept { return limits_; }
  /// Returns how many nested values enclose the current position.
  [[nodiscard]] std::size_t depth() const noexcept { return depth_; }
  /// Returns what turns addresses inside values into endpoints (may be null).
  [[nodiscard]] const endpoint_resolver* resolver() const noexcept { return resolver_; }

 private:
  // The uncommon cases of the inline reads (binary_reader.cpp).
  std::uint64_t varint_long() noexcept;
  bool boolean_bad() noexcept;
  std::size_t length_fail(const char* reason) noexcept;
  std::span<const std::byte> truncated() noexcept;
  bool too_deep() noexcept;
  void refuse_input() noexcept;

  /// Reads a little-endian unsigned integer of sizeof(U) bytes.
  template <class U>
  U fixed() noexcept {
    const std::span<const std::byte> b = raw(sizeof(U));
    if (b.empty()) return 0;
    U u = 0;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&u, b.data(), sizeof(U));
    } else {
      for (std::size_t i = 0; i < sizeof(U); ++i) u |= static_cast<U>(b[i]) << (8 * i);
    }
    return u;
  }

  const std::byte* pos_;
  const std::byte* end_;
  decode_limits limits_;
  const endpoint_resolver* resolver_;
  std::size_t depth_ = 0;
  const char* failed_ = nullptr;
  std::string detail_;
};

}  // namespace troupe::codec
