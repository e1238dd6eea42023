#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "troupe/core/clock.hpp"
#include "troupe/core/random.hpp"
#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// A 32-byte AES-256 key shared by every member of a cluster.
using gossip_key = std::array<std::byte, 32>;

/// Parses a gossip key from its text form: 64 hex digits (either case) or the
/// standard base64 of 32 bytes (44 characters with one '=' of padding, or 43
/// without; the unused low bits must be zero). Leading and trailing ASCII
/// whitespace is ignored (keys are often read from files). Returns
/// errc::invalid_argument for anything else.
[[nodiscard]] result<gossip_key> parse_gossip_key(std::string_view text);

/// Returns `k` as padded base64 (44 characters), which parse_gossip_key reads.
[[nodiscard]] std::string format_gossip_key(const gossip_key& k);

/// Makes a key from OpenSSL's cryptographically secure generator (seeded by
/// the operating system). Aborts the process if no entropy is available.
/// Thread safety: may be called from any thread.
[[nodiscard]] gossip_key make_gossip_key();

/// Holds the keys one member accepts gossip under, and the one (the primary)
/// it seals with. Keys are compared in constant time and overwritten with
/// zeros when removed or when the keyring is destroyed.
///
/// Rotation without downtime, one step at a time across the whole cluster
/// (gossip keeps flowing between every pair of members at every step):
///  1. install(new) on every member (everyone can now open both keys);
///  2. use(new) on every member (seals switch over; the old key still opens
///     packets from members that have not switched yet);
///  3. remove(old) on every member (nobody seals with it any more).
///
/// Thread safety: not synchronized; one thread at a time.
class gossip_keyring {
 public:
  /// Starts with `primary` as the only key, used for sealing.
  explicit gossip_keyring(const gossip_key& primary);
  /// Copies the keys of `o`.
  gossip_keyring(const gossip_keyring& o) = default;
  /// Takes the keys of `o`, leaving it empty (then only assignment and
  /// destruction are valid on it).
  gossip_keyring(gossip_keyring&& o) noexcept = default;
  /// Overwrites this keyring's keys with zeros, then copies those of `o`.
  gossip_keyring& operator=(const gossip_keyring& o);
  /// Overwrites this keyring's keys with zeros, then takes those of `o`.
  gossip_keyring& operator=(gossip_keyring&& o) noexcept;
  /// Overwrites every key with zeros.
  ~gossip_keyring();

  /// Adds `k` to the keys packets may be opened with (from now on). Installing
  /// a key that is already there changes nothing.
  void install(const gossip_key& k);
  /// Makes the installed key `k` the primary, used for sealing from now on
  /// (the previous primary stays installed). errc::invalid_argument if `k` is
  /// not installed.
  [[nodiscard]] result<void> use(const gossip_key& k);
  /// Removes `k`; packets sealed with it are rejected from now on.
  /// errc::invalid_argument if `k` is the primary or is not installed.
  [[nodiscard]] result<void> remove(const gossip_key& k);
  /// Returns the key packets are sealed with.
  [[nodiscard]] const gossip_key& primary() const noexcept { return keys_.front(); }
  /// Returns every installed key, primary first, then in installation order.
  [[nodiscard]] std::vector<gossip_key> keys() const { return keys_; }
  /// Returns whether `k` is installed.
  [[nodiscard]] bool contains(const gossip_key& k) const noexcept;

 private:
  friend class gossip_cipher;
  [[nodiscard]] std::size_t find(const gossip_key& k) const noexcept;
  void wipe() noexcept;

  std::vector<gossip_key> keys_;  // keys_[0] is the primary
};

/// Counts what a gossip_cipher did. Every open() increments exactly one of
/// opened and the rejected_* counters.
struct gossip_crypto_stats {
  std::uint64_t sealed = 0;                ///< packets sealed
  std::uint64_t opened = 0;                ///< packets opened and accepted
  std::uint64_t rejected_auth = 0;         ///< tag check failed under every key
  std::uint64_t rejected_replay = 0;       ///< nonce seen, or timestamp outside the window
  std::uint64_t rejected_malformed = 0;    ///< too short to be a sealed packet
  std::uint64_t rejected_unencrypted = 0;  ///< not in the sealed format (e.g. plain gossip)
  std::uint64_t rejected_overload = 0;     ///< replay memory full (see gossip_cipher)
};

/// Seals and opens gossip packets for one member with AES-256-GCM.
///
/// Wire format of a sealed packet (all integers big-endian):
///
///     magic 0xE1 (1) | nonce (12) | ciphertext (8 + n) | tag (16)
///
/// The magic byte names version 1 of this format and differs from plain
/// gossip's first byte (0x53), so unencrypted packets are told apart. The
/// ciphertext encrypts the sender's timestamp (8 bytes, signed milliseconds of
/// its clock's now()) followed by the n bytes of the payload. The associated
/// data is the label "troupe-gossip-v1" followed by the cluster name, so a
/// packet sealed for cluster "a" fails authentication in cluster "b".
///
/// Keys: packets are sealed under the keyring's primary and opened by trying
/// every installed key, primary first (no key hint travels on the wire, so an
/// observer cannot tell which key is in use).
///
/// Nonces: 4 bytes drawn once per cipher (a sender id) followed by a 64-bit
/// counter that starts at a random value (also drawn once) and increments per
/// packet. A cipher never repeats a nonce (until 2^64 seals); the random start
/// keeps two members that draw the same sender id (probability ~n^2 / 2^33
/// among n ciphers ever made under one key) from colliding, which under GCM
/// would leak plaintexts and the authentication key. Every member must
/// therefore draw from an independently seeded random source.
///
/// Replay rejection: a packet is accepted only if its authenticated timestamp
/// lies within [now - replay_window, now + replay_window] of the receiver's
/// clock and its nonce has not been accepted before. The receiver remembers
/// each accepted nonce until its timestamp leaves the window (after that the
/// timestamp check alone rejects it), so memory is bounded by the packets
/// accepted per 2 * replay_window. It also caps that memory at
/// max_remembered nonces: when full, a new packet is rejected (errc::unauthorized,
/// "gossip replay memory full", counted in rejected_overload) rather than forgetting
/// a nonce early, since forgetting one would let its packet be replayed. Only
/// authenticated packets are remembered, so only a key holder can fill it.
/// Rejected packets are never remembered: a forged copy of a nonce does not
/// block the genuine packet.
///
/// The timestamp check needs every member's clock to read the same time line
/// to within a fraction of the window: pass a clock backed by synchronized
/// wall time (NTP). real_clock reads steady_clock, whose origin differs from
/// machine to machine, and does not qualify across hosts.
///
/// Thread safety: not synchronized; one thread at a time (the member's).
class gossip_cipher {
 public:
  /// Bytes a sealed packet adds to its payload: magic, nonce, timestamp, tag.
  static constexpr std::size_t overhead = 1 + 12 + 8 + 16;
  /// Default cap on remembered nonces.
  static constexpr std::size_t default_max_remembered = 100'000;

  /// Seals and opens for cluster `cluster_name` under `keys`, reading time
  /// from `time` (which must outlive the cipher) and drawing the nonce prefix
  /// and counter start from `random` (used only here). A replay_window under
  /// one millisecond counts as one millisecond.
  gossip_cipher(std::string cluster_name, gossip_keyring keys, clock& time, random_source& random,
                duration replay_window = std::chrono::seconds(60),
                std::size_t max_remembered = default_max_remembered);

  /// Returns `plaintext` sealed under the primary key with the current time
  /// and a fresh nonce. Throws std::bad_alloc if OpenSSL fails (only when out
  /// of memory).
  [[nodiscard]] std::vector<std::byte> seal(std::span<const std::byte> plaintext);
  /// Returns the payload of the sealed packet `wire`, or an error (counted in
  /// stats(); nothing of a rejected packet is remembered):
  ///  - errc::decode_error for input too short to be a sealed packet (empty
  ///    included);
  ///  - errc::unauthorized for input not in the sealed format (unencrypted),
  ///    for a tag that no installed key verifies (wrong key, wrong cluster
  ///    name, any altered byte), and, with a detail starting with "replay",
  ///    for a nonce already accepted or a timestamp outside the window; and
  ///    when the replay memory is full.
  /// Throws std::bad_alloc if OpenSSL fails (only when out of memory).
  [[nodiscard]] result<std::vector<std::byte>> open(std::span<const std::byte> wire);

  /// Returns the keyring, to install, use and remove keys while running.
  [[nodiscard]] gossip_keyring& keyring() noexcept { return keys_; }
  /// Returns the keyring.
  [[nodiscard]] const gossip_keyring& keyring() const noexcept { return keys_; }
  /// Returns the counters.
  [[nodiscard]] const gossip_crypto_stats& stats() const noexcept { return stats_; }
  /// Returns how many accepted nonces are remembered for replay rejection.
  [[nodiscard]] std::size_t remembered() const noexcept { return seen_.size(); }
  /// Returns the cluster name bound into every packet.
  [[nodiscard]] const std::string& cluster_name() const noexcept { return cluster_name_; }

 private:
  using nonce = std::array<std::byte, 12>;
  struct nonce_hash {
    std::size_t operator()(const nonce& n) const noexcept;
  };
  /// A remembered nonce and the millisecond at which it may be forgotten.
  using expiry = std::pair<std::int64_t, nonce>;

  [[nodiscard]] std::int64_t now_ms() const noexcept;
  void forget_expired(std::int64_t now) noexcept;

  std::string cluster_name_;
  std::vector<std::byte> aad_;
  gossip_keyring keys_;
  clock& clock_;
  std::int64_t window_ms_;
  std::size_t max_remembered_;
  std::uint32_t sender_id_;
  std::uint64_t counter_;
  std::unordered_set<nonce, nonce_hash> seen_;
  std::priority_queue<expiry, std::vector<expiry>, std::greater<>> expiries_;
  gossip_crypto_stats stats_;
};

}  // namespace troupe::cluster
