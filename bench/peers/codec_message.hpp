// The "typical message" of the codec benchmarks (codec_encode, codec_decode),
// shared by the troupe programs and their CAF peers so that both sides encode
// the very same values. Header-only, no troupe or CAF dependency: troupe
// finds the fields by reflection, the CAF peers add `inspect` overloads.
#pragma once

#include <compare>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench_common.hpp"

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

/// The timed loop of codec_encode, the same for troupe and its peer:
/// `encode_once(buf)` clears `buf`, encodes the message into it and returns
/// the encoded size. Prints the RESULT line; returns the exit status.
template <class Buffer, class Encode>
int time_encode(const char* impl, std::size_t n, Buffer& buf, Encode encode_once) {
  const std::size_t bytes = encode_once(buf);
  std::uint64_t sink = 0;
  for (std::size_t i = 0; i < n / 100; ++i) sink += encode_once(buf);  // warm-up
  sink = 0;
  auto start = steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    sink += encode_once(buf);
    sink += static_cast<unsigned char>(buf.back());
  }
  auto seconds = seconds_since(start);
  if (sink < n * bytes) {
    std::fprintf(stderr, "codec_encode: sink %llu is too small\n",
                 static_cast<unsigned long long>(sink));
    return 1;
  }
  print_result("codec_encode", impl, n, seconds,
               " workers=1 bytes=" + std::to_string(bytes) + " sink=" + std::to_string(sink));
  return 0;
}

/// The timed loop of codec_decode, the same for troupe and its peer:
/// `decode_once()` decodes the encoded message (`bytes` long) into a fresh
/// object and returns its codec_checksum, 0 on failure. Prints the RESULT
/// line; returns the exit status.
template <class Decode>
int time_decode(const char* impl, std::size_t n, std::size_t bytes, Decode decode_once) {
  const std::uint64_t expected = codec_checksum(make_codec_message());
  std::uint64_t sink = 0;
  for (std::size_t i = 0; i < n / 100; ++i) sink += decode_once();  // warm-up
  sink = 0;
  auto start = steady::now();
  for (std::size_t i = 0; i < n; ++i) sink += decode_once();
  auto seconds = seconds_since(start);
  if (sink != expected * n) {
    std::fprintf(stderr, "codec_decode: a decode failed or gave other values\n");
    return 1;
  }
  print_result("codec_decode", impl, n, seconds,
               " workers=1 bytes=" + std::to_string(bytes) + " check=" + std::to_string(expected));
  return 0;
}

}  // namespace bench
