#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/pfr.hpp>

#include "troupe/codec/binary_reader.hpp"
#include "troupe/codec/binary_writer.hpp"
#include "troupe/codec/endpoint_resolver.hpp"
#include "troupe/codec/traits.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/result.hpp"

namespace troupe::codec {

// Encodes and decodes values in troupe's binary format (docs/protocol.md).
//
// Plain aggregates need no code: their fields are found by reflection
// (Boost.PFR). Other types provide one function, found by argument-dependent
// lookup, that names their fields in order and serves encoding, decoding and
// printing alike:
//
//   template <class Inspector>
//   void inspect(Inspector& f, money& m) {
//     f.field("currency", m.currency_);
//     f.field("cents", m.cents_);
//     if constexpr (Inspector::loading)
//       if (m.cents_ < 0) f.fail("negative amount");   // a decode_error
//   }
//
// Either way a struct is written as its field count (varint), its byte
// length (4 bytes, little-endian) and its fields, so that a decoder can skip
// fields it does not know and default the ones it does not get.

template <class T>
void encode(binary_writer& w, const T& v);
template <class T>
void decode(binary_reader& r, T& v);

namespace detail {

/// Writes each field an inspect() function names.
struct field_writer {
  static constexpr bool loading = false;
  binary_writer& w;
  template <class V>
  void field(std::string_view, const V& v) {
    encode(w, v);
  }
  void fail(std::string_view) noexcept {}
};

/// Reads the fields an inspect() function names, as many as the sender
/// wrote; later ones keep their value.
struct field_reader {
  static constexpr bool loading = true;
  binary_reader& r;
  std::size_t theirs;
  std::size_t index = 0;
  template <class V>
  void field(std::string_view, V& v) {
    if (index++ < theirs) decode(r, v);
  }
  /// Refuses the value being decoded (an invariant does not hold).
  void fail(std::string_view reason) noexcept { r.fail(reason); }
};

template <class T>
std::size_t field_count(const T& v) {
  if constexpr (inspectable<T>) {
    field_counter c;
    inspect(c, const_cast<T&>(v));  // NOLINT: the counter only counts
    return c.count;
  } else {
    return boost::pfr::tuple_size_v<T>;
  }
}

/// Writes a struct's fields behind its count and byte length.
template <class T>
void encode_struct(binary_writer& w, const T& v) {
  w.varint(field_count(v));
  const std::size_t at = w.size();
  const std::byte zero[4] = {};
  w.raw(zero);
  if constexpr (inspectable<T>) {
    field_writer f{w};
    inspect(f, const_cast<T&>(v));  // NOLINT: the writer only reads
  } else {
    boost::pfr::for_each_field(v, [&](const auto& x) { encode(w, x); });
  }
  const auto len = static_cast<std::uint32_t>(w.size() - at - 4);
  const std::byte le[4] = {std::byte(len), std::byte(len >> 8), std::byte(len >> 16),
                           std::byte(len >> 24)};
  w.patch(at, le);
}

/// Reads a struct: fields the sender did not have keep their value (their
/// default, when decoding into a new object); fields it had and we do not
/// are skipped.
template <class T>
void decode_struct(binary_reader& r, T& v) {
  const std::size_t theirs = r.length(0);
  std::span<const std::byte> len = r.raw(4);
  if (!r.ok() || !r.enter()) return;
  const std::uint32_t n =
      static_cast<std::uint32_t>(len[0]) | static_cast<std::uint32_t>(len[1]) << 8 |
      static_cast<std::uint32_t>(len[2]) << 16 | static_cast<std::uint32_t>(len[3]) << 24;
  std::span<const std::byte> body = r.raw(n);
  if (!r.ok()) return;
  binary_reader sub = r.nested(body);
  std::size_t ours = 0;
  if constexpr (inspectable<T>) {
    field_reader f{sub, theirs};
    inspect(f, v);
    ours = f.index;
  } else {
    ours = boost::pfr::tuple_size_v<T>;
    std::size_t i = 0;
    boost::pfr::for_each_field(v, [&](auto& x) {
      if (i++ < theirs) decode(sub, x);
    });
  }
  if (!sub.ok()) {
    r.fail(sub.failure().detail());
  } else if (theirs <= ours && !sub.done()) {
    // As many fields as we know, or fewer, but bytes left over: the layout
    // does not match (fields removed or reordered).
    r.fail("struct fields do not match their byte length");
  }
  r.leave();
}

template <class Seq>
void decode_sequence(binary_reader& r, Seq& out) {
  std::size_t n = r.length(1);
  if (!r.ok() || !r.enter()) return;
  out.clear();
  // n is already checked against the bytes left; the cap bounds what a
  // hostile count of tiny elements can make us reserve ahead.
  if constexpr (requires { out.reserve(n); }) out.reserve(std::min<std::size_t>(n, 1024));
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    typename Seq::value_type x{};
    decode(r, x);
    out.push_back(std::move(x));
  }
  r.leave();
}

template <class T>
void decode_associative(binary_reader& r, T& v) {
  std::size_t n = r.length(1);
  if (!r.ok() || !r.enter()) return;
  v.clear();
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    if constexpr (is_map_like<T>::value) {
      typename T::key_type k{};
      typename T::mapped_type m{};
      decode(r, k);
      decode(r, m);
      v.insert_or_assign(std::move(k), std::move(m));
    } else {
      typename T::value_type k{};
      decode(r, k);
      v.insert(std::move(k));
    }
  }
  r.leave();
}

template <class V, std::size_t I = 0>
void decode_variant(binary_reader& r, V& v, std::size_t index) {
  if constexpr (I < std::variant_size_v<V>) {
    if (index == I) {
      std::variant_alternative_t<I, V> x{};
      decode(r, x);
      v = std::move(x);
    } else {
      decode_variant<V, I + 1>(r, v, index);
    }
  }
}

template <class T>
void encode_endpoint(binary_writer& w, const T& v) {
  w.boolean(static_cast<bool>(v));
  if (!v) return;
  const endpoint_resolver* res = w.resolver();
  encode(w, res != nullptr ? res->address_of(*v.handle()) : actor_address{{}, 0, v.id()});
}

template <class T>
void decode_endpoint(binary_reader& r, T& v) {
  v = T{};
  if (!r.boolean()) return;
  actor_address a;
  decode(r, a);
  if (!r.ok()) return;
  if (r.resolver() == nullptr) {
    r.fail("an endpoint cannot be decoded without a resolver");
    return;
  }
  v = T(r.resolver()->resolve(a));
}

}  // namespace detail

/// Writes `v` (see docs/protocol.md for each kind of value).
template <class T>
void encode(binary_writer& w, const T& v) {
  using namespace detail;
  if constexpr (has_codec_traits<T>) {
    codec_traits<T>::encode(w, v);
  } else if constexpr (inspectable<T>) {
    encode_struct(w, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    w.boolean(v);
  } else if constexpr (std::is_enum_v<T>) {
    encode(w, static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    w.varint(v);
  } else if constexpr (std::is_integral_v<T>) {
    w.zigzag(v);
  } else if constexpr (std::is_same_v<T, float>) {
    w.f32(v);
  } else if constexpr (std::is_same_v<T, double>) {
    w.f64(v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    w.string(v);
  } else if constexpr (is_byte_buffer<T>::value) {
    w.bytes(std::as_bytes(std::span(v)));
  } else if constexpr (is_vector_like<T>::value || is_set_like<T>::value || is_map_like<T>::value) {
    w.varint(v.size());
    for (const auto& x : v) encode(w, x);
  } else if constexpr (is_std_array<T>::value) {
    for (const auto& x : v) encode(w, x);
  } else if constexpr (is_optional<T>::value || is_smart_ptr<T>::value) {
    w.boolean(static_cast<bool>(v));
    if (v) encode(w, *v);
  } else if constexpr (is_variant<T>::value) {
    w.varint(v.index());
    std::visit([&](const auto& x) { encode(w, x); }, v);
  } else if constexpr (std::is_same_v<T, std::monostate>) {
    // nothing to write
  } else if constexpr (is_tuple_like<T>::value) {
    std::apply([&](const auto&... xs) { (encode(w, xs), ...); }, v);
  } else if constexpr (is_duration<T>::value) {
    encode(w, v.count());
  } else if constexpr (is_time_point<T>::value) {
    encode(w, v.time_since_epoch());
  } else if constexpr (is_endpoint<T>::value) {
    encode_endpoint(w, v);
  } else {
    static_assert(std::is_aggregate_v<T>,
                  "troupe: this type has no encoding (make it an aggregate or give it an "
                  "inspect(Inspector&, T&) function)");
    encode_struct(w, v);
  }
}

/// Reads into `v`; problems go to `r` (check r.ok()).
template <class T>
void decode(binary_reader& r, T& v) {
  using namespace detail;
  if constexpr (has_codec_traits<T>) {
    codec_traits<T>::decode(r, v);
  } else if constexpr (inspectable<T>) {
    decode_struct(r, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    v = r.boolean();
  } else if constexpr (std::is_enum_v<T>) {
    // Only an enum with a fixed underlying type may hold every value of that
    // type; for others, a value outside the enumerators' range would be
    // undefined behaviour.
    static_assert(
        requires { T{std::underlying_type_t<T>{}}; },
        "troupe: an enum sent across nodes needs a fixed underlying type "
        "(enum e : std::uint8_t { ... }, or enum class)");
    std::underlying_type_t<T> u{};
    decode(r, u);
    v = static_cast<T>(u);
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    std::uint64_t u = r.varint();
    if (u > std::numeric_limits<T>::max()) r.fail("integer out of range");
    v = static_cast<T>(u);
  } else if constexpr (std::is_integral_v<T>) {
    std::int64_t s = r.zigzag();
    if (s < std::numeric_limits<T>::min() || s > std::numeric_limits<T>::max())
      r.fail("integer out of range");
    v = static_cast<T>(s);
  } else if constexpr (std::is_same_v<T, float>) {
    v = r.f32();
  } else if constexpr (std::is_same_v<T, double>) {
    v = r.f64();
  } else if constexpr (std::is_same_v<T, std::string>) {
    v = r.string();
  } else if constexpr (is_byte_buffer<T>::value) {
    std::span<const std::byte> b = r.bytes();
    const auto* p = reinterpret_cast<const typename T::value_type*>(b.data());
    v.assign(p, p + b.size());
  } else if constexpr (is_vector_like<T>::value) {
    decode_sequence(r, v);
  } else if constexpr (is_set_like<T>::value || is_map_like<T>::value) {
    decode_associative(r, v);
  } else if constexpr (is_std_array<T>::value) {
    for (auto& x : v) decode(r, x);
  } else if constexpr (is_optional<T>::value) {
    v.reset();
    if (r.boolean()) {
      typename T::value_type x{};
      decode(r, x);
      v = std::move(x);
    }
  } else if constexpr (is_smart_ptr<T>::value) {
    v.reset();
    if (r.boolean() && r.enter()) {
      auto p = std::make_unique<typename T::element_type>();
      decode(r, *p);
      v = std::move(p);
      r.leave();
    }
  } else if constexpr (is_variant<T>::value) {
    std::uint64_t index = r.varint();
    if (index >= std::variant_size_v<T>) {
      r.fail("variant index out of range");
      return;
    }
    decode_variant(r, v, static_cast<std::size_t>(index));
  } else if constexpr (std::is_same_v<T, std::monostate>) {
    // nothing to read
  } else if constexpr (is_tuple_like<T>::value) {
    std::apply([&](auto&... xs) { (decode(r, xs), ...); }, v);
  } else if constexpr (is_duration<T>::value) {
    typename T::rep c{};
    decode(r, c);
    v = T(c);
  } else if constexpr (is_time_point<T>::value) {
    typename T::duration d{};
    decode(r, d);
    v = T(d);
  } else if constexpr (is_endpoint<T>::value) {
    decode_endpoint(r, v);
  } else {
    static_assert(std::is_aggregate_v<T>,
                  "troupe: this type has no encoding (make it an aggregate or give it an "
                  "inspect(Inspector&, T&) function)");
    decode_struct(r, v);
  }
}

/// Returns `v` encoded into a new buffer.
template <class T>
std::vector<std::byte> to_bytes(const T& v, const endpoint_resolver* resolver = nullptr) {
  std::vector<std::byte> out;
  binary_writer w(out, resolver);
  encode(w, v);
  return out;
}

/// Decodes a T from all of `in`; a decode_error when the bytes do not hold
/// exactly one T within `limits`.
template <class T>
result<T> from_bytes(std::span<const std::byte> in, decode_limits limits = {},
                     const endpoint_resolver* resolver = nullptr) {
  binary_reader r(in, limits, resolver);
  T v{};
  decode(r, v);
  if (r.ok() && !r.done()) r.fail("bytes left after the value");
  if (!r.ok()) return r.failure();
  return v;
}

}  // namespace troupe::codec
