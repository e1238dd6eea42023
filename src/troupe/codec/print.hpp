#pragma once

#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <ratio>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include <boost/pfr.hpp>

#include "troupe/codec/traits.hpp"

namespace troupe::codec {

// A debug printer for every value the codec can encode: the same traversal,
// written for people. Structs print as `name{field, ...}` (the name is the
// type's `type_name` when it has one; fields are named when an inspect()
// function names them), strings quoted and escaped, containers as
// `[a, b]`, maps as `{k: v}`, empty optionals and pointers as `none`,
// durations with their unit (`250ms`), byte buffers as hex.

template <class T>
void print(std::ostream& os, const T& v);

namespace detail {

inline void print_string(std::ostream& os, std::string_view s) {
  os << '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      os << '\\' << ch;
    } else if (c == '\n') {
      os << "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      os << "\\x" << hex[c >> 4] << hex[c & 15];
    } else {
      os << ch;
    }
  }
  os << '"';
}

template <class T>
void print_bytes(std::ostream& os, const T& v) {
  static constexpr char hex[] = "0123456789abcdef";
  static constexpr std::size_t shown = 32;
  os << "bytes(" << v.size() << ")[";
  for (std::size_t i = 0; i < v.size() && i < shown; ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (i != 0) os << ' ';
    os << hex[c >> 4] << hex[c & 15];
  }
  if (v.size() > shown) os << " ...";
  os << ']';
}

template <class Period>
constexpr std::string_view duration_suffix() {
  if constexpr (std::is_same_v<Period, std::nano>) return "ns";
  if constexpr (std::is_same_v<Period, std::micro>) return "us";
  if constexpr (std::is_same_v<Period, std::milli>) return "ms";
  if constexpr (std::is_same_v<Period, std::ratio<1>>) return "s";
  if constexpr (std::is_same_v<Period, std::ratio<60>>) return "min";
  if constexpr (std::is_same_v<Period, std::ratio<3600>>) return "h";
  return "";
}

template <class T>
void print_duration(std::ostream& os, const T& d) {
  os << +d.count();
  constexpr std::string_view suffix = duration_suffix<typename T::period>();
  if constexpr (suffix.empty()) {
    os << '*' << T::period::num << '/' << T::period::den << 's';
  } else {
    os << suffix;
  }
}

template <class T>
void print_type_name(std::ostream& os) {
  if constexpr (requires { std::string_view(T::type_name); }) os << std::string_view(T::type_name);
}

/// Prints the fields an inspect() function names, as `name=value`.
struct field_printer {
  static constexpr bool loading = false;
  std::ostream& os;
  bool first = true;
  template <class V>
  void field(std::string_view name, const V& v) {
    os << (first ? "" : ", ") << name << '=';
    first = false;
    print(os, v);
  }
  void fail(std::string_view) noexcept {}
};

template <class Range>
void print_range(std::ostream& os, const Range& v, char open, char close) {
  os << open;
  bool first = true;
  for (const auto& x : v) {
    os << (first ? "" : ", ");
    first = false;
    if constexpr (is_map_like<Range>::value) {
      print(os, x.first);
      os << ": ";
      print(os, x.second);
    } else {
      print(os, x);
    }
  }
  os << close;
}

}  // namespace detail

/// Writes a readable form of `v` to `os`.
template <class T>
void print(std::ostream& os, const T& v) {
  using namespace detail;
  if constexpr (requires { codec_traits<T>::print(os, v); }) {
    codec_traits<T>::print(os, v);
  } else if constexpr (inspectable<T>) {
    print_type_name<T>(os);
    os << '{';
    field_printer f{os};
    inspect(f, const_cast<T&>(v));  // NOLINT: the printer only reads
    os << '}';
  } else if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "true" : "false");
  } else if constexpr (std::is_enum_v<T>) {
    os << +static_cast<std::underlying_type_t<T>>(v);
  } else if constexpr (std::is_arithmetic_v<T>) {
    os << +v;
  } else if constexpr (std::is_same_v<T, std::string>) {
    print_string(os, v);
  } else if constexpr (is_byte_buffer<T>::value) {
    print_bytes(os, v);
  } else if constexpr (is_vector_like<T>::value || is_std_array<T>::value) {
    print_range(os, v, '[', ']');
  } else if constexpr (is_set_like<T>::value || is_map_like<T>::value) {
    print_range(os, v, '{', '}');
  } else if constexpr (is_optional<T>::value || is_smart_ptr<T>::value) {
    if (v) {
      print(os, *v);
    } else {
      os << "none";
    }
  } else if constexpr (is_variant<T>::value) {
    std::visit([&](const auto& x) { print(os, x); }, v);
  } else if constexpr (std::is_same_v<T, std::monostate>) {
    os << "monostate";
  } else if constexpr (is_tuple_like<T>::value) {
    os << '(';
    bool first = true;
    std::apply(
        [&](const auto&... xs) {
          ((os << (first ? "" : ", "), first = false, print(os, xs)), ...);
        },
        v);
    os << ')';
  } else if constexpr (is_duration<T>::value) {
    print_duration(os, v);
  } else if constexpr (is_time_point<T>::value) {
    os << '@';
    print_duration(os, v.time_since_epoch());
  } else if constexpr (is_endpoint<T>::value) {
    if (v) {
      os << "endpoint#" << v.id();
    } else {
      os << "endpoint(none)";
    }
  } else {
    static_assert(std::is_aggregate_v<T>, "troupe: this type cannot be printed");
    print_type_name<T>(os);
    os << '{';
    bool first = true;
    boost::pfr::for_each_field(v, [&](const auto& x) {
      os << (first ? "" : ", ");
      first = false;
      print(os, x);
    });
    os << '}';
  }
}

/// Returns a readable form of `v` (for logs, test failures and debuggers).
template <class T>
std::string to_string(const T& v) {
  std::ostringstream os;
  print(os, v);
  return os.str();
}

}  // namespace troupe::codec
