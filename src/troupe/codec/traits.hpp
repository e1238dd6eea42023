#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace troupe {
template <class A>
class endpoint;
}  // namespace troupe

namespace troupe::codec {

class binary_writer;
class binary_reader;

/// Extension point for whole families of types with a codec of their own
/// (the protobuf adapter uses it). A specialization provides
///   static void encode(binary_writer&, const T&);
///   static void decode(binary_reader&, T&);   // problems go to the reader
///   static void print(std::ostream&, const T&);
/// and is preferred over every built-in encoding.
template <class T, class Enable = void>
struct codec_traits {};

template <class T>
concept has_codec_traits = requires(binary_writer& w, binary_reader& r, const T& c, T& m) {
  codec_traits<T>::encode(w, c);
  codec_traits<T>::decode(r, m);
};

namespace detail {

/// Counts the fields an inspect() function names (the first pass of
/// encoding an inspected type: its field count comes first on the wire).
struct field_counter {
  static constexpr bool loading = false;
  std::size_t count = 0;
  template <class V>
  void field(std::string_view, V&) noexcept {
    ++count;
  }
  void fail(std::string_view) noexcept {}
};

}  // namespace detail

/// True when T has an `inspect(Inspector&, T&)` function found by
/// argument-dependent lookup; it then takes precedence over reflection.
template <class T>
concept inspectable = requires(detail::field_counter& f, T& x) {
  inspect(f, x);
};

namespace detail {

template <class T>
struct is_vector_like : std::false_type {};
template <class T, class A>
struct is_vector_like<std::vector<T, A>> : std::true_type {};
template <class T, class A>
struct is_vector_like<std::deque<T, A>> : std::true_type {};

/// Byte buffers travel as one length-prefixed run of bytes.
template <class T>
struct is_byte_buffer : std::false_type {};
template <class A>
struct is_byte_buffer<std::vector<std::byte, A>> : std::true_type {};
template <class A>
struct is_byte_buffer<std::vector<unsigned char, A>> : std::true_type {};

template <class T>
struct is_map_like : std::false_type {};
template <class K, class V, class C, class A>
struct is_map_like<std::map<K, V, C, A>> : std::true_type {};
template <class K, class V, class H, class E, class A>
struct is_map_like<std::unordered_map<K, V, H, E, A>> : std::true_type {};

template <class T>
struct is_set_like : std::false_type {};
template <class K, class C, class A>
struct is_set_like<std::set<K, C, A>> : std::true_type {};
template <class K, class H, class E, class A>
struct is_set_like<std::unordered_set<K, H, E, A>> : std::true_type {};

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_variant : std::false_type {};
template <class... Ts>
struct is_variant<std::variant<Ts...>> : std::true_type {};

template <class T>
struct is_tuple_like : std::false_type {};
template <class A, class B>
struct is_tuple_like<std::pair<A, B>> : std::true_type {};
template <class... Ts>
struct is_tuple_like<std::tuple<Ts...>> : std::true_type {};

template <class T>
struct is_duration : std::false_type {};
template <class R, class P>
struct is_duration<std::chrono::duration<R, P>> : std::true_type {};

template <class T>
struct is_time_point : std::false_type {};
template <class C, class D>
struct is_time_point<std::chrono::time_point<C, D>> : std::true_type {};

template <class T>
struct is_smart_ptr : std::false_type {};
template <class T, class D>
struct is_smart_ptr<std::unique_ptr<T, D>> : std::true_type {};
template <class T>
struct is_smart_ptr<std::shared_ptr<T>> : std::true_type {};

template <class T>
struct is_endpoint : std::false_type {};
template <class A>
struct is_endpoint<endpoint<A>> : std::true_type {};

}  // namespace detail
}  // namespace troupe::codec
