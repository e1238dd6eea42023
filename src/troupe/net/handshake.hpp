#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "troupe/core/clock.hpp"
#include "troupe/core/error.hpp"
#include "troupe/core/random.hpp"
#include "troupe/core/result.hpp"
#include "troupe/net/crypto.hpp"
#include "troupe/net/handshake_messages.hpp"

namespace troupe::net {

/// Configures one side of a handshake.
struct handshake_config {
  /// This node's name (validate_node_name: 1 to 255 printable bytes, no space).
  std::string node_name;
  /// This node's incarnation: random, drawn once when the node starts.
  std::uint64_t incarnation = 0;
  /// The cluster cookie: any bytes, not empty. Both sides must hold the same.
  std::string cookie;
  /// Bounds the whole handshake, from construction to authentication.
  duration timeout = std::chrono::seconds(5);
  /// Bytes that identify the underlying secure channel, mixed into both
  /// proofs (with TLS: keying material exported from the TLS session, the same
  /// on both ends). Empty without TLS. Both sides must pass the same bytes, or
  /// the handshake fails with bad_cookie.
  std::vector<std::byte> channel_binding;
};

/// Says where a handshake stands.
enum class handshake_state : std::uint8_t { in_progress, authenticated, failed };

/// Who the peer proved to be.
struct handshake_peer {
  std::string name;
  std::uint64_t incarnation = 0;
  std::uint16_t version = 0;  ///< the protocol version both sides speak from now on
};

/// One side of the node-to-node handshake (docs/protocol.md, "Handshake"):
/// a state machine without I/O. Its driver (a session) sends the messages
/// it returns, each as one frame, feeds it every handshake frame the peer
/// sends, and calls on_timer() at deadline(). The handshake ends
/// authenticated (peer() says who the peer is) or failed (failure() says
/// why); after that it ignores every input and returns nothing.
///
/// Both sides send a hello at once. The dialer proves knowledge of the
/// cookie first; the acceptor answers with its own proof only after it has
/// checked the dialer's, so a peer without the cookie learns nothing derived
/// from it.
///
/// Thread safety: none; one thread (the session's) drives it.
class handshake {
 public:
  using message = std::vector<std::byte>;

  /// Returns a handshake for `role`, its deadline `now + config.timeout`.
  /// Draws this side's challenge from `random` (in production a
  /// crypto_random: the challenge must be unpredictable). Fails with
  /// invalid_name for a bad node name, invalid_argument for an empty cookie
  /// or a timeout that is not positive.
  static result<handshake> make(handshake_role role, handshake_config config, random_source& random,
                                time_point now);

  /// Returns the messages to send first (this side's hello); nothing when
  /// called again or after the handshake ended.
  [[nodiscard]] std::vector<message> start();

  /// Processes one message from the peer and returns the messages to send in
  /// answer (possibly none). If start() was not called yet, the hello comes
  /// first. Once the handshake ended, returns nothing and changes nothing.
  [[nodiscard]] std::vector<message> on_message(std::span<const std::byte> payload);

  /// Fails the handshake with timed_out if it is still in progress and `now`
  /// is at or past deadline(); otherwise changes nothing. Nothing is sent:
  /// the driver closes the connection.
  void on_timer(time_point now);

  [[nodiscard]] handshake_state state() const noexcept { return state_; }
  [[nodiscard]] handshake_role role() const noexcept { return role_; }
  /// Returns when the handshake times out.
  [[nodiscard]] time_point deadline() const noexcept { return deadline_; }

  /// Returns who the peer claims to be once its hello was accepted and
  /// before it proved it (null otherwise): a node may refuse() a claim that
  /// clashes with a session it has, before either side proves anything.
  [[nodiscard]] const handshake_peer* claimed_peer() const noexcept {
    return state_ == handshake_state::in_progress && phase_ == phase::await_proof ? &peer_
                                                                                  : nullptr;
  }
  /// Ends a handshake still in progress as failed with `kind` and returns the
  /// reject to send (nothing when it had already ended).
  [[nodiscard]] std::vector<message> refuse(handshake_failure kind, std::string detail);

  /// Returns the authenticated peer; null unless state() is authenticated.
  [[nodiscard]] const handshake_peer* peer() const noexcept {
    return state_ == handshake_state::authenticated ? &peer_ : nullptr;
  }
  /// Returns why the handshake failed (none while it has not).
  [[nodiscard]] handshake_failure failure_kind() const noexcept { return failure_; }
  /// Returns the failure as an error: its code is to_errc(failure_kind()),
  /// or for rejected, to_errc(peer_reason()); its detail a readable reason.
  /// Only meaningful when state() is failed.
  [[nodiscard]] const error& failure() const noexcept { return error_; }
  /// Returns the reason the peer gave in its reject (failure_kind() ==
  /// rejected); none otherwise. May be a value this build does not know.
  [[nodiscard]] handshake_failure peer_reason() const noexcept { return peer_reason_; }

 private:
  enum class phase : std::uint8_t { await_hello, await_proof };

  handshake(handshake_role role, handshake_config config, random_source& random, time_point now);

  void on_hello(std::span<const std::byte> payload, std::vector<message>& out);
  void on_proof(std::span<const std::byte> payload, std::vector<message>& out);
  void on_reject(std::span<const std::byte> payload, std::vector<message>& out);
  [[nodiscard]] hmac_sha256_digest proof_of(handshake_role prover) const;
  [[nodiscard]] handshake_role peer_role() const noexcept;
  // Ends the handshake as failed; sends a reject when the peer may still be
  // waiting for a message from this side.
  void fail(handshake_failure kind, std::string detail, std::vector<message>* out);
  void finish(handshake_state s);

  handshake_role role_;
  handshake_state state_ = handshake_state::in_progress;
  phase phase_ = phase::await_hello;
  bool started_ = false;
  handshake_failure failure_ = handshake_failure::none;
  handshake_failure peer_reason_ = handshake_failure::none;
  std::string name_;
  std::uint64_t incarnation_;
  secret_bytes cookie_;
  std::vector<std::byte> channel_binding_;
  duration timeout_;
  time_point deadline_;
  message our_hello_;
  message their_hello_;
  handshake_peer peer_;
  error error_;
};

}  // namespace troupe::net
