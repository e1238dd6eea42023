#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "troupe/codec/endpoint_resolver.hpp"
#include "troupe/codec/value_codec.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/response.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/transport.hpp"
#include "troupe/net/frame.hpp"
#include "troupe/net/remote_types.hpp"
#include "troupe/net/session.hpp"
#include "troupe/net/tcp_transport.hpp"

namespace troupe::net {

/// Configures a node: who it is, where it listens, the secret it shares with
/// its peers, its limits and timings.
struct node_config {
  /// The node's name, unique in the cluster (1 to 255 printable bytes, no
  /// space).
  std::string name;
  /// Where to listen ("host:port", port 0 picks one); empty: dial out only.
  std::string listen;
  /// The cluster cookie: any bytes, not empty, the same on every node.
  std::string cookie;
  /// This life of the node; 0 draws a random one from the OS's secure
  /// generator (the normal case: a restarted node is a new incarnation).
  std::uint64_t incarnation = 0;

  duration handshake_timeout = std::chrono::seconds(5);
  /// Heartbeats go out this often on every session ...
  duration heartbeat_interval = std::chrono::milliseconds(500);
  /// ... and a peer silent for longer than this is dropped (its pending asks
  /// end with node_down, its watchers get a down).
  duration peer_timeout = std::chrono::seconds(3);
  /// Reconnect back-off for nodes dialed with connect(): from min, doubling
  /// up to max, with jitter.
  duration reconnect_min = std::chrono::milliseconds(200);
  duration reconnect_max = std::chrono::seconds(5);

  std::size_t max_frame_size = default_max_frame_size;   ///< header included
  std::size_t max_message_size = std::size_t{16} << 20;  ///< one whole message
  /// Bytes queued for one peer beyond which sends fail with mailbox_full.
  std::size_t max_queued_bytes = std::size_t{64} << 20;

  /// For a node started from its config alone (the start() overload without
  /// a transport), which then makes its own tcp_transport: mutual TLS 1.3
  /// with these files when set, plain TCP otherwise ...
  std::optional<tls_config> tls;
  /// ... whose I/O the system's idle pool workers run (the worker that reads
  /// a message runs the actor it is for: no hand-off between threads) ...
  bool io_on_workers = true;
  /// ... or, when io_on_workers is false or the system's executor cannot
  /// lend its threads (not a thread_pool, or one already running another
  /// node's I/O), this many threads of its own (at least 1). All three are
  /// ignored when start() is given a transport.
  std::size_t io_threads = 1;

  /// Receives the node's log lines (a refused handshake, a closed session
  /// and why). Default: standard error.
  std::function<void(std::string_view)> log;
};

/// What happened to a connection to another node.
struct node_event {
  static constexpr std::string_view type_name = "troupe.node_event";
  enum class kind : std::uint8_t {
    connected,      ///< a connection was made (not authenticated yet)
    authenticated,  ///< the handshake proved the peer: the session is usable
    disconnected,   ///< an authenticated session ended
  };
  kind what = kind::connected;
  std::string node;               ///< the peer's name (empty before authentication)
  std::uint64_t incarnation = 0;  ///< the peer's incarnation (0 before authentication)
  std::string address;            ///< the peer's address
  std::string reason;             ///< why it disconnected
};

/// Returns "connected", "authenticated" or "disconnected".
std::string_view to_string(node_event::kind k) noexcept;

/// Counters of one node, for tests and monitoring.
struct node_stats {
  std::uint64_t sessions_opened = 0;    ///< authenticated sessions so far
  std::uint64_t handshakes_failed = 0;  ///< connections refused or failed before authentication
  std::uint64_t protocol_errors = 0;    ///< sessions closed for a bad frame
  std::uint64_t undeliverable = 0;      ///< messages for actors this node does not have
  std::uint64_t bad_messages = 0;       ///< messages that could not be decoded
  std::uint64_t late_responses = 0;     ///< responses to asks that had already ended here
  /// Asks sent to peers and still waiting for their response now (a gauge;
  /// an ask that ended here by its deadline is swept within one tick).
  std::uint64_t pending_requests = 0;
  /// Remote actors this node keeps one endpoint handle for now (a gauge;
  /// see node::lookup()).
  std::uint64_t remote_actors = 0;
};

namespace detail {
class node_impl;
}

/// A troupe node: makes a system reachable from other nodes and other
/// systems' actors reachable from it.
///
/// A node listens (optionally), dials the nodes it is asked to connect to,
/// authenticates every connection with the cluster cookie and keeps one
/// session per peer node. Through it, an `endpoint<A>` may point at an actor
/// on another node: `tell`, `ask` and `watch` work on it as on a local one.
/// Get such endpoints with lookup() (by label from the peer's receptionist),
/// spawn_on(), or inside messages (every endpoint a message carries arrives
/// usable).
///
/// The system must outlive the node; stop the node (or destroy it) before
/// the system.
///
/// Thread safety: every member may be called from any thread.
class node {
 public:
  /// Starts a node for `sys` on `net`, serving and talking to the actor
  /// types in `types`. Fails with invalid_name / invalid_argument for a bad
  /// name or cookie, or the transport's error when it cannot listen.
  static result<std::unique_ptr<node>> start(system& sys, node_config config, remote_types types,
                                             std::shared_ptr<transport> net);
  /// Starts a node from its config alone: makes a tcp_transport with
  /// its I/O on the system's pool workers (config.io_on_workers) or on
  /// config.io_threads threads, mutual TLS 1.3 with the files of config.tls
  /// when set (plain TCP otherwise), config.handshake_timeout as its dial and
  /// TLS handshake bound, and owns it. Fails as the overload above, and with
  /// invalid_argument when io_threads is 0 or a TLS file cannot be read, is
  /// not what it should be, or the key does not match the certificate (the
  /// error's detail names the file).
  static result<std::unique_ptr<node>> start(system& sys, node_config config, remote_types types);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Says goodbye to every peer and closes every session; pending asks to
  /// other nodes end with node_down. Later calls do nothing.
  void stop();

  /// Returns the system this node makes reachable.
  [[nodiscard]] troupe::system& local_system() const noexcept;
  [[nodiscard]] const std::string& name() const noexcept;
  [[nodiscard]] std::uint64_t incarnation() const noexcept;
  /// Returns the address the node listens on (empty when it does not).
  [[nodiscard]] const std::string& address() const noexcept;

  /// Connects to the node at `address` and keeps it connected: when the
  /// session drops, the node dials again with back-off until disconnect().
  /// The response ends with the peer's name once the first session is
  /// authenticated, or with the first attempt's error (node_down,
  /// unauthorized for a wrong cookie, name_taken, timeout). A connect()
  /// while a dial to `address` has been in flight for 250 ms or more starts
  /// a fresh dial beside it (the first may hang in a partition that has
  /// healed since); the result of the one that loses is ignored.
  response<std::string> connect(std::string_view address);
  /// Stops redialing `address` (an open session stays until it drops).
  void disconnect(std::string_view address);
  /// Returns the names of the nodes with an authenticated session.
  [[nodiscard]] std::vector<std::string> peers() const;

  /// Asks node `peer` for the actor checked in at its receptionist under
  /// `label`, which must be an A. Ends with actor_not_found (no such label,
  /// or an actor of another type), unauthorized (a private entry), node_down
  /// (no session to `peer`) or timeout.
  ///
  /// Endpoints of one remote actor (same node, incarnation and id) that this
  /// node hands out, by lookup(), spawn_on() or inside messages, compare
  /// equal: the node keeps one handle per remote actor for as long as any
  /// endpoint holds it (without holding it itself).
  template <class A>
  response<endpoint<A>> lookup(std::string_view peer, std::string_view label,
                               std::optional<duration> timeout = std::nullopt) {
    auto st = make_ref<troupe::detail::reply_state<endpoint<A>>>();
    arm(*st, timeout);
    lookup_erased(peer, label, actor_type::of<A>().name, st, &complete_with_endpoint<A>);
    return response<endpoint<A>>(std::move(st), &sys_core());
  }

  /// Spawns an A on node `peer` from `args` (encoded; the peer must have
  /// added A with add_spawnable<A, Args...>()), checked in there under
  /// `label` if not empty. Ends with the new actor's endpoint, or
  /// invalid_argument (A is not spawnable there, or the arguments do not
  /// decode), start_failed, name_taken / invalid_name (the label), node_down
  /// or timeout.
  template <class A, class... Args>
  response<endpoint<A>> spawn_on(std::string_view peer, std::string_view label, Args&&... args) {
    auto st = make_ref<troupe::detail::reply_state<endpoint<A>>>();
    arm(*st, std::nullopt);
    std::vector<std::byte> encoded;
    codec::binary_writer w(encoded, &resolver());
    codec::encode(w, std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...));
    spawn_erased(peer, label, actor_type::of<A>().name, encoded, st, &complete_with_endpoint<A>);
    return response<endpoint<A>>(std::move(st), &sys_core());
  }

  /// Calls `fn` for every node event from now on, on the thread where it
  /// happens (keep it short; it must not throw). Returns an id for
  /// unsubscribe().
  std::uint64_t subscribe(std::function<void(const node_event&)> fn);
  /// Sends every node event to actor `s` as a node_event message.
  template <class S>
  std::uint64_t subscribe(const endpoint<S>& s) {
    static_assert(handles_v<S, node_event>, "troupe: the subscriber must handle node_event");
    return subscribe([s](const node_event& e) { (void)s.tell(node_event(e)); });
  }
  void unsubscribe(std::uint64_t id);

  // ---- channels: ordered bytes between nodes for the layers above ----

  /// Receives the body of a channel frame: the sending peer's name and
  /// incarnation, and the bytes. Runs on the thread that read the frame.
  using channel_handler = std::function<void(const std::string& peer, std::uint64_t incarnation,
                                             std::span<const std::byte> body)>;
  /// The highest channel number.
  static constexpr std::uint8_t max_channel = 15;
  /// Sets the handler of channel `ch` (1 to max_channel); an empty function
  /// clears it (frames on a channel without a handler are counted as
  /// undeliverable). A handler that is being replaced may still be running
  /// on another thread when this returns. Fails with invalid_argument for a
  /// channel out of range.
  result<void> set_channel(std::uint8_t ch, channel_handler fn);
  /// Sends `body` on channel `ch` over the session to `peer`, in order with
  /// everything else sent on that session. When `incarnation` is not 0 the
  /// session must be with that life of the peer. Fails with node_down (no
  /// such session), mailbox_full (too many bytes queued for the peer) or
  /// invalid_argument (channel out of range, or a body larger than
  /// max_message_size).
  result<void> send_channel(std::string_view peer, std::uint64_t incarnation, std::uint8_t ch,
                            std::span<const std::byte> body);
  /// Ends the session to `peer` now (only if it is with life `incarnation`,
  /// when that is not 0), as if it had timed out: pending asks to it end
  /// with node_down and watches of its actors fire, once each. A node
  /// dialed with connect() is redialed unless disconnect() was called.
  /// Returns false when there was no such session.
  bool drop(std::string_view peer, std::uint64_t incarnation, std::string_view reason);

  /// Returns the resolver that turns endpoints in messages into addresses
  /// and back (exporting local actors as they are sent).
  [[nodiscard]] const codec::endpoint_resolver& resolver() const noexcept;
  [[nodiscard]] node_stats stats() const;
  /// Writes `line` to the node's log (node_config::log, else standard
  /// error), as the node's own lines go: for the layers above it.
  void log(std::string_view line) const;

  /// Completes a node-service request from its response (internal).
  using completion = void (*)(troupe::detail::reply_base&, codec::binary_reader&, session&,
                              const void*);

 private:
  explicit node(std::shared_ptr<detail::node_impl> impl);

  template <class A>
  static void complete_with_endpoint(troupe::detail::reply_base& reply, codec::binary_reader& r,
                                     session& s, const void* /*context*/) {
    ref_ptr<actor_handle> h = endpoint_from_reply(r, s);
    if (!r.ok()) {
      reply.complete_error(r.failure());
      return;
    }
    endpoint<A> ep(std::move(h));
    reply.complete_erased(&ep);
  }
  static ref_ptr<actor_handle> endpoint_from_reply(codec::binary_reader& r, session& s);

  void arm(troupe::detail::reply_base& st, std::optional<duration> timeout);
  system_core& sys_core() const noexcept;
  void lookup_erased(std::string_view peer, std::string_view label, std::string_view type,
                     ref_ptr<troupe::detail::reply_base> st, completion done);
  void spawn_erased(std::string_view peer, std::string_view label, std::string_view type,
                    const std::vector<std::byte>& args, ref_ptr<troupe::detail::reply_base> st,
                    completion done);

  std::shared_ptr<detail::node_impl> impl_;
};

}  // namespace troupe::net
