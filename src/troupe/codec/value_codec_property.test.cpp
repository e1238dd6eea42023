// Property tests of the codec over many generated values (rapidcheck):
// round trips, schema evolution both ways, truncation, and random bytes.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "troupe/codec/value_codec.hpp"

namespace value_codec_property {

enum class level : std::int16_t { low = -1, mid = 0, high = 300 };

struct leaf {
  std::optional<std::int32_t> maybe;
  std::map<std::string, int> counts;
  bool operator==(const leaf&) const = default;
};

struct rich {
  bool flag = false;
  std::uint8_t small = 0;
  std::int64_t big = 0;
  std::uint64_t ubig = 0;
  level lvl = level::mid;
  std::string text;
  std::vector<std::int64_t> values;
  std::deque<std::string> words;
  std::set<std::int32_t> ids;
  std::unordered_map<std::string, std::vector<std::uint16_t>> index;
  std::array<std::int8_t, 3> triple{};
  std::variant<std::int32_t, std::string, leaf> choice;
  std::pair<std::string, bool> pr;
  std::tuple<std::int32_t, std::string, std::uint64_t> tp;
  std::chrono::microseconds wait{};
  std::shared_ptr<leaf> shared;
  std::unique_ptr<std::string> owned;
  std::vector<std::byte> blob;
  leaf nested;
};

bool same(const std::shared_ptr<leaf>& a, const std::shared_ptr<leaf>& b) {
  return a && b ? *a == *b : !a && !b;
}
bool same(const std::unique_ptr<std::string>& a, const std::unique_ptr<std::string>& b) {
  return a && b ? *a == *b : !a && !b;
}

bool operator==(const rich& a, const rich& b) {
  return a.flag == b.flag && a.small == b.small && a.big == b.big && a.ubig == b.ubig &&
         a.lvl == b.lvl && a.text == b.text && a.values == b.values && a.words == b.words &&
         a.ids == b.ids && a.index == b.index && a.triple == b.triple && a.choice == b.choice &&
         a.pr == b.pr && a.tp == b.tp && a.wait == b.wait && same(a.shared, b.shared) &&
         same(a.owned, b.owned) && a.blob == b.blob && a.nested == b.nested;
}

/// Two versions of one message: v2 adds trailing fields.
struct profile_v1 {
  std::string name;
  std::vector<std::int32_t> scores;
};
struct profile_v2 {
  std::string name;
  std::vector<std::int32_t> scores;
  std::optional<std::string> email;
  std::map<std::string, std::int64_t> counters;
  double ratio = 0.25;
};

}  // namespace value_codec_property

namespace rc {

using namespace value_codec_property;

template <class T>
struct Arbitrary<std::optional<T>> {
  static Gen<std::optional<T>> arbitrary() {
    return gen::map(gen::maybe(gen::arbitrary<T>()), [](Maybe<T> m) {
      return m ? std::optional<T>(std::move(*m)) : std::optional<T>();
    });
  }
};

template <>
struct Arbitrary<level> {
  static Gen<level> arbitrary() { return gen::element(level::low, level::mid, level::high); }
};

template <>
struct Arbitrary<std::byte> {
  static Gen<std::byte> arbitrary() {
    return gen::map(gen::arbitrary<std::uint8_t>(), [](std::uint8_t b) { return std::byte(b); });
  }
};

template <>
struct Arbitrary<leaf> {
  static Gen<leaf> arbitrary() {
    return gen::build<leaf>(gen::set(&leaf::maybe), gen::set(&leaf::counts));
  }
};

template <>
struct Arbitrary<rich> {
  static Gen<rich> arbitrary() {
    using choice_t = std::variant<std::int32_t, std::string, leaf>;
    auto choice = gen::oneOf(
        gen::map(gen::arbitrary<std::int32_t>(), [](std::int32_t v) { return choice_t(v); }),
        gen::map(gen::arbitrary<std::string>(), [](std::string v) { return choice_t(v); }),
        gen::map(gen::arbitrary<leaf>(), [](leaf v) { return choice_t(v); }));
    auto shared = gen::map(gen::arbitrary<std::optional<leaf>>(), [](std::optional<leaf> v) {
      return v ? std::make_shared<leaf>(*v) : std::shared_ptr<leaf>();
    });
    // A move-only field: build the rest, then set it from a second value.
    auto base = gen::build<rich>(
        gen::set(&rich::flag), gen::set(&rich::small), gen::set(&rich::big), gen::set(&rich::ubig),
        gen::set(&rich::lvl), gen::set(&rich::text), gen::set(&rich::values),
        gen::set(&rich::words), gen::set(&rich::ids), gen::set(&rich::index),
        gen::set(&rich::triple), gen::set(&rich::choice, choice), gen::set(&rich::pr),
        gen::set(&rich::tp), gen::set(&rich::wait), gen::set(&rich::shared, shared),
        gen::set(&rich::blob), gen::set(&rich::nested));
    return gen::apply(
        [](const rich& r, std::optional<std::string> owned) {
          rich out;
          out.flag = r.flag, out.small = r.small, out.big = r.big, out.ubig = r.ubig;
          out.lvl = r.lvl, out.text = r.text, out.values = r.values, out.words = r.words;
          out.ids = r.ids, out.index = r.index, out.triple = r.triple, out.choice = r.choice;
          out.pr = r.pr, out.tp = r.tp, out.wait = r.wait, out.shared = r.shared;
          out.blob = r.blob, out.nested = r.nested;
          if (owned) out.owned = std::make_unique<std::string>(*owned);
          return out;
        },
        base, gen::arbitrary<std::optional<std::string>>());
  }
};

template <>
struct Arbitrary<profile_v1> {
  static Gen<profile_v1> arbitrary() {
    return gen::build<profile_v1>(gen::set(&profile_v1::name), gen::set(&profile_v1::scores));
  }
};

template <>
struct Arbitrary<profile_v2> {
  static Gen<profile_v2> arbitrary() {
    return gen::build<profile_v2>(gen::set(&profile_v2::name), gen::set(&profile_v2::scores),
                                  gen::set(&profile_v2::email), gen::set(&profile_v2::counters),
                                  gen::set(&profile_v2::ratio));
  }
};

}  // namespace rc

namespace value_codec_property {

using troupe::codec::from_bytes;
using troupe::codec::to_bytes;

RC_GTEST_PROP(value_codec_property, every_value_round_trips, (const rich& v)) {
  auto bytes = to_bytes(v);
  auto back = from_bytes<rich>(bytes);
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == v);
}

RC_GTEST_PROP(value_codec_property, floats_round_trip_bit_for_bit, (double d, float f)) {
  auto back = from_bytes<std::pair<double, float>>(to_bytes(std::pair{d, f}));
  RC_ASSERT(back.has_value());
  RC_ASSERT(std::memcmp(&back->first, &d, sizeof d) == 0);
  RC_ASSERT(std::memcmp(&back->second, &f, sizeof f) == 0);
}

RC_GTEST_PROP(value_codec_property, integers_of_every_width_round_trip,
              (std::int64_t a, std::uint64_t b, std::int8_t c, std::uint32_t d)) {
  auto back = from_bytes<std::tuple<std::int64_t, std::uint64_t, std::int8_t, std::uint32_t>>(
      to_bytes(std::tuple{a, b, c, d}));
  RC_ASSERT(back.has_value());
  RC_ASSERT((*back == std::tuple{a, b, c, d}));
}

RC_GTEST_PROP(value_codec_property, an_old_reader_skips_fields_it_does_not_know,
              (const profile_v2& v)) {
  auto old = from_bytes<profile_v1>(to_bytes(v));
  RC_ASSERT(old.has_value());
  RC_ASSERT(old->name == v.name);
  RC_ASSERT(old->scores == v.scores);
}

RC_GTEST_PROP(value_codec_property, a_new_reader_defaults_fields_it_does_not_get,
              (const profile_v1& v)) {
  auto newer = from_bytes<profile_v2>(to_bytes(v));
  RC_ASSERT(newer.has_value());
  RC_ASSERT(newer->name == v.name);
  RC_ASSERT(newer->scores == v.scores);
  RC_ASSERT(!newer->email.has_value());
  RC_ASSERT(newer->counters.empty());
  RC_ASSERT(newer->ratio == 0.25);
}

RC_GTEST_PROP(value_codec_property, every_strict_prefix_is_a_decode_error, (const rich& v)) {
  auto bytes = to_bytes(v);
  const auto cut = *rc::gen::inRange<std::size_t>(0, bytes.size());
  auto r = from_bytes<rich>(std::span<const std::byte>(bytes.data(), cut));
  RC_ASSERT(!r.has_value());
  RC_ASSERT(r.error().code() == troupe::errc::decode_error);
}

RC_GTEST_PROP(value_codec_property, random_bytes_decode_or_fail_cleanly,
              (const std::vector<std::uint8_t>& raw)) {
  std::vector<std::byte> in;
  for (std::uint8_t b : raw) in.push_back(std::byte{b});
  auto r = from_bytes<rich>(in, {.max_elements = 1024, .max_depth = 16});
  if (!r) {
    RC_ASSERT(r.error().code() == troupe::errc::decode_error);
    RC_ASSERT(!r.error().detail().empty());
  } else {
    // Whatever decoded encodes to bytes that decode to the same value.
    auto again = from_bytes<rich>(to_bytes(*r));
    RC_ASSERT(again.has_value());
    RC_ASSERT(*again == *r);
  }
}

}  // namespace value_codec_property
