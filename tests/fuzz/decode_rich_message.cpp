// libFuzzer target: decodes its input as a rich_message (every kind of value
// the codec knows) with the default limits and with small ones, and checks
// what holds for every input the decoder accepts:
//   - decoding as rich_message and as canonical_message (same encoding,
//     ordered containers) agree on success, and on the reason of a failure;
//   - a failure is an errc::decode_error;
//   - what decodes within the small limits decodes within the default ones,
//     to the same value;
//   - the re-encoding of a value decoded within the default limits decodes
//     again, and re-encoding is stable byte for byte:
//     encode(decode(encode(decode(x)))) == encode(decode(x)), compared as
//     bytes (NaNs included) and, where unordered containers may iterate in
//     another order after a round trip, in the canonical order.
// A violation aborts (a crash for libFuzzer).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <vector>

#include "rich_message.hpp"
#include "troupe/codec/value_codec.hpp"
#include "troupe/core/error.hpp"

namespace {

using bytes = std::vector<std::byte>;
using troupe::codec::decode_limits;
using troupe::codec::from_bytes;
using troupe::codec::to_bytes;
using troupe_fuzz::canonical_message;
using troupe_fuzz::rich_message;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "decode_rich_message: check failed: %s\n", what);
  std::abort();
}

/// Returns the canonical encoding of `b`, an encoding made by to_bytes.
bytes canonical(std::span<const std::byte> b) {
  auto c = from_bytes<canonical_message>(b);
  check(c.has_value(), "a re-encoding does not decode");
  return to_bytes(*c);
}

/// Decodes `in` within `limits` as rich_message and as canonical_message and
/// checks that they agree; with `round_trip`, checks re-encoding too. Returns
/// the canonical encoding of the value, or nullopt when `in` does not decode.
std::optional<bytes> decode(std::span<const std::byte> in, const decode_limits& limits,
                            bool round_trip) {
  auto m = from_bytes<rich_message>(in, limits);
  auto c = from_bytes<canonical_message>(in, limits);
  check(m.has_value() == c.has_value(), "rich and canonical decoding disagree on success");
  if (!m) {
    check(m.error().code() == troupe::errc::decode_error, "a failure is not a decode_error");
    check(c.error().code() == troupe::errc::decode_error, "a failure is not a decode_error");
    check(m.error().detail() == c.error().detail(),
          "rich and canonical decoding fail for different reasons");
    return std::nullopt;
  }

  // Ordered containers only: re-encoding is stable byte for byte.
  const bytes canon = to_bytes(*c);
  check(canonical(canon) == canon, "re-encoding is not stable (canonical_message)");
  const bytes first = to_bytes(*m);
  check(canonical(first) == canon, "rich and canonical decoding give different values");
  if (!round_trip) return canon;

  // A re-encoding may need larger limits than the input did (fields the
  // input left out are written with their default values), so this runs
  // with the default limits only.
  auto m2 = from_bytes<rich_message>(first, limits);
  check(m2.has_value(), "a re-encoding does not decode");
  const bytes second = to_bytes(*m2);
  check(first.size() == second.size(), "re-encoding changes the size");
  // Unordered containers of two or more elements may iterate in another
  // order after a round trip: then only the canonical order is compared.
  if (m->a.index.size() <= 1 && m->a.ids.size() <= 1) {
    check(first == second, "re-encoding is not stable");
  }
  check(canonical(second) == canon, "re-encoding is not stable (canonical order)");
  return canon;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);

  std::optional<bytes> full = decode(in, decode_limits{}, /*round_trip=*/true);

  decode_limits small;
  small.max_elements = 8;
  small.max_depth = 4;
  std::optional<bytes> within_small = decode(in, small, /*round_trip=*/false);
  if (within_small) {
    check(full.has_value(), "decodes within small limits but not within the default ones");
    check(*within_small == *full, "small and default limits decode to different values");
  }
  return 0;
}
