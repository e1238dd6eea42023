#include "troupe/core/random.hpp"

#include <random>

namespace troupe {
namespace {

std::uint64_t splitmix(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

std::uint64_t entropy() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

std::uint64_t random_source::below(std::uint64_t bound) noexcept {
  // Lemire's multiply-shift with rejection: unbiased.
  for (;;) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(m);
    if (low >= bound || low >= (-bound) % bound) return static_cast<std::uint64_t>(m >> 64);
  }
}

xoshiro256::xoshiro256(std::uint64_t seed) noexcept {
  for (auto& s : s_) s = splitmix(seed);
}

std::uint64_t xoshiro256::operator()() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

system_random::system_random() : gen_(entropy()) {}

std::uint64_t system_random::next() noexcept {
  std::lock_guard lock(mu_);
  return gen_();
}

}  // namespace troupe
