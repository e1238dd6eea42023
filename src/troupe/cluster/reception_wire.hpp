#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "troupe/codec/binary_writer.hpp"
#include "troupe/core/discovery.hpp"
#include "troupe/core/receptionist.hpp"
#include "troupe/core/result.hpp"

/// The messages replicated tables (the receptionist and the process groups)
/// exchange over node sessions (docs/protocol.md, "Receptionist and group
/// replication"). Carried on node channel `channel`; every message starts
/// with its kind byte, which also names the table.
namespace troupe::cluster::reception_wire {

/// The node channel the messages travel on.
inline constexpr std::uint8_t channel = 1;

/// The replicated tables.
enum class table : std::uint8_t {
  receptionist = 0,
  groups = 1,
};
/// The number of tables.
inline constexpr std::size_t tables = 2;

/// "I have your entries up to `have`": sent by a receiver to the entries'
/// origin when a session comes up, after a gap, and now and then; the
/// origin answers with its changes since `have`.
struct want {
  table of = table::receptionist;
  /// The origin the sender means (the receiver's): a want for another life
  /// of the receiver is ignored.
  origin_id origin = 0;
  std::uint64_t have = 0;
};

/// One op as it travels: the actor is named by its id on the sending node
/// (always the origin). A group op uses `what` add (a join) or remove (a
/// leave), `label` for the group and `key` for the scope; its visibility is
/// always public.
struct op {
  reception_op::kind what = reception_op::kind::add;
  std::uint64_t version = 0;
  std::string label;
  std::string key;   // add
  std::string type;  // add: the actor type's name
  visibility vis = visibility::public_;
  actor_id actor = 0;         // add
  std::uint64_t removes = 0;  // remove
};

/// The origin's changes (see reception_changes and group_changes).
struct changes {
  table of = table::receptionist;
  origin_id origin = 0;
  std::uint64_t base = 0;
  std::uint64_t top = 0;
  bool reset = false;
  std::vector<op> ops;
};

using message = std::variant<want, changes>;

void encode(codec::binary_writer& w, const want& m);
void encode(codec::binary_writer& w, const changes& m);
/// Decodes one message; decode_error for anything malformed (unknown kind,
/// truncated, bytes left over, an unknown op kind or visibility, a group op
/// that is neither a join nor a leave or is not public).
result<message> decode(std::span<const std::byte> bytes);

/// Returns the id a node life has as a receptionist origin: a 64-bit hash
/// of its name and incarnation, the same on every node, never 0.
origin_id origin_of(std::string_view node, std::uint64_t incarnation) noexcept;

}  // namespace troupe::cluster::reception_wire
