#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "troupe/cluster/gossip_crypto.hpp"
#include "troupe/cluster/swim.hpp"
#include "troupe/core/clock.hpp"
#include "troupe/core/random.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/transport.hpp"

namespace troupe::cluster {

/// Configures a membership.
struct membership_config {
  /// This member's node name (1 to 255 bytes).
  std::string name;
  /// This life of the node; 0: drawn from the random source at start.
  std::uint64_t generation = 0;
  /// The datagram address to bind ("host:port"; port 0 picks one).
  std::string listen;
  /// The address other members send to; empty: the bound address.
  std::string advertise;
  /// Gossip addresses to join through (and to keep trying while they are
  /// not live members).
  std::vector<std::string> seeds;
  /// Failure detection and gossip tuning.
  swim_config swim = swim_config::lan();
  /// Off by default. With keys, every packet is sealed (AES-256-GCM, the
  /// cluster name bound in) and every packet that does not open (plain,
  /// another key or cluster name, a replay) is dropped, counted in stats(),
  /// and changes nothing. Packets are built gossip_cipher::overhead bytes
  /// under swim.max_packet, so that sealed they still fit. Keys rotate while
  /// running through the shared keyring (see gossip_keyring).
  gossip_encryption encryption;
  /// Optional: carries the periodic full-state sync with a member, and the
  /// reply, over a reliable stream to that member (the cluster's node
  /// session, which authenticates it) instead of a datagram, so that a
  /// full state is never limited to a packet. Returns false when it has no
  /// stream to `to`; the same bytes then go as a datagram. Called without
  /// the membership's lock held. The stream's receiving end hands what
  /// arrives to on_stream().
  std::function<bool(const member_key& to, std::span<const std::byte> data)> stream;
};

/// SWIM membership over a transport's datagrams: binds a socket, runs the
/// swim engine on the clock's timers, and tells listeners about every
/// change. The running half of troupe::cluster::swim.
///
/// Thread safety: every member may be called from any thread. Listeners run
/// on the transport's or the clock's threads, one event at a time, never
/// under the membership's lock (a listener may call back into it).
class membership {
 public:
  using listener = std::function<void(const member_event&)>;

  /// Binds `config.listen` on `net`, starts the engine and joins the seeds.
  /// Fails with invalid_argument for an empty or overlong name, a
  /// swim.max_packet too small to leave room for encryption's overhead, or
  /// what bind() returns.
  static result<std::unique_ptr<membership>> start(clock& time, random_source& random,
                                                   transport& net, membership_config config);
  /// Stops (without leaving: others will find this member dead).
  ~membership();
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;

  /// Calls `fn` first with a `joined` event for every live member known now
  /// (this one excepted), then with every change from then on, in order;
  /// nothing is missed or repeated between the two. Returns an id for
  /// unsubscribe().
  std::uint64_t subscribe(listener fn);
  void unsubscribe(std::uint64_t id);

  /// Every member known, this one included.
  [[nodiscard]] std::vector<member_info> members() const;
  /// The state of `key`, if known.
  [[nodiscard]] std::optional<member_info> find(const member_key& key) const;
  [[nodiscard]] member_key self() const;
  /// The address others send to.
  [[nodiscard]] std::string address() const;
  /// The engine's counters, and (with encryption on) the packets dropped
  /// before it (dropped_*).
  [[nodiscard]] swim_stats stats() const;
  /// The keyring gossip is sealed with (shared with the config's), to rotate
  /// keys while running; null without encryption.
  [[nodiscard]] std::shared_ptr<gossip_keyring> keyring() const;

  /// See swim::peer_lost().
  void peer_lost(const member_key& key);
  /// Hands the engine bytes that arrived over the stream (see
  /// membership_config::stream) from member `from`, which the stream
  /// authenticated: a full state sent in `from`'s own name is taken (opened
  /// first with encryption on); anything else is counted and ignored
  /// (swim::on_stream()).
  void on_stream(const member_key& from, std::span<const std::byte> data);
  /// Adds gossip addresses ("host:port", as discovery finds them) as seeds
  /// while running: each that is not a live member's address is sent the
  /// full state now and every reconnect_interval until it is, for as long
  /// as join() keeps naming it (swim::discovered()). Fails, adding none,
  /// with errc::invalid_argument when an address does not parse, and with
  /// errc::shutting_down after stop().
  result<void> join(const std::vector<std::string>& gossip_addresses);
  /// Tells every live member this one leaves, then stops gossiping; the
  /// socket stays bound until stop() (so late packets are not answered by
  /// a stranger).
  void leave();
  /// Closes the socket and stops the timer. No listener runs after it
  /// returns, unless it is called from inside one.
  void stop() noexcept;

  class impl;

 private:
  explicit membership(std::shared_ptr<impl> i);
  static std::uint64_t subscribe_locked(impl& i, listener fn);
  std::shared_ptr<impl> impl_;
};

}  // namespace troupe::cluster
