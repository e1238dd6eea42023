#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "troupe/core/error.hpp"
#include "troupe/core/result.hpp"
#include "troupe/net/crypto.hpp"

namespace troupe::net {

// The messages of the node-to-node handshake and their encoding, byte by
// byte as in docs/protocol.md ("Handshake"). The state machine that uses
// them is in handshake.hpp; these functions are pure and may be called from
// any thread.

/// Bounds every handshake message; a larger one is refused unread.
inline constexpr std::size_t handshake_max_message_size = 1024;
/// The protocol versions this build speaks.
inline constexpr std::uint16_t handshake_version_min = 1;
inline constexpr std::uint16_t handshake_version_max = 1;
/// The size of a hello's random challenge.
inline constexpr std::size_t handshake_challenge_size = 32;
/// The four bytes after a hello's kind byte: "TRPE".
inline constexpr std::array<std::byte, 4> handshake_magic{std::byte{'T'}, std::byte{'R'},
                                                          std::byte{'P'}, std::byte{'E'}};
/// The domain-separation label at the start of every proof's HMAC input.
inline constexpr std::string_view handshake_proof_label = "troupe-handshake-v1";

/// Says which end of the connection a side is: the one that connected, or
/// the one that accepted. Each side's proof is bound to its role.
enum class handshake_role : std::uint8_t { dialer = 0, acceptor = 1 };

/// Names the first byte of every handshake message.
enum class handshake_kind : std::uint8_t { hello = 1, proof = 2, reject = 3 };

/// Names why a handshake failed. Values 1 to 5 also travel in reject
/// messages; they are stable.
enum class handshake_failure : std::uint8_t {
  none = 0,           ///< not failed
  malformed = 1,      ///< a message was truncated, oversized, unknown or out of order
  wrong_version = 2,  ///< the peer is a troupe node without a protocol version in common
  bad_cookie = 3,     ///< the peer's proof is wrong: its cookie differs from ours
  self_dial = 4,      ///< the peer is this very node (same name, same incarnation)
  name_clash = 5,     ///< the peer uses this node's name with another incarnation
  rejected = 6,       ///< the peer refused us and said why (see handshake::peer_reason)
  timed_out = 7,      ///< the handshake's deadline passed
};

/// Returns the stable lower-case name of `f` ("bad_cookie", ...); "unknown"
/// for a value outside the enumeration (a reason from a newer peer).
std::string_view to_string(handshake_failure f) noexcept;
/// Returns "dialer" or "acceptor".
std::string_view to_string(handshake_role r) noexcept;
/// Returns the error code a failure is reported with: malformed and
/// wrong_version → decode_error, bad_cookie → unauthorized, self_dial →
/// invalid_argument, name_clash → name_taken, timed_out → timeout. Unknown
/// values map to decode_error.
errc to_errc(handshake_failure f) noexcept;

/// Checks a node name: 1 to 255 bytes, each printable ASCII other than
/// space (0x21 to 0x7e). Fails with errc::invalid_name saying why.
result<void> validate_node_name(std::string_view name);

/// The first message of each side.
struct hello_message {
  std::uint16_t min_version = handshake_version_min;  ///< oldest version spoken
  std::uint16_t max_version = handshake_version_max;  ///< newest version spoken
  handshake_role role = handshake_role::dialer;
  std::uint64_t incarnation = 0;  ///< random, chosen when the node started
  std::array<std::byte, handshake_challenge_size> challenge{};
  std::string name;  ///< the node's name (validate_node_name)
  /// Reserved for later versions; version 1 sends none and ignores any
  /// (they are still covered by the proofs).
  std::vector<std::byte> extensions;
};

/// A side's answer to the challenges: an HMAC-SHA-256 tag (handshake_proof).
struct proof_message {
  hmac_sha256_digest tag{};
};

/// Tells the peer that this side gave up and why (a handshake_failure value
/// from 1 to 5; later versions may send others).
struct reject_message {
  std::uint8_t reason = 0;
};

using handshake_message = std::variant<hello_message, proof_message, reject_message>;

/// Returns the payload of `m`. `m.name` must be valid and the whole message
/// must fit handshake_max_message_size (the caller checks both).
[[nodiscard]] std::vector<std::byte> encode_hello(const hello_message& m);
[[nodiscard]] std::vector<std::byte> encode_proof(const proof_message& m);
[[nodiscard]] std::vector<std::byte> encode_reject(const reject_message& m);

/// The version range at the front of a hello, which every version of the
/// protocol keeps in the same place.
struct version_range {
  std::uint16_t min = 0;
  std::uint16_t max = 0;
};

/// Reads the kind byte, magic and version range of a hello without reading
/// the rest (whose layout a future version may change). Fails with
/// errc::decode_error and a reason.
result<version_range> decode_hello_versions(std::span<const std::byte> payload);

/// Decodes one handshake message: the whole payload must be exactly one
/// well-formed message no larger than handshake_max_message_size. Fails with
/// errc::decode_error and a reason; never reads outside `payload`.
result<handshake_message> decode_handshake_message(std::span<const std::byte> payload);

/// Returns the bytes a proof's HMAC is computed over (docs/protocol.md):
/// the label, the prover's role, the channel binding, then the dialer's and
/// the acceptor's hello payloads exactly as sent, each length-prefixed.
[[nodiscard]] std::vector<std::byte> handshake_proof_input(
    handshake_role prover, std::span<const std::byte> channel_binding,
    std::span<const std::byte> dialer_hello, std::span<const std::byte> acceptor_hello);

/// Returns the proof the side in role `prover` sends: HMAC-SHA-256 keyed by
/// the cluster cookie over handshake_proof_input(...).
[[nodiscard]] hmac_sha256_digest handshake_proof(std::span<const std::byte> cookie,
                                                 handshake_role prover,
                                                 std::span<const std::byte> channel_binding,
                                                 std::span<const std::byte> dialer_hello,
                                                 std::span<const std::byte> acceptor_hello);

}  // namespace troupe::net
