#pragma once

// The inside of a net::node, shared by node.cpp (sessions, connecting),
// node_frames.cpp (what arrives from peers) and remote_proxy.cpp (remote
// actors, exports, the resolver). Not part of the public API.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "troupe/core/ticker.hpp"
#include "troupe/net/crypto.hpp"
#include "troupe/net/node.hpp"
#include "troupe/net/wire.hpp"

namespace troupe::net::detail {

// A reused encoding buffer per thread: a send encodes into it, the write
// queue copies the bytes, and the buffer keeps its capacity.
inline std::vector<std::byte>& scratch() {
  thread_local std::vector<std::byte> buf;
  buf.clear();
  return buf;
}

class proxy;

/// One remote node as this node knows it: its current session, if any.
struct peer_state {
  explicit peer_state(std::string n) : name(std::move(n)) {}
  const std::string name;
  std::mutex mu;
  std::shared_ptr<session> current;  // guarded by mu
  std::uint64_t incarnation = 0;     // guarded by mu: of `current`
};

/// A node dialed with connect(): redialed with back-off while wanted.
struct wanted_address {
  bool wanted = true;
  bool dialing = false;
  // The dial in flight: its number (a result of an older one is stale) and
  // when it started.
  std::uint64_t dial_id = 0;
  time_point dial_started{};
  std::shared_ptr<session> last;  // the session dialed last
  duration backoff{};
  time_point next_dial{};
  std::vector<ref_ptr<troupe::detail::reply_state<std::string>>> waiters;
};

/// Names one remote actor: the proxy cache's key.
struct proxy_key {
  std::string node;
  std::uint64_t incarnation = 0;
  actor_id id = 0;
  friend bool operator==(const proxy_key&, const proxy_key&) = default;
};
struct proxy_key_hash {
  std::size_t operator()(const proxy_key& k) const noexcept {
    std::size_t h = std::hash<std::string>()(k.node);
    h ^= std::hash<std::uint64_t>()(k.incarnation) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    h ^= std::hash<std::uint64_t>()(k.id) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
  }
};

/// The shared state of a node. Sessions, proxies and timers refer to it.
class node_impl final : public session_owner,
                        public codec::endpoint_resolver,
                        public std::enable_shared_from_this<node_impl> {
 public:
  node_impl(system& sys, node_config cfg, remote_types types, std::shared_ptr<transport> net)
      : sys_(sys), cfg_(std::move(cfg)), types_(std::move(types)), net_(std::move(net)) {}

  result<void> start();
  void stop();

  // ---- sending (any thread) ----
  std::shared_ptr<session> session_of(peer_state& p, std::uint64_t incarnation) {
    std::lock_guard lock(p.mu);
    if (!p.current || p.incarnation != incarnation) return nullptr;
    return p.current;
  }
  std::shared_ptr<session> current_session(std::string_view name) {
    std::shared_ptr<peer_state> p = find_peer(name);
    if (!p) return nullptr;
    std::lock_guard lock(p->mu);
    return p->current;
  }
  std::shared_ptr<peer_state> find_peer(std::string_view name) {
    std::lock_guard lock(mu_);
    auto it = peers_.find(std::string(name));
    return it == peers_.end() ? nullptr : it->second;
  }
  std::shared_ptr<peer_state> peer(std::string_view name) {
    std::lock_guard lock(mu_);
    auto& p = peers_[std::string(name)];
    if (!p) p = std::make_shared<peer_state>(std::string(name));
    return p;
  }
  /// Returns the handle of remote actor (node, incarnation, id): the one
  /// handed out before while anything still holds it, else a new one.
  ref_ptr<actor_handle> make_proxy(const std::string& node, std::uint64_t incarnation, actor_id id);
  /// Forgets the cached handle of `key` if it is `gone` (which is being
  /// destroyed).
  void forget_proxy(const proxy_key& key, const proxy* gone) noexcept;

  // Sends node-service request `op` (to actor 0) with `args` to `peer_name`.
  void service_request(std::string_view peer_name, std::uint8_t op, std::span<const std::byte> args,
                       ref_ptr<troupe::detail::reply_base> st, node::completion done);

  result<void> set_channel(std::uint8_t ch, node::channel_handler fn);
  result<void> send_channel(std::string_view peer, std::uint64_t incarnation, std::uint8_t ch,
                            std::span<const std::byte> body);
  bool drop(std::string_view peer, std::uint64_t incarnation, std::string_view reason);

  response<std::string> connect(std::string_view address);
  void disconnect(std::string_view address);
  std::vector<std::string> peers() const;

  std::uint64_t subscribe(std::function<void(const node_event&)> fn) {
    std::lock_guard lock(events_mu_);
    const std::uint64_t id = next_subscriber_++;
    subscribers_.emplace_back(id, std::move(fn));
    return id;
  }
  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(events_mu_);
    std::erase_if(subscribers_, [id](const auto& s) { return s.first == id; });
  }

  // ---- session_owner ----
  handshake_failure vet(session& s, const handshake_peer& claimed) override;
  void on_authenticated(session& s) override;
  void on_frame(session& s, const frame& f) override;
  void on_closed(session& s, const error& why) override;
  void log(std::string_view line) override {
    if (cfg_.log) {
      cfg_.log(line);
    } else {
      std::cerr << "[troupe node " << cfg_.name << "] " << line << '\n';
    }
  }

  // ---- endpoint_resolver ----
  [[nodiscard]] actor_address address_of(const actor_handle& h) const override;
  [[nodiscard]] ref_ptr<actor_handle> resolve(const actor_address& a) const override;

  system& sys() const noexcept { return sys_; }
  const node_config& config() const noexcept { return cfg_; }
  const remote_types& types() const noexcept { return types_; }
  const std::string& address() const noexcept { return address_; }
  node_stats stats() const;
  void count(std::uint64_t node_stats::*field) {
    std::lock_guard lock(mu_);
    ++(stats_.*field);
  }

  /// Makes a local actor reachable by id from other nodes; returns its id.
  actor_id export_actor(ref_ptr<actor_handle> h) const;
  ref_ptr<actor_handle> exported(actor_id id) const {
    std::lock_guard lock(exports_mu_);
    auto it = exports_.find(id);
    return it == exports_.end() ? ref_ptr<actor_handle>() : it->second;
  }
  void unexport(actor_id id) const {
    std::lock_guard lock(exports_mu_);
    exports_.erase(id);
  }

  void tick();

 private:
  void accept(std::shared_ptr<link> l);
  /// A dial in flight this long may be superseded by a new connect().
  static constexpr duration stale_dial_after = std::chrono::milliseconds(250);

  // Marks a dial of `w` as started now; returns its number for dial().
  std::uint64_t begin_dial(wanted_address& w) {
    w.dialing = true;
    w.dial_started = sys_.time().now();
    return ++w.dial_id;
  }
  void dial(const std::string& address, std::uint64_t id);
  void add_session(std::shared_ptr<link> l, handshake_role role, const std::string& dialed);
  void emit(const node_event& e);
  void schedule_redial(wanted_address& w, time_point now);

  // Frames from the peer.
  void on_message(session& s, codec::binary_reader& r);
  void on_channel(session& s, codec::binary_reader& r);
  void on_request(session& s, std::uint64_t id, codec::binary_reader& r);
  void on_service(session& s, std::uint64_t id, codec::binary_reader& r);
  void on_response(session& s, std::uint64_t id, codec::binary_reader& r);
  void on_control(session& s, codec::binary_reader& r);
  // Reads a type id and a message for an actor of dispatch `d`: returns the
  // new message (taken over by the caller) and its dispatch, or null.
  void* read_message(codec::binary_reader& r, const actor_dispatch& d,
                     const message_dispatch** out);

  system& sys_;
  node_config cfg_;
  remote_types types_;
  std::shared_ptr<transport> net_;
  std::string address_;
  crypto_random random_;

  mutable std::mutex mu_;  // guards what follows
  std::unordered_map<std::string, std::shared_ptr<peer_state>> peers_;
  std::unordered_set<std::shared_ptr<session>> sessions_;
  std::unordered_map<const session*, std::string> dialed_;  // session -> address it dialed
  std::unordered_map<std::string, wanted_address> wanted_;
  node_stats stats_;
  bool stopped_ = false;

  mutable std::mutex exports_mu_;
  mutable std::unordered_map<actor_id, ref_ptr<actor_handle>> exports_;

  std::mutex events_mu_;
  std::vector<std::pair<std::uint64_t, std::function<void(const node_event&)>>> subscribers_;
  std::uint64_t next_subscriber_ = 1;

  std::atomic<std::uint64_t> next_watch_{1};

  // Channel handlers, by channel number (0 unused). Copied out under the
  // lock, called outside it.
  std::mutex channels_mu_;
  std::array<std::shared_ptr<const node::channel_handler>, node::max_channel + 1> channels_;

  // One handle per remote actor while anything holds it. The cache holds no
  // reference: a proxy being destroyed removes its own entry, and a lookup
  // that finds a proxy whose count already reached zero makes a new one.
  mutable std::mutex proxies_mu_;  // guards what follows
  std::unordered_map<proxy_key, proxy*, proxy_key_hash> proxies_;
  bool proxies_closed_ = false;

  troupe::ticker* ticker_ = nullptr;

  friend class proxy;
};

// A remote actor, as an actor_handle.

class proxy final : public actor_handle {
 public:
  proxy(std::weak_ptr<node_impl> n, std::shared_ptr<peer_state> p, std::uint64_t incarnation,
        actor_id id, system_core& core)
      : node_(std::move(n)),
        peer_(std::move(p)),
        incarnation_(incarnation),
        id_(id),
        core_(core),
        key_{peer_->name, incarnation, id} {}

  send_result enqueue(envelope* e) noexcept override {
    errc why = send(e);
    if (why != errc{}) {
      e->reject(why);
      if (e->is_tell()) core_.count_dead_letter();
    }
    e->dispose();
    if (why != errc{}) return why;
    return {};
  }
  void enqueue_system(envelope* e) noexcept override {
    e->reject(errc::actor_not_found);
    e->dispose();
  }
  void enqueue_notice(envelope* e) noexcept override {
    e->reject(errc::actor_not_found);
    e->dispose();
  }
  [[nodiscard]] actor_id id() const noexcept override { return id_; }
  void stop(exit_reason why) noexcept override {
    signal(why.what() == exit_reason::kind::normal ? wire::signal_stop : wire::signal_kill);
  }
  void kill() noexcept override { signal(wire::signal_kill); }
  void drain() noexcept override { signal(wire::signal_drain); }
  void exit(exit_reason) noexcept override { signal(wire::signal_kill); }
  std::uint64_t add_watch(ref_ptr<watch_entry> e) override;
  void remove_watch(std::uint64_t token) noexcept override;
  [[nodiscard]] system_core& core() const noexcept override { return core_; }

  [[nodiscard]] actor_address address() const {
    return actor_address{peer_->name, incarnation_, id_};
  }

 protected:
  // The last reference is gone: leave the node's cache, then go.
  void destroy() noexcept override {
    if (std::shared_ptr<node_impl> n = node_.lock()) n->forget_proxy(key_, this);
    delete this;
  }

 private:
  errc send(envelope* e) noexcept;
  void signal(std::uint8_t what) noexcept;

  std::weak_ptr<node_impl> node_;
  std::shared_ptr<peer_state> peer_;
  std::uint64_t incarnation_;
  actor_id id_;
  system_core& core_;
  const proxy_key key_;                                         // in the node's cache
  std::atomic<const codec::message_info*> last_info_{nullptr};  // of the last message sent
};

}  // namespace troupe::net::detail
