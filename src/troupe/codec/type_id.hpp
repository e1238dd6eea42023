#pragma once

#include <concepts>
#include <cstdint>
#include <string_view>

namespace troupe::codec {

/// A message type's stable 64-bit id: a hash of its wire name, the same on
/// every node, every build and every platform.
using type_id = std::uint64_t;

/// Returns the id of the wire name `name`: 64-bit FNV-1a over its bytes,
/// then the SplitMix64 finalizer so that similar names spread over all
/// bits. The algorithm is part of the protocol (docs/protocol.md).
constexpr type_id type_id_of_name(std::string_view name) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : name) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

/// True when T names itself on the wire:
/// `static constexpr std::string_view type_name = "shop.order_placed";`.
template <class T>
concept has_type_name = requires {
  { T::type_name } -> std::convertible_to<std::string_view>;
};

/// Returns T's wire name.
template <has_type_name T>
constexpr std::string_view type_name_of() noexcept {
  return std::string_view(T::type_name);
}

/// Returns T's type id.
template <has_type_name T>
constexpr type_id type_id_of() noexcept {
  return type_id_of_name(type_name_of<T>());
}

/// Extension point for types that cannot declare a `type_name` member
/// (generated code, such as protobuf classes): a specialization provides
/// `static std::string_view get();` (the protobuf adapter gives every
/// protobuf message its full name this way).
template <class T, class Enable = void>
struct wire_name {};

/// True when T has a wire name, by a `type_name` member or by wire_name<T>.
template <class T>
concept has_wire_name = has_type_name<T> || requires {
  { wire_name<T>::get() } -> std::convertible_to<std::string_view>;
};

/// Returns T's wire name, from its `type_name` or from wire_name<T>.
template <has_wire_name T>
std::string_view wire_name_of() {
  if constexpr (has_type_name<T>) {
    return type_name_of<T>();
  } else {
    return std::string_view(wire_name<T>::get());
  }
}

}  // namespace troupe::codec
