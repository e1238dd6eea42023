#include "troupe/core/hash_ring.hpp"

#include <algorithm>

namespace troupe::detail {

std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_bytes(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

void hash_ring::assign(const std::vector<std::uint64_t>& ids) {
  points_.clear();
  points_.reserve(ids.size() * vnodes_);
  for (std::size_t pos = 0; pos < ids.size(); ++pos) {
    const std::uint64_t base = mix64(ids[pos]);
    for (std::size_t v = 0; v < vnodes_; ++v) {
      points_.push_back(point{mix64(base ^ mix64(v + 1)), ids[pos], pos});
    }
  }
  std::sort(points_.begin(), points_.end(), [](const point& a, const point& b) {
    return a.at < b.at || (a.at == b.at && a.id < b.id);
  });
}

std::optional<std::size_t> hash_ring::owner(std::uint64_t key_hash) const noexcept {
  if (points_.empty()) return std::nullopt;
  auto it = std::lower_bound(points_.begin(), points_.end(), key_hash,
                             [](const point& p, std::uint64_t k) { return p.at < k; });
  if (it == points_.end()) it = points_.begin();  // wrap around the circle
  return it->pos;
}

}  // namespace troupe::detail
