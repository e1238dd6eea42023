// The "typical message" of the codec benchmarks (codec_encode, codec_decode),
// shared by the troupe programs and their CAF peers so that both sides encode
// the very same values. Header-only, no troupe or CAF dependency: troupe
// finds the fields by reflection, the CAF peers add `inspect` overloads.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bench {

/// The nested part: an optional status code and a few named counters.
struct codec_details {
  std::optional<std::int32_t> code;
  std::map<std::string, int> counts;

  friend bool operator==(const codec_details&, const codec_details&) = default;
};

/// A name, 16 samples and the nested details.
struct codec_message {
  std::string name;
  std::vector<std::int64_t> samples;
  codec_details details;

  friend bool operator==(const codec_message&, const codec_message&) = default;
};

/// Returns the message both sides encode: a 12-character name, 16 samples
/// mixing small and large values of both signs, a set code and 4 counters
/// with short keys.
inline codec_message make_codec_message() {
  return codec_message{
      .name = "sensor-42.eu",
      .samples = {0, 1, -1, 42, -17, 300, -250, 4'096, 1'000'000, -65'536, 123'456'789'012,
                  1'700'000'000'000, -9'007'199'254'740'993, 7, -3, 9'223'372'036'854'775'807},
      .details = codec_details{.code = 404,
                               .counts = {{"get", 12}, {"put", 3}, {"del", 0}, {"list", 1'250}}},
  };
}

/// Folds a decoded message into a number, so the decode loops have a result
/// that depends on every field (the same on both sides).
inline std::uint64_t codec_checksum(const codec_message& m) {
  std::uint64_t sum = m.name.size();
  for (char c : m.name) sum = sum * 31 + static_cast<unsigned char>(c);
  for (std::int64_t s : m.samples) sum = sum * 31 + static_cast<std::uint64_t>(s);
  sum += static_cast<std::uint64_t>(m.details.code.value_or(-1));
  for (const auto& [key, count] : m.details.counts)
    sum = sum * 31 + key.size() + static_cast<std::uint64_t>(count);
  return sum;
}

}  // namespace bench
