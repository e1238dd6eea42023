#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "troupe/core/result.hpp"

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX

namespace troupe::cluster {

/// A 32-byte AES-256 key shared by every member of a cluster.
using gossip_key = std::array<std::byte, 32>;

/// Parses a gossip key from its text form: 64 hex digits (either case) or the
/// standard base64 of 32 bytes (44 characters with one '=' of padding, or 43
/// without; the unused low bits must be zero). Leading and trailing ASCII
/// whitespace is ignored (keys are often read from files). Returns
/// errc::invalid_argument for anything else.
[[nodiscard]] result<gossip_key> parse_gossip_key(std::string_view text);

/// Parses a key file's text: one key per line (as parse_gossip_key reads it),
/// the first one the primary; blank lines and lines starting with '#' are
/// skipped. Returns errc::invalid_argument, naming the line, for a bad key,
/// a key given twice, or text without any key.
[[nodiscard]] result<std::vector<gossip_key>> parse_gossip_keys(std::string_view text);

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
/// A keyring is shared (std::shared_ptr) between whoever rotates keys and
/// the membership that seals with it; every change applies to the next
/// packet sealed or opened.
///
/// Thread safety: every member may be called from any thread.
class gossip_keyring {
 public:
  /// Starts with `primary` as the only key, used for sealing.
  explicit gossip_keyring(const gossip_key& primary);
  /// Returns a keyring holding `keys`, the first one the primary;
  /// errc::invalid_argument when `keys` is empty.
  [[nodiscard]] static result<std::shared_ptr<gossip_keyring>> make(
      std::span<const gossip_key> keys);
  gossip_keyring(const gossip_keyring&) = delete;
  gossip_keyring& operator=(const gossip_keyring&) = delete;
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
  /// Makes the keyring hold exactly `keys`, the first one the primary, in
  /// one step (as when a key file is read again): keys not in `keys` are
  /// removed. errc::invalid_argument, changing nothing, when `keys` is empty.
  [[nodiscard]] result<void> assign(std::span<const gossip_key> keys);
  /// Returns the key packets are sealed with.
  [[nodiscard]] gossip_key primary() const;
  /// Returns every installed key, primary first, then in installation order.
  [[nodiscard]] std::vector<gossip_key> keys() const;
  /// Returns whether `k` is installed.
  [[nodiscard]] bool contains(const gossip_key& k) const;

 private:
  friend class gossip_cipher;
  [[nodiscard]] std::size_t find(const gossip_key& k) const noexcept;  // under mu_

  mutable std::mutex mu_;
  std::vector<gossip_key> keys_;  // keys_[0] is the primary; guarded by mu_
};

/// Turns gossip encryption on for a membership (membership_config,
/// cluster_config). Off by default.
struct gossip_encryption {
  /// The keys; null: gossip travels in the clear. Keep a copy of the pointer
  /// to rotate keys while members run.
  std::shared_ptr<gossip_keyring> keys;
  /// Bound into every packet: a packet sealed for another cluster name is
  /// rejected even under the same key. May be empty.
  std::string cluster_name;

  [[nodiscard]] bool enabled() const noexcept { return keys != nullptr; }
};

/// Counts what a gossip_cipher did. Every open() increments exactly one of
/// opened and the rejected_* counters.
struct gossip_crypto_stats {
  std::uint64_t sealed = 0;                ///< packets sealed
  std::uint64_t opened = 0;                ///< packets opened and accepted
  std::uint64_t rejected_auth = 0;         ///< tag check failed under every key
  std::uint64_t rejected_replay = 0;       ///< counter seen before, or below the window
  std::uint64_t rejected_malformed = 0;    ///< too short to be a sealed packet
  std::uint64_t rejected_unencrypted = 0;  ///< not in the sealed format (e.g. plain gossip)
  std::uint64_t senders_evicted = 0;       ///< senders forgotten to make room (see max_senders)
};

/// Seals and opens gossip packets for one member with AES-256-GCM, and
/// rejects replays without synchronized clocks.
///
/// Wire format of a sealed packet (integers big-endian):
///
///     magic 0xE2 (1) | sender (8) | counter (8) | ciphertext (n) | tag (16)
///
/// 33 bytes more than the payload (`overhead`). The magic byte names version 2
/// of this format and differs from plain gossip's first byte (0x53), so
/// unencrypted packets are told apart. `sender` is a random 64-bit id drawn
/// (from OpenSSL's generator) when the cipher is made, that is once per life
/// of a member; `counter` starts at 1 and grows by one with every packet
/// sealed.
///
/// Keys and nonces: each packet is encrypted under a per-sender key,
/// HKDF-Expand-SHA-256(keyring key, "troupe-gossip-v2 sender" | sender), with
/// the 12-byte nonce 0x00000000 | counter, so no nonce repeats under one key
/// (two lives drawing the same sender id: about n^2 / 2^65 among n lives).
/// The associated data is "troupe-gossip-v2", the 17 header bytes, then the
/// cluster name: sender and counter are authenticated, and a packet sealed
/// for cluster "a" fails in cluster "b". Packets are sealed under the
/// keyring's primary and opened by trying every installed key, primary first
/// (no key hint travels on the wire).
///
/// Replays (IPsec-style anti-replay window, per sender): for each sender the
/// receiver keeps the highest counter accepted and which of the `window`
/// counters up to it were accepted. A packet is accepted if its counter is
/// higher, or within the window and not seen; one at or below the bottom of
/// the window, or seen, is a replay. Packets from one sender may thus be
/// reordered by up to `window` of that sender's packets (to every
/// destination). Only authenticated packets are checked and recorded, so a
/// forgery never enters the table nor blocks the genuine packet. A restarted
/// member draws a new sender id and starts afresh. At most max_senders
/// senders are tracked; a new one evicts the one heard from least recently
/// (only key holders can add senders). A sender the receiver does not track
/// (never heard, or evicted, or the receiver restarted) has its first packet
/// accepted whatever its counter: a packet captured earlier can be replayed
/// once to a member that has not heard its sender since starting. Its content
/// is then old gossip, which SWIM's incarnations order below what the member
/// learns next.
///
/// Thread safety: not synchronized; one thread at a time (the member's). The
/// keyring may change from any thread meanwhile.
class gossip_cipher {
 public:
  /// Bytes a sealed packet adds to its payload: magic, sender, counter, tag.
  static constexpr std::size_t overhead = 1 + 8 + 8 + 16;
  /// Counters below a sender's highest accepted one that are still told apart
  /// (seen or not); lower ones are replays.
  static constexpr std::uint64_t window = 1024;
  /// Default cap on tracked senders.
  static constexpr std::size_t default_max_senders = 4096;

  /// Seals and opens for cluster `cluster_name` under `keys` (not null),
  /// tracking at most `max_senders` senders (at least 1).
  gossip_cipher(std::string cluster_name, std::shared_ptr<gossip_keyring> keys,
                std::size_t max_senders = default_max_senders);
  ~gossip_cipher();
  gossip_cipher(const gossip_cipher&) = delete;
  gossip_cipher& operator=(const gossip_cipher&) = delete;

  /// Returns `plaintext` sealed under the primary key with the next counter.
  /// Throws std::bad_alloc if OpenSSL fails (only when out of memory).
  [[nodiscard]] std::vector<std::byte> seal(std::span<const std::byte> plaintext);
  /// Returns the payload of the sealed packet `wire`, or an error (counted in
  /// stats(); a rejected packet changes nothing else):
  ///  - errc::decode_error for input too short to be a sealed packet (empty
  ///    included);
  ///  - errc::unauthorized for input not in the sealed format (unencrypted),
  ///    for a tag that no installed key verifies (wrong key, wrong cluster
  ///    name, any altered byte), and, with a detail starting with "replay",
  ///    for a counter already accepted or below the sender's window.
  /// Throws std::bad_alloc if OpenSSL fails (only when out of memory).
  [[nodiscard]] result<std::vector<std::byte>> open(std::span<const std::byte> wire);

  /// Returns the keyring, to install, use and remove keys while running.
  [[nodiscard]] gossip_keyring& keyring() const noexcept { return *keys_; }
  /// Returns the counters.
  [[nodiscard]] const gossip_crypto_stats& stats() const noexcept { return stats_; }
  /// Returns how many senders are tracked for replay rejection.
  [[nodiscard]] std::size_t senders() const noexcept { return senders_.size(); }
  /// Returns this cipher's sender id (as it travels in its packets).
  [[nodiscard]] std::uint64_t sender_id() const noexcept { return sender_id_; }
  /// Returns the cluster name bound into every packet.
  [[nodiscard]] const std::string& cluster_name() const noexcept { return cluster_name_; }

 private:
  /// What one sender's packets have shown: bit c % window of `seen` tells
  /// whether counter c was accepted, for c in (top - window, top].
  struct replay_state {
    std::uint64_t top = 0;
    std::array<std::uint64_t, window / 64> seen{};
    std::list<std::uint64_t>::iterator lru;
  };
  struct ctx_free {
    void operator()(evp_cipher_ctx_st* c) const noexcept;
  };

  [[nodiscard]] const char* check_replay(std::uint64_t sender, std::uint64_t counter) const;
  void record(std::uint64_t sender, std::uint64_t counter);

  std::string cluster_name_;
  std::shared_ptr<gossip_keyring> keys_;
  std::size_t max_senders_;
  std::uint64_t sender_id_;
  std::uint64_t counter_ = 1;
  std::unique_ptr<evp_cipher_ctx_st, ctx_free> ctx_;
  std::unordered_map<std::uint64_t, replay_state> senders_;
  std::list<std::uint64_t> lru_;  // sender ids, most recently accepted first
  gossip_crypto_stats stats_;
};

}  // namespace troupe::cluster
