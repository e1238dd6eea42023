#pragma once

// The message the decode_rich_message fuzz target decodes (and make_corpus
// encodes): one field of every kind the codec knows. Members use plain `= x`
// initializers or none (value-initialization zeroes them): a braced default
// member initializer crashes g++ 12 with Boost.PFR.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace troupe_fuzz {

enum class level : std::uint8_t { low, mid, high };
enum class delta : std::int32_t { down = -1, none = 0, up = 1 };
// An unscoped enum. It has a fixed underlying type: decoding a value outside
// the enumerators into an enum without one (`enum shade { ... };`) is
// undefined behaviour, which the codec does not refuse yet.
enum shade : std::uint16_t { shade_dark, shade_light };

struct point {
  std::int32_t x = 0;
  std::int32_t y = 0;
};

struct nested {
  std::string name;
  std::optional<std::int32_t> maybe;
  std::map<std::string, int> counts;
  point where;
  level lvl = level::low;
};

/// Refers to itself through unique_ptr (a chain) and through a vector (a tree).
struct tree_node {
  std::int64_t value = 0;
  std::string label;
  std::unique_ptr<tree_node> next;
  std::vector<tree_node> children;
};

struct scalars {
  bool flag = false;
  std::uint8_t u8 = 0;
  std::int16_t i16 = 0;
  std::uint32_t u32 = 0;
  std::int64_t i64 = 0;
  std::uint64_t u64 = 0;
  float f32 = 0;
  double f64 = 0;
};

struct enums_and_time {
  level lvl = level::low;
  delta dir = delta::none;
  shade tone = shade_dark;
  std::chrono::milliseconds timeout;
  std::chrono::duration<double> seconds;
  std::chrono::system_clock::time_point at;
};

struct sequences {
  std::string text;
  std::vector<std::int64_t> values;
  std::deque<std::string> lines;
  std::vector<std::byte> blob;
  std::vector<nested> items;
  std::array<std::int16_t, 3> arr;
};

/// UMap and USet are the unordered containers: see basic_rich_message.
template <template <class...> class UMap, template <class...> class USet>
struct associative {
  std::map<std::string, int> counts;
  std::set<std::int32_t> tags;
  UMap<std::string, int> index;
  USet<std::int64_t> ids;
};

struct sum_types {
  std::optional<nested> maybe;
  std::variant<int, std::string, nested> choice;
  std::pair<int, std::string> pair;
  std::tuple<std::int8_t, double, std::string> tuple;
  std::optional<std::vector<std::optional<std::string>>> sparse;
};

struct pointers {
  std::unique_ptr<tree_node> tree;
  std::shared_ptr<nested> shared;
  std::unique_ptr<std::string> boxed;
};

/// The whole message. Every struct has at most 8 fields: a field count is
/// bounded by decode_limits::max_elements like a container's length, and the
/// fuzz target also decodes with max_elements = 8. UMap and USet are the
/// unordered containers; basic_rich_message<std::map, std::set> has the same
/// encoding with one canonical order of elements.
template <template <class...> class UMap, template <class...> class USet>
struct basic_rich_message {
  scalars s;
  enums_and_time e;
  sequences q;
  associative<UMap, USet> a;
  sum_types v;
  pointers p;
};

using rich_message = basic_rich_message<std::unordered_map, std::unordered_set>;
/// Encodes like rich_message, but its containers are ordered.
using canonical_message = basic_rich_message<std::map, std::set>;

}  // namespace troupe_fuzz
