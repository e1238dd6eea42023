#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "troupe/core/actor_handle.hpp"

namespace troupe {

/// Where an actor lives, as a value: the node's name, the incarnation of that
/// node (a random number chosen each time the node starts, so that nothing
/// meant for an earlier life of a node reaches a later one) and the actor's
/// id within that node's system. An empty node name means "this process".
///
/// This is what an endpoint becomes on the wire.
struct actor_address {
  static constexpr std::string_view type_name = "troupe.actor_address";
  std::string node;
  std::uint64_t incarnation = 0;
  actor_id id = 0;

  friend auto operator<=>(const actor_address&, const actor_address&) = default;
  friend bool operator==(const actor_address&, const actor_address&) = default;
};

}  // namespace troupe

template <>
struct std::hash<troupe::actor_address> {
  std::size_t operator()(const troupe::actor_address& a) const noexcept {
    std::size_t h = std::hash<std::string>{}(a.node);
    h ^= std::hash<std::uint64_t>{}(a.incarnation) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= std::hash<std::uint64_t>{}(a.id) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
  }
};
