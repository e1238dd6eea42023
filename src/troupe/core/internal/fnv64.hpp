#pragma once

#include <cstdint>
#include <string_view>

namespace troupe::detail {

/// FNV-1a, 64 bits, over a sequence of fields: the same on every node and
/// platform (the replicated tables' digests are compared across nodes).
struct fnv64 {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  /// Adds a string field; a field end is hashed too, so ("ab","c") and
  /// ("a","bc") differ.
  void bytes(std::string_view s) noexcept {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
    h ^= 0xff;
    h *= 0x100000001b3ULL;
  }
  /// Adds a number field, little-endian.
  void number(std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ULL;
    }
  }
};

}  // namespace troupe::detail
