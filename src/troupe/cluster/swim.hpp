#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/cluster/swim_messages.hpp"
#include "troupe/core/clock.hpp"
#include "troupe/core/random.hpp"

namespace troupe::cluster {

/// Tunes failure detection and gossip. Three profiles: lan() (the default),
/// wan() and local() (one machine, tests). Every duration scales with the
/// local health multiplier (Lifeguard): a member that itself loses packets
/// probes more slowly instead of accusing others.
struct swim_config {
  /// A probe of one member (round-robin over a shuffled list) starts every
  /// probe_interval ...
  duration probe_interval = std::chrono::milliseconds(500);
  /// ... and waits this long for the direct ack before asking others.
  duration probe_timeout = std::chrono::milliseconds(200);
  /// Members asked to ping the target when the direct ping gets no ack.
  std::size_t indirect_checks = 3;
  /// Suspicion lasts from min = suspicion_mult * max(1, log10(n)) *
  /// probe_interval ...
  double suspicion_mult = 3;
  /// ... up to max = suspicion_max_mult * min, shrinking toward min as
  /// independent suspicions of the same member arrive (up to
  /// suspicion_confirmations of them, fewer in a cluster too small to have
  /// that many other members).
  double suspicion_max_mult = 4;
  std::size_t suspicion_confirmations = 3;
  /// Highest local health multiplier (probe interval and timeout grow up to
  /// this factor while this member misses nacks or has to refute).
  std::size_t max_health_multiplier = 8;
  /// Gossip goes to gossip_fanout random members every gossip_interval.
  duration gossip_interval = std::chrono::milliseconds(200);
  std::size_t gossip_fanout = 3;
  /// Dead members keep receiving gossip this long (so they learn and refute).
  duration gossip_to_dead = std::chrono::seconds(30);
  /// Each update is sent retransmit_mult * ceil(log10(n + 1)) times.
  std::size_t retransmit_mult = 4;
  /// A full-state exchange with one random member this often, times
  /// max(1, n / 10) for n live members (a full state grows with n).
  duration sync_interval = std::chrono::seconds(30);
  /// This often, one member held dead (not left) is told so (if it lives,
  /// it refutes), and every seed that is not a live member gets a full-state
  /// exchange: partitions heal by themselves, however long they lasted.
  duration reconnect_interval = std::chrono::seconds(1);
  /// Dead and left members are forgotten after this long.
  duration dead_retention = std::chrono::hours(1);
  /// Addresses found by discovery (discovered()) are treated as seeds until
  /// no discovered() call has named them for this long: an address that
  /// went away is not tried forever.
  duration discovered_retention = std::chrono::minutes(5);
  /// Largest packet built (updates beyond it wait for the next one).
  std::size_t max_packet = 1400;

  /// A LAN (the defaults): silent failure to dead at every member in about
  /// 3 s at 10 members.
  static swim_config lan() { return {}; }
  /// A WAN: slower probes and longer suspicion.
  static swim_config wan();
  /// One machine or a test: fast probes.
  static swim_config local();
};

/// One member as this member sees it.
struct member_info {
  member_key key;
  std::string address;
  member_state state = member_state::alive;
  std::uint32_t incarnation = 0;
  time_point since{};  ///< when it entered `state` (this member's clock)
};

/// A change in the member list.
struct member_event {
  enum class kind : std::uint8_t {
    joined,   ///< a new member, alive
    alive,    ///< a suspect or dead member refuted (or came back)
    suspect,  ///< missed a probe
    dead,     ///< declared failed
    left,     ///< said goodbye
  };
  kind what = kind::joined;
  member_info member;
};

/// Returns "joined", "alive", "suspect", "dead" or "left".
[[nodiscard]] std::string_view to_string(member_event::kind k) noexcept;

/// Counters for load figures and tests.
struct swim_stats {
  std::uint64_t packets_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t bad_packets = 0;  ///< did not decode
  std::uint64_t probes = 0;
  std::uint64_t indirect_probes = 0;
  std::uint64_t refutations = 0;  ///< times this member refuted a suspicion of itself
  std::uint64_t syncs = 0;        ///< full-state exchanges started
  /// Ticks that came far later than due (this member did not run: its
  /// deadlines moved on by the time lost).
  std::uint64_t pauses = 0;
  /// peer_lost() calls not taken as suspicions because this member had not
  /// run, or had just resumed (its sessions end because others timed it
  /// out or dropped it): the member is probed next instead.
  std::uint64_t losses_ignored = 0;
  /// Full states (syncs and replies) sent over the stream rather than as
  /// datagrams (membership counts those the node session took).
  std::uint64_t stream_syncs = 0;
  /// Packets from the stream refused: not a sync or sync_reply, or sent in
  /// another member's name than the stream's peer (malformed ones count in
  /// bad_packets).
  std::uint64_t stream_refused = 0;
  /// Dead verdicts about a live member heard from within the shortest
  /// suspicion, taken as a suspicion instead.
  std::uint64_t verdicts_doubted = 0;
  /// Gossip dropped before the engine saw it, with encryption on (counted by
  /// membership; always 0 from swim itself):
  std::uint64_t dropped_unencrypted = 0;  ///< not sealed (plain gossip, or noise)
  std::uint64_t dropped_unauthentic = 0;  ///< wrong key or cluster name, altered, truncated
  std::uint64_t dropped_replays = 0;      ///< sealed packets already accepted, or too old
};

/// SWIM membership with Lifeguard's local health multiplier, dynamic
/// suspicion timeout and buddy pings, without I/O: the owner feeds it
/// packets and the time (tick()), and it sends through `send`. Incarnations
/// follow SWIM (only a member raises its own, to refute); alive{i} beats
/// suspect/dead{j} for i > j; suspect{i} beats alive{j} for i >= j; dead{i}
/// beats alive and suspect for i >= j, except about a member this one has
/// heard from within the shortest suspicion, for which it counts as a
/// suspicion (a verdict made by someone who could not hear it, which it
/// refutes). A verdict this member makes goes to every live member at
/// once. A member held dead comes back when it
/// refutes with a higher incarnation, which the reconnect loop provokes by
/// sending dead members (and seeds) the full state: partitions heal by
/// themselves.
///
/// Thread safety: none; one thread (or one lock) at a time.
class swim {
 public:
  using send_fn = std::function<void(std::string_view to, std::span<const std::byte> data)>;
  using event_fn = std::function<void(const member_event&)>;
  /// Carries a full-state packet (push-pull) to member `to` over a reliable
  /// stream that authenticates both ends (the cluster's node session);
  /// returns false when there is none, and the engine sends the packet as a
  /// datagram instead.
  using stream_fn = std::function<bool(const member_key& to, std::span<const std::byte> data)>;

  /// Starts alive as `self` at `address`, alone. `send` carries packets
  /// out; `on_event` hears every change (may be empty).
  swim(member_key self, std::string address, swim_config config, clock& time, random_source& random,
       send_fn send, event_fn on_event = {});

  /// Contacts `seeds` (gossip addresses) with the full state, now and every
  /// reconnect_interval while a seed is not the address of a live member.
  void join(std::vector<std::string> seeds);
  /// Adds gossip addresses found by discovery (mDNS, DNS) as seeds: each
  /// that is neither this member's address nor a live member's gets the full
  /// state now, and again every reconnect_interval while it is not, until
  /// no call has named it for discovered_retention. Naming an address again
  /// renews it. At most max_discovered addresses are held; more are ignored.
  void discovered(const std::vector<std::string>& addresses);
  /// The most addresses discovered() holds at once.
  static constexpr std::size_t max_discovered = 4096;
  /// Handles one arrived packet (from its sender's address).
  void on_packet(std::string_view from, std::span<const std::byte> data);
  /// Sets the stream that the periodic full-state sync with a member, and
  /// the reply to a sync that came over it, travel on (empty: datagrams
  /// only). Syncs with seeds and discovered addresses, whose member is not
  /// known yet, stay datagrams.
  void set_stream(stream_fn fn) { stream_ = std::move(fn); }
  /// Handles a packet that arrived over the stream from member `from` (the
  /// stream authenticated it). Only a sync or sync_reply sent in `from`'s
  /// own name is taken, whatever its size; anything else is counted
  /// (bad_packets when it does not decode, else stream_refused) and changes
  /// nothing.
  void on_stream(const member_key& from, std::span<const std::byte> data);
  /// Runs what is due at clock.now(): probes, timeouts, suspicion, gossip,
  /// syncs and reconnects. Call at least every tick_interval(); a call
  /// more than probe_timeout later than that is taken as a pause of this
  /// member (its deadlines move on by the time lost).
  void tick();
  /// Returns how often tick() should run.
  [[nodiscard]] duration tick_interval() const noexcept;
  /// Says goodbye: every live member is told this member left (twice, a
  /// tick apart), and it stops probing.
  void leave();
  /// Says the transport saw `key`'s process go (its connection was reset or
  /// refused while its host answers): it is suspected at once, and told so,
  /// so that it refutes if it still lives. Every member that sees the reset
  /// confirms the suspicion independently, which brings the timeout to its
  /// minimum: a killed process on a live host is dead everywhere in about
  /// that minimum. While this member has not run for a while (no tick()
  /// since), and for probe_timeout after the tick that found it, a loss is
  /// more likely the others' answer to its own silence: `key` is probed
  /// next instead of suspected.
  void peer_lost(const member_key& key);

  /// Returns every member known, this one included, in key order.
  [[nodiscard]] std::vector<member_info> members() const;
  /// Returns the state of `key`, if known.
  [[nodiscard]] std::optional<member_info> find(const member_key& key) const;
  /// Returns the number of alive or suspect members, this one included.
  [[nodiscard]] std::size_t live_count() const noexcept;
  [[nodiscard]] const member_key& self() const noexcept { return self_.key; }
  [[nodiscard]] std::uint32_t incarnation() const noexcept { return self_.incarnation; }
  /// Returns the local health multiplier in use (1 = healthy).
  [[nodiscard]] std::size_t health_multiplier() const noexcept { return health_ + 1; }
  [[nodiscard]] const swim_stats& stats() const noexcept { return stats_; }

 private:
  // The incarnation that ends a life: a node's next life says its earlier
  // one is over with a dead verdict at it, which nothing overturns.
  static constexpr std::uint32_t final_incarnation = 0xffffffff;
  struct suspicion {
    time_point start{};
    duration min{};
    duration max{};
    std::size_t needed = 0;  // confirmations that bring the timeout to min
    std::set<std::string> confirmers;
  };
  struct member {
    member_info info;
    std::optional<suspicion> susp;
    time_point heard{};  // when a packet of its own last arrived
  };
  struct probe {
    member_key target;
    std::string address;
    std::uint32_t seq = 0;
    time_point timeout_at{};  // send ping_reqs then
    time_point end_at{};      // suspect then, unless acked
    bool indirect_sent = false;
    bool acked = false;
    std::size_t nacks_expected = 0;
    std::size_t nacks = 0;
  };
  struct relay {  // a ping_req being served for another member
    std::string requester;
    std::uint32_t requester_seq = 0;
    time_point nack_at{};
  };
  struct queued_update {
    member_update update;
    std::size_t sent = 0;
  };

  void send_packet(std::string_view to, packet& p, const member_update* first = nullptr);
  void fill_updates(packet& p, std::size_t budget, const member_update* first);
  void enqueue(const member_update& u);
  [[nodiscard]] member_update update_of(const member& m) const;
  [[nodiscard]] member_update self_update() const;
  // `sender`: the member whose packet carried `u` (empty: none).
  void apply(const member_update& u, std::string_view sender = {});
  // Takes a dead verdict about `m`, which this member has just heard from,
  // as a suspicion instead (docs/cluster.md, "Verdicts made apart").
  void doubt(member& m, std::uint32_t incarnation, std::string_view sender);
  void apply_about_self(const member_update& u);
  void set_state(member& m, member_state s, std::uint32_t incarnation, const std::string& from);
  void emit(member_event::kind k, const member& m);
  void start_suspicion(member& m, const std::string& from);
  [[nodiscard]] duration suspicion_timeout(const suspicion& s) const;
  // The shortest suspicion at the current size (Lifeguard's min).
  [[nodiscard]] duration min_suspicion() const;
  // `stream`: the packet came over the stream (a sync is answered there).
  void handle(const packet& p, std::string_view from, bool stream = false);
  void start_probe();
  // Starts a probe of `key` (false when it is not a live member).
  bool probe_member(const member_key& key, time_point now);
  void advance_probe(time_point now);
  void gossip_round();
  // Sends this member's full state (a sync or a sync_reply): over the
  // stream to `member` when there is one, else as a datagram to `address`.
  void send_state(packet_kind kind, std::string_view address, const member_key* member);
  void sync_with(std::string_view address) { send_state(packet_kind::sync, address, nullptr); }
  void reconnect_round();
  // True for this member's address and a live member's.
  [[nodiscard]] bool live_address(std::string_view address) const;
  void expire(time_point now);
  // This member did not run for `lost`: its own deadlines move on by it.
  void resume_after(duration lost);
  [[nodiscard]] std::vector<const member*> pick(std::size_t n, const member_key* skip,
                                                bool include_recent_dead);
  [[nodiscard]] duration scaled(duration d) const;
  void health_up();
  void health_down();
  [[nodiscard]] std::uint64_t draw(std::uint64_t bound);

  member_info self_;
  swim_config cfg_;
  clock& clock_;
  random_source& random_;
  send_fn send_;
  event_fn on_event_;
  stream_fn stream_;
  std::map<member_key, member> members_;  // without self
  std::vector<member_key> probe_order_;
  std::size_t probe_next_ = 0;
  std::optional<probe> probe_;
  std::optional<member_key> probe_first_;  // probed before the round-robin's next
  std::map<std::uint32_t, relay> relays_;  // by the seq of our own ping to the target
  std::vector<queued_update> queue_;
  std::vector<member_update> stale_;  // newer news for the sender of the packet in hand
  std::vector<std::string> seeds_;
  std::map<std::string, time_point> discovered_;  // address -> when last named
  std::uint32_t seq_ = 0;
  std::size_t health_ = 0;
  bool left_ = false;
  int leave_rounds_ = 0;
  time_point next_probe_{};
  time_point next_gossip_{};
  time_point next_sync_{};
  time_point next_reconnect_{};
  std::size_t reconnect_turn_ = 0;  // the reconnect loop's place among the dead
  time_point last_tick_{};
  time_point resumed_at_{};  // the last tick that found this member had not run
  swim_stats stats_;
  std::vector<std::byte> buf_;
};

}  // namespace troupe::cluster
