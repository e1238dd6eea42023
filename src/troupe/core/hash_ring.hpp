#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe {

namespace detail {
/// Scrambles 64 bits (the splitmix64 finalizer): equal inputs give equal
/// outputs on every platform and every run.
std::uint64_t mix64(std::uint64_t x) noexcept;
/// Hashes bytes with 64-bit FNV-1a, then mix64.
std::uint64_t hash_bytes(std::string_view s) noexcept;
}  // namespace detail

/// A key that picks a member of a consistent-hash router or the worker of a
/// sticky pool: a string or an integer, hashed the same way on every run and
/// every platform (so that a key maps to the same member everywhere).
class routing_key {
 public:
  routing_key(std::string_view s) noexcept : hash_(detail::hash_bytes(s)) {}        // NOLINT
  routing_key(const char* s) noexcept : routing_key(std::string_view(s)) {}         // NOLINT
  routing_key(const std::string& s) noexcept : routing_key(std::string_view(s)) {}  // NOLINT
  template <std::integral I>
  routing_key(I v) noexcept : hash_(detail::mix64(static_cast<std::uint64_t>(v))) {}  // NOLINT

  /// Returns a key whose hash is `h` (already well mixed).
  static routing_key from_hash(std::uint64_t h) noexcept {
    routing_key k(0);
    k.hash_ = h;
    return k;
  }
  /// Returns the key's 64-bit hash.
  [[nodiscard]] std::uint64_t hash() const noexcept { return hash_; }

 private:
  std::uint64_t hash_;
};

namespace detail {

/// A consistent-hash ring: each member owns `vnodes` points on a 64-bit
/// circle (placed by hashing its id), and a key belongs to the member owning
/// the first point at or after the key's hash. Adding a member to n others
/// moves only the keys the newcomer takes over (about 1/(n+1) of them);
/// removing one moves only that member's keys.
///
/// Not synchronized: its owner locks around it.
class hash_ring {
 public:
  explicit hash_ring(std::size_t vnodes = 160) : vnodes_(vnodes == 0 ? 1 : vnodes) {}

  /// Rebuilds the ring for `ids`; owner() then returns positions in `ids`.
  void assign(const std::vector<std::uint64_t>& ids);
  /// Returns the position (in the vector given to assign) of the member that
  /// owns `key_hash`, or nullopt when the ring is empty.
  [[nodiscard]] std::optional<std::size_t> owner(std::uint64_t key_hash) const noexcept;
  [[nodiscard]] bool empty() const noexcept { return points_.empty(); }

 private:
  struct point {
    std::uint64_t at;
    std::uint64_t id;  // ties between equal points break by id: deterministic
    std::size_t pos;
  };
  std::size_t vnodes_;
  std::vector<point> points_;  // sorted by (at, id)
};

}  // namespace detail
}  // namespace troupe
