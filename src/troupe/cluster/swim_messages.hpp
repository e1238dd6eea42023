#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// What a member is, as one member sees it.
enum class member_state : std::uint8_t {
  alive = 0,    ///< answers probes (or was last heard of doing so)
  suspect = 1,  ///< missed a probe; dead unless it refutes in time
  dead = 2,     ///< declared failed; comes back only by refuting (a higher incarnation)
  left = 3,     ///< said goodbye; final for this generation
};

/// Returns "alive", "suspect", "dead" or "left".
[[nodiscard]] std::string_view to_string(member_state s) noexcept;

/// True for the states of a member that counts as running: alive and suspect.
[[nodiscard]] constexpr bool is_live(member_state s) noexcept {
  return s == member_state::alive || s == member_state::suspect;
}

/// Names one life of a member: its node name and the random generation it
/// drew at start (a restarted node has a new one, so nothing said about its
/// previous life applies to it).
struct member_key {
  std::string name;
  std::uint64_t generation = 0;
  friend bool operator==(const member_key&, const member_key&) = default;
  friend auto operator<=>(const member_key&, const member_key&) = default;
};

/// One piece of gossip: what `key` is, at which incarnation (the member's own
/// refutation counter), reachable where. `from` names who suspects it (for
/// suspect updates; it counts independent confirmations).
struct member_update {
  member_key key;
  std::string address;  ///< gossip address "host:port"
  member_state state = member_state::alive;
  std::uint32_t incarnation = 0;
  std::string from;
  friend bool operator==(const member_update&, const member_update&) = default;
};

/// The kinds of gossip packet.
enum class packet_kind : std::uint8_t {
  ping = 1,        ///< are you `target`? answer with ack(seq)
  ping_req = 2,    ///< ping `target` for me and tell me: ack(seq) or nack(seq)
  ack = 3,         ///< answer to a ping (direct, or forwarded for a ping_req)
  nack = 4,        ///< a ping_req helper could not reach the target in time
  sync = 5,        ///< push-pull: my full state; answer with sync_reply
  sync_reply = 6,  ///< push-pull: my full state, in return
  gossip = 7,      ///< updates only
};

/// A decoded gossip packet. `updates` ride on every kind (piggybacking); for
/// sync and sync_reply they are the sender's whole member list.
struct packet {
  packet_kind kind = packet_kind::gossip;
  member_key sender;
  std::string sender_address;
  std::uint32_t seq = 0;
  member_key target;           ///< ping, ping_req
  std::string target_address;  ///< ping_req
  std::vector<member_update> updates;
};

/// Appends `p` to `out` in the gossip wire format (docs/cluster.md).
void encode(const packet& p, std::vector<std::byte>& out);
/// Decodes one packet; errc::decode_error for anything malformed.
[[nodiscard]] result<packet> decode_packet(std::span<const std::byte> in);
/// Returns the encoded size of `u` (for filling packets up to a budget).
[[nodiscard]] std::size_t encoded_size(const member_update& u);

}  // namespace troupe::cluster
