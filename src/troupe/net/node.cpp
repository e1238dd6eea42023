#include "troupe/net/node.hpp"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "troupe/core/receptionist.hpp"
#include "troupe/net/crypto.hpp"
#include "troupe/net/wire.hpp"

namespace troupe::net {

std::string_view to_string(node_event::kind k) noexcept {
  switch (k) {
    case node_event::kind::connected:
      return "connected";
    case node_event::kind::authenticated:
      return "authenticated";
    case node_event::kind::disconnected:
      return "disconnected";
  }
  return "unknown";
}

namespace detail {

namespace {

// A reused encoding buffer per thread: a send encodes into it, the write
// queue copies the bytes, and the buffer keeps its capacity.
std::vector<std::byte>& scratch() {
  thread_local std::vector<std::byte> buf;
  buf.clear();
  return buf;
}

std::int64_t micros(duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

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
  std::shared_ptr<session> last;  // the session dialed last
  duration backoff{};
  time_point next_dial{};
  std::vector<ref_ptr<troupe::detail::reply_state<std::string>>> waiters;
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
  ref_ptr<actor_handle> make_proxy(const std::string& node, std::uint64_t incarnation, actor_id id);

  // Sends a node-service request (target 0) to `peer_name`.
  void service_request(std::string_view peer_name, std::span<const std::byte> body,
                       ref_ptr<troupe::detail::reply_base> st, node::completion done);

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
  node_stats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }
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
  void dial(const std::string& address);
  void add_session(std::shared_ptr<link> l, handshake_role role, const std::string& dialed);
  void emit(const node_event& e);
  void schedule_redial(wanted_address& w, time_point now);

  // Frames from the peer.
  void on_message(session& s, codec::binary_reader& r);
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

  class ticker;
  ticker* ticker_ = nullptr;

  friend class proxy;
};

// ---------------------------------------------------------------------------
// The periodic tick: heartbeats, silent peers, handshake deadlines, redials.

class node_impl::ticker final : public timer_node {
 public:
  ticker(std::weak_ptr<node_impl> n, clock& c, duration period)
      : node_(std::move(n)), clock_(c), period_(period) {}

  void begin() {
    std::lock_guard lock(mu_);
    due = clock_.now() + period_;
    clock_.arm(*this);
  }
  // After end() the ticker deletes itself (now, or when its firing ends).
  void end() {
    std::unique_lock lock(mu_);
    stopped_ = true;
    if (clock_.cancel(*this)) {
      lock.unlock();
      delete this;
    }
  }
  void fire() noexcept override {
    std::unique_lock lock(mu_);
    if (stopped_) {
      lock.unlock();
      delete this;
      return;
    }
    if (auto n = node_.lock()) n->tick();
    due = clock_.now() + period_;
    clock_.arm(*this);
  }

 private:
  std::weak_ptr<node_impl> node_;
  clock& clock_;
  duration period_;
  std::mutex mu_;
  bool stopped_ = false;
};

// ---------------------------------------------------------------------------
// A remote actor, as an actor_handle.

class proxy final : public actor_handle {
 public:
  proxy(std::weak_ptr<node_impl> n, std::shared_ptr<peer_state> p, std::uint64_t incarnation,
        actor_id id, system_core& core)
      : node_(std::move(n)), peer_(std::move(p)), incarnation_(incarnation), id_(id), core_(core) {}

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

 private:
  errc send(envelope* e) noexcept;
  void signal(std::uint8_t what) noexcept;

  std::weak_ptr<node_impl> node_;
  std::shared_ptr<peer_state> peer_;
  std::uint64_t incarnation_;
  actor_id id_;
  system_core& core_;
};

namespace {

// Completes an ask with a reply read by the registry's value ops (`context`:
// the reply's value_ops, or null for a void reply).
void complete_with_ops(troupe::detail::reply_base& reply, codec::binary_reader& r, session&,
                       const void* context) {
  const auto* ops = static_cast<const codec::value_ops*>(context);
  if (ops == nullptr) {
    if (!r.done()) r.fail("bytes after a void reply");
    if (!r.ok()) {
      reply.complete_error(r.failure());
    } else {
      reply.complete_erased(nullptr);
    }
    return;
  }
  void* v = ops->decode(r);
  if (v != nullptr && !r.done()) r.fail("bytes left after the reply");
  if (v == nullptr || !r.ok()) {
    if (v != nullptr) ops->destroy(v);
    reply.complete_error(r.ok() ? error(errc::decode_error, "the reply did not decode")
                                : r.failure());
    return;
  }
  reply.complete_erased(v);
  ops->destroy(v);
}

}  // namespace

errc proxy::send(envelope* e) noexcept {
  std::shared_ptr<node_impl> n = node_.lock();
  if (!n) return errc::node_down;
  const std::type_info* type = e->message_type();
  if (type == nullptr) return errc::invalid_argument;
  const codec::message_info* info = n->types().messages().find(*type);
  if (info == nullptr) return errc::invalid_argument;  // not registered: cannot travel
  std::shared_ptr<session> s = n->session_of(*peer_, incarnation_);
  if (!s) return errc::node_down;
  try {
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf, n.get());
    w.varint(id_);
    troupe::detail::reply_base* reply = e->reply();
    if (reply != nullptr) {
      const duration left = reply->deadline() - core_.time().now();
      w.varint(static_cast<std::uint64_t>(std::max<std::int64_t>(0, micros(left))));
    }
    codec::message_registry::write_id(w, info->id);
    info->message->encode(w, e->message());
    if (reply == nullptr) {
      if (result<void> r = s->send(frame_kind::message, 0, buf); !r) return r.error().code();
      return errc{};
    }
    pending_request p{ref_ptr<troupe::detail::reply_base>(reply), &complete_with_ops, info->reply};
    if (auto id = s->request(buf, std::move(p)); !id) return id.error().code();
    return errc{};
  } catch (...) {
    return errc::invalid_argument;  // the message could not be encoded
  }
}

void proxy::signal(std::uint8_t what) noexcept {
  std::shared_ptr<node_impl> n = node_.lock();
  if (!n) return;
  std::shared_ptr<session> s = n->session_of(*peer_, incarnation_);
  if (!s) return;
  try {
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf);
    wire::write_signal(w, id_, what);
    (void)s->send(frame_kind::control, 0, buf);
  } catch (...) {
  }
}

std::uint64_t proxy::add_watch(ref_ptr<watch_entry> e) {
  std::shared_ptr<node_impl> n = node_.lock();
  std::shared_ptr<session> s = n ? n->session_of(*peer_, incarnation_) : nullptr;
  const std::uint64_t token = n ? n->next_watch_.fetch_add(1) : 0;
  if (!s || !s->add_watch_out(token, id_, e)) {
    e->notify(id_, exit_reason::node_down("no session to node " + peer_->name));
    return 0;
  }
  std::vector<std::byte>& buf = scratch();
  codec::binary_writer w(buf);
  wire::write_watch(w, id_, token);
  if (!s->send(frame_kind::control, 0, buf)) {
    if (auto mine = s->take_watch_out(token))
      mine->notify(id_, exit_reason::node_down("no session to node " + peer_->name));
    return 0;
  }
  return token;
}

void proxy::remove_watch(std::uint64_t token) noexcept {
  std::shared_ptr<node_impl> n = node_.lock();
  if (!n) return;
  std::shared_ptr<session> s = n->session_of(*peer_, incarnation_);
  if (!s || !s->take_watch_out(token)) return;
  try {
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf);
    wire::write_unwatch(w, token);
    (void)s->send(frame_kind::control, 0, buf);
  } catch (...) {
  }
}

ref_ptr<actor_handle> node_impl::make_proxy(const std::string& node_name, std::uint64_t incarnation,
                                            actor_id id) {
  return make_ref<proxy>(weak_from_this(), peer(node_name), incarnation, id, sys_.core());
}

// ---------------------------------------------------------------------------
// Exports and the resolver.

namespace {

// Forgets an exported actor when it ends.
class unexport_watch final : public watch_entry {
 public:
  explicit unexport_watch(std::weak_ptr<node_impl> n) : node_(std::move(n)) {}
  void notify(actor_id who, const exit_reason&) noexcept override {
    if (auto n = node_.lock()) n->unexport(who);
  }

 private:
  std::weak_ptr<node_impl> node_;
};

// Sends a down to the peer that watches a local actor.
class down_to_peer final : public watch_entry {
 public:
  down_to_peer(std::weak_ptr<session> s, std::uint64_t token) : s_(std::move(s)), token_(token) {}
  void notify(actor_id, const exit_reason& why) noexcept override {
    auto s = s_.lock();
    if (!s) return;
    try {
      std::vector<std::byte>& buf = scratch();
      codec::binary_writer w(buf);
      wire::write_down(w, token_, why);
      (void)s->send(frame_kind::control, 0, buf);
    } catch (...) {
    }
  }

 private:
  std::weak_ptr<session> s_;
  std::uint64_t token_;
};

// Answers an ask that came from the peer.
class session_responder final : public responder {
 public:
  session_responder(std::weak_ptr<session> s, std::uint64_t id) : s_(std::move(s)), id_(id) {}
  void send_value(void (*encode)(codec::binary_writer&, const void*),
                  const void* value) noexcept override {
    auto s = s_.lock();
    if (!s) return;
    auto* n = dynamic_cast<node_impl*>(&s->owner());
    try {
      std::vector<std::byte>& buf = scratch();
      codec::binary_writer w(buf, n);
      wire::write_u8(w, wire::status_ok);
      if (encode != nullptr) encode(w, value);
      (void)s->send(frame_kind::response, id_, buf);
    } catch (const std::exception& ex) {
      send_error(
          error(errc::handler_failed, std::string("the reply did not encode: ") + ex.what()));
    }
  }
  void send_error(const error& e) noexcept override {
    auto s = s_.lock();
    if (!s) return;
    try {
      std::vector<std::byte>& buf = scratch();
      codec::binary_writer w(buf);
      wire::write_error(w, e);
      (void)s->send(frame_kind::response, id_, buf);
    } catch (...) {
    }
  }

 private:
  std::weak_ptr<session> s_;
  std::uint64_t id_;
};

void respond_error(session& s, std::uint64_t id, const error& e) {
  std::vector<std::byte>& buf = scratch();
  codec::binary_writer w(buf);
  wire::write_error(w, e);
  (void)s.send(frame_kind::response, id, buf);
}

}  // namespace

actor_id node_impl::export_actor(ref_ptr<actor_handle> h) const {
  const actor_id id = h->id();
  {
    std::lock_guard lock(exports_mu_);
    if (!exports_.emplace(id, h).second) return id;
  }
  auto self = std::const_pointer_cast<node_impl>(shared_from_this());
  h->add_watch(make_ref<unexport_watch>(self));  // at once when already gone
  return id;
}

actor_address node_impl::address_of(const actor_handle& h) const {
  if (const auto* p = dynamic_cast<const proxy*>(&h)) return p->address();
  const actor_id id = export_actor(ref_ptr<actor_handle>(const_cast<actor_handle*>(&h)));
  return actor_address{cfg_.name, cfg_.incarnation, id};
}

ref_ptr<actor_handle> node_impl::resolve(const actor_address& a) const {
  if (a.node == cfg_.name) {
    if (a.incarnation != cfg_.incarnation) return {};  // a previous life of this node
    return exported(a.id);
  }
  return const_cast<node_impl*>(this)->make_proxy(a.node, a.incarnation, a.id);
}

// ---------------------------------------------------------------------------
// Starting, stopping, connecting.

result<void> node_impl::start() {
  if (result<void> r = validate_node_name(cfg_.name); !r) return r;
  if (cfg_.cookie.empty()) return error(errc::invalid_argument, "the cluster cookie is empty");
  if (cfg_.heartbeat_interval <= duration::zero() || cfg_.peer_timeout <= cfg_.heartbeat_interval)
    return error(errc::invalid_argument,
                 "heartbeat_interval must be positive and shorter than peer_timeout");
  while (cfg_.incarnation == 0) cfg_.incarnation = random_.next();
  if (!cfg_.listen.empty()) {
    std::weak_ptr<node_impl> weak = weak_from_this();
    auto bound = net_->listen(cfg_.listen, [weak](std::shared_ptr<link> l) {
      if (auto n = weak.lock()) n->accept(std::move(l));
    });
    if (!bound) return bound.error();
    address_ = *bound;
  }
  ticker_ = new ticker(weak_from_this(), sys_.time(), cfg_.heartbeat_interval / 2);
  ticker_->begin();
  return {};
}

void node_impl::stop() {
  std::vector<std::shared_ptr<session>> all;
  std::vector<ref_ptr<troupe::detail::reply_state<std::string>>> waiters;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    all.assign(sessions_.begin(), sessions_.end());
    for (auto& [address, w] : wanted_) {
      w.wanted = false;
      for (auto& st : w.waiters) waiters.push_back(std::move(st));
      w.waiters.clear();
    }
  }
  if (ticker_ != nullptr) ticker_->end();
  ticker_ = nullptr;
  for (auto& st : waiters) st->complete(error(errc::shutting_down, "the node stopped"));
  for (auto& s : all) s->close(error(errc::shutting_down, "the node is stopping"), true);
  net_->stop();  // runs every link's on_closed before it returns
}

void node_impl::accept(std::shared_ptr<link> l) {
  add_session(std::move(l), handshake_role::acceptor, {});
}

void node_impl::add_session(std::shared_ptr<link> l, handshake_role role,
                            const std::string& dialed) {
  handshake_config hc{cfg_.name, cfg_.incarnation, cfg_.cookie, cfg_.handshake_timeout,
                      l->channel_binding()};
  auto hs = handshake::make(role, std::move(hc), random_, sys_.time().now());
  if (!hs) {
    log("cannot start a handshake: " + hs.error().message());
    l->close();
    return;
  }
  session_options opts;
  opts.max_frame_size = cfg_.max_frame_size;
  opts.reassembly.max_message_size = cfg_.max_message_size;
  opts.writes.chunk_size = std::min<std::size_t>(opts.writes.chunk_size, cfg_.max_frame_size - 16);
  opts.writes.max_control_payload = cfg_.max_frame_size - frame_header_size;
  opts.writes.max_message_size = cfg_.max_message_size;
  opts.max_queued_bytes = cfg_.max_queued_bytes;
  auto s = std::make_shared<session>(*this, l, std::move(*hs), opts, sys_.time());
  const std::string remote = l->remote_address();
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      l->close();
      return;
    }
    sessions_.insert(s);
    if (!dialed.empty()) {
      dialed_[s.get()] = dialed;
      auto it = wanted_.find(dialed);
      if (it != wanted_.end()) it->second.last = s;
    }
  }
  emit(node_event{node_event::kind::connected, {}, 0, remote, {}});
  s->begin();
}

response<std::string> node_impl::connect(std::string_view address) {
  auto st = make_ref<troupe::detail::reply_state<std::string>>();
  st->arm_deadline(sys_.time(), sys_.time().now() + cfg_.handshake_timeout * 2);
  bool dial_now = false;
  std::string name;
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      st->complete(error(errc::shutting_down, "the node stopped"));
      return response<std::string>(std::move(st), &sys_.core());
    }
    wanted_address& w = wanted_[std::string(address)];
    w.wanted = true;
    if (w.last && w.last->authenticated() && !w.last->closed()) {
      name = w.last->peer().name;
    } else {
      w.waiters.push_back(st);
      if (!w.dialing && !w.last) {
        w.dialing = true;
        dial_now = true;
      }
    }
  }
  if (!name.empty()) st->complete(std::move(name));
  if (dial_now) dial(std::string(address));
  return response<std::string>(std::move(st), &sys_.core());
}

void node_impl::disconnect(std::string_view address) {
  std::lock_guard lock(mu_);
  auto it = wanted_.find(std::string(address));
  if (it != wanted_.end()) it->second.wanted = false;
}

std::vector<std::string> node_impl::peers() const {
  std::vector<std::shared_ptr<peer_state>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, p] : peers_) all.push_back(p);
  }
  std::vector<std::string> out;
  for (auto& p : all) {
    std::lock_guard lock(p->mu);
    if (p->current) out.push_back(p->name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void node_impl::dial(const std::string& address) {
  std::weak_ptr<node_impl> weak = weak_from_this();
  net_->dial(address, [weak, address](result<std::shared_ptr<link>> l) {
    auto n = weak.lock();
    if (!n) {
      if (l) (*l)->close();
      return;
    }
    if (l) {
      {
        std::lock_guard lock(n->mu_);
        auto it = n->wanted_.find(address);
        if (it != n->wanted_.end()) it->second.dialing = false;
      }
      n->add_session(std::move(*l), handshake_role::dialer, address);
      return;
    }
    n->log("dialing " + address + " failed: " + l.error().message());
    std::vector<ref_ptr<troupe::detail::reply_state<std::string>>> waiters;
    {
      std::lock_guard lock(n->mu_);
      auto it = n->wanted_.find(address);
      if (it == n->wanted_.end()) return;
      it->second.dialing = false;
      waiters.swap(it->second.waiters);
      if (it->second.wanted && !n->stopped_) n->schedule_redial(it->second, n->sys_.time().now());
    }
    for (auto& st : waiters) st->complete(l.error());
  });
}

void node_impl::schedule_redial(wanted_address& w, time_point now) {
  w.backoff = w.backoff == duration::zero() ? cfg_.reconnect_min
                                            : std::min(w.backoff * 2, cfg_.reconnect_max);
  // Jitter: between half and all of the back-off, so that peers that lost
  // each other at once do not redial in lockstep.
  const auto half = w.backoff / 2;
  const auto span = static_cast<std::uint64_t>(std::max<duration::rep>(1, half.count()));
  w.next_dial = now + half + duration(static_cast<duration::rep>(random_.next() % span));
  w.last.reset();
}

void node_impl::tick() {
  const time_point now = sys_.time().now();
  std::vector<std::shared_ptr<session>> all;
  std::vector<std::string> redial;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    all.assign(sessions_.begin(), sessions_.end());
    for (auto& [address, w] : wanted_) {
      if (w.wanted && !w.dialing && !w.last && w.next_dial <= now) {
        w.dialing = true;
        redial.push_back(address);
      }
    }
  }
  for (auto& s : all) s->tick(now, cfg_.peer_timeout);
  for (auto& a : redial) dial(a);
}

// ---------------------------------------------------------------------------
// Session events.

handshake_failure node_impl::vet(session&, const handshake_peer& claimed) {
  std::shared_ptr<peer_state> p = find_peer(claimed.name);
  if (!p) return handshake_failure::none;
  std::lock_guard lock(p->mu);
  // A session to the same life of that node is up: keep it, refuse this one.
  if (p->current && !p->current->closed() && p->incarnation == claimed.incarnation)
    return handshake_failure::name_clash;
  return handshake_failure::none;
}

void node_impl::on_authenticated(session& s) {
  std::shared_ptr<session> self;
  std::string dialed;
  {
    std::lock_guard lock(mu_);
    for (const auto& x : sessions_) {
      if (x.get() == &s) self = x;
    }
    if (!self) return;  // closed meanwhile
    ++stats_.sessions_opened;
    if (auto it = dialed_.find(&s); it != dialed_.end()) dialed = it->second;
  }
  const handshake_peer& who = s.peer();
  std::shared_ptr<peer_state> p = peer(who.name);
  std::shared_ptr<session> dropped;
  error drop_reason(errc::node_down);
  {
    std::lock_guard lock(p->mu);
    std::shared_ptr<session> old = p->current;
    if (old && !old->closed() && p->incarnation == who.incarnation) {
      // Both nodes dialed each other at once: both keep the connection that
      // the node with the smaller name dialed.
      auto dialer_of = [&](const session& x) {
        return x.role() == handshake_role::dialer ? cfg_.name : who.name;
      };
      if (dialer_of(s) < dialer_of(*old)) {
        p->current = self;
        dropped = old;
      } else {
        dropped = self;
      }
      drop_reason = error(errc::name_taken, "a second connection to the same node");
    } else {
      if (old && !old->closed())
        drop_reason = error(errc::node_down, "node " + who.name + " restarted");
      dropped = old;
      p->current = self;
      p->incarnation = who.incarnation;
    }
  }
  if (dropped && dropped.get() != &s) dropped->close(drop_reason, true);
  if (dropped.get() == &s) {
    s.close(drop_reason, true);
    return;
  }
  std::vector<ref_ptr<troupe::detail::reply_state<std::string>>> waiters;
  if (!dialed.empty()) {
    std::lock_guard lock(mu_);
    auto it = wanted_.find(dialed);
    if (it != wanted_.end()) {
      it->second.backoff = duration::zero();
      waiters.swap(it->second.waiters);
    }
  }
  for (auto& st : waiters) st->complete(std::string(who.name));
  emit(node_event{
      node_event::kind::authenticated, who.name, who.incarnation, s.remote_address(), {}});
}

void node_impl::on_closed(session& s, const error& why) {
  std::shared_ptr<session> self;
  std::string dialed;
  std::vector<ref_ptr<troupe::detail::reply_state<std::string>>> waiters;
  {
    std::lock_guard lock(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->get() == &s) {
        self = *it;
        sessions_.erase(it);
        break;
      }
    }
    if (auto it = dialed_.find(&s); it != dialed_.end()) {
      dialed = it->second;
      dialed_.erase(it);
    }
    if (!s.authenticated()) ++stats_.handshakes_failed;
    if (why.code() == errc::decode_error) ++stats_.protocol_errors;
    if (!dialed.empty()) {
      auto it = wanted_.find(dialed);
      if (it != wanted_.end() && it->second.last.get() == &s) {
        if (!s.authenticated()) waiters.swap(it->second.waiters);
        if (it->second.wanted && !stopped_) {
          schedule_redial(it->second, sys_.time().now());
        } else {
          it->second.last.reset();
        }
      }
    }
  }
  for (auto& st : waiters) st->complete(why);
  if (!s.authenticated()) return;
  bool was_current = false;
  if (std::shared_ptr<peer_state> p = find_peer(s.peer().name)) {
    std::lock_guard lock(p->mu);
    if (p->current.get() == &s) {
      p->current.reset();
      was_current = true;
    }
  }
  if (was_current)
    emit(node_event{node_event::kind::disconnected, s.peer().name, s.peer().incarnation,
                    s.remote_address(), why.message()});
}

void node_impl::emit(const node_event& e) {
  std::vector<std::function<void(const node_event&)>> fns;
  {
    std::lock_guard lock(events_mu_);
    for (auto& [id, fn] : subscribers_) fns.push_back(fn);
  }
  for (auto& fn : fns) {
    try {
      fn(e);
    } catch (...) {  // a subscriber may not disturb the node
    }
  }
}

// ---------------------------------------------------------------------------
// Frames from the peer.

void node_impl::on_frame(session& s, const frame& f) {
  codec::decode_limits limits;
  limits.max_total = cfg_.max_message_size;
  limits.max_elements = cfg_.max_message_size;  // a string may fill the message
  codec::binary_reader r(f.payload, limits, this);
  switch (f.header.kind) {
    case frame_kind::message:
      return on_message(s, r);
    case frame_kind::request:
      return on_request(s, f.header.id, r);
    case frame_kind::response:
      return on_response(s, f.header.id, r);
    case frame_kind::control:
      return on_control(s, r);
    default:
      return;
  }
}

void* node_impl::read_message(codec::binary_reader& r, const actor_dispatch& d,
                              const message_dispatch** out) {
  const std::span<const std::byte> id_bytes = r.raw(8);
  if (!r.ok()) return nullptr;
  codec::type_id id = 0;
  for (int i = 7; i >= 0; --i) id = (id << 8) | std::to_integer<std::uint64_t>(id_bytes[i]);
  auto it = d.messages.find(id);
  if (it == d.messages.end()) {
    const codec::message_info* known = types_.messages().find(id);
    r.fail(known != nullptr
               ? "actor " + std::string(d.type.name) + " does not handle " + known->name
               : "unknown message type id");
    return nullptr;
  }
  void* m = it->second.info->message->decode(r);
  if (m != nullptr && !r.done()) r.fail("bytes left after the message");
  if (m != nullptr && !r.ok()) {
    it->second.info->message->destroy(m);
    return nullptr;
  }
  *out = &it->second;
  return m;
}

void node_impl::on_message(session&, codec::binary_reader& r) {
  const actor_id target = r.varint();
  if (!r.ok()) return count(&node_stats::bad_messages);
  ref_ptr<actor_handle> h = exported(target);
  const actor_dispatch* d = h ? types_.find(h->actor_type_tag()) : nullptr;
  if (d == nullptr) {
    sys_.core().count_dead_letter();
    return count(&node_stats::undeliverable);
  }
  const message_dispatch* md = nullptr;
  void* m = read_message(r, *d, &md);
  if (m == nullptr) return count(&node_stats::bad_messages);
  (void)h->enqueue(md->make_tell(m));
}

void node_impl::on_request(session& s, std::uint64_t id, codec::binary_reader& r) {
  const actor_id target = r.varint();
  const std::uint64_t timeout_us = r.varint();
  if (!r.ok()) {
    count(&node_stats::bad_messages);
    return respond_error(s, id, r.failure());
  }
  if (target == 0) return on_service(s, id, r);
  ref_ptr<actor_handle> h = exported(target);
  const actor_dispatch* d = h ? types_.find(h->actor_type_tag()) : nullptr;
  if (d == nullptr) {
    count(&node_stats::undeliverable);
    return respond_error(s, id,
                         error(errc::actor_not_found,
                               "no actor " + std::to_string(target) + " on node " + cfg_.name));
  }
  const message_dispatch* md = nullptr;
  void* m = read_message(r, *d, &md);
  if (m == nullptr) {
    count(&node_stats::bad_messages);
    return respond_error(s, id, r.failure());
  }
  const auto timeout = std::chrono::microseconds(
      std::min<std::uint64_t>(timeout_us, std::uint64_t{24} * 3600 * 1000 * 1000));
  envelope* e = md->make_ask(m, new session_responder(s.weak_from_this(), id), sys_.time(),
                             sys_.time().now() + timeout);
  (void)h->enqueue(e);  // a refusal completes the ask, which answers the peer
}

void node_impl::on_service(session& s, std::uint64_t id, codec::binary_reader& r) {
  const std::uint8_t op = wire::read_u8(r);
  if (op == wire::service_lookup) {
    std::string label = r.string();
    std::string type = r.string();
    if (!r.done()) r.fail("bytes left after a lookup");
    if (!r.ok()) return respond_error(s, id, r.failure());
    std::optional<reception_entry> e = sys_.receptionist().find(label);
    if (!e)
      return respond_error(s, id,
                           error(errc::actor_not_found,
                                 "no actor checked in as \"" + label + "\" on node " + cfg_.name));
    if (e->vis == visibility::private_)
      return respond_error(
          s, id, error(errc::unauthorized, "\"" + label + "\" is private to node " + cfg_.name));
    if (e->type.name != type)
      return respond_error(
          s, id,
          error(errc::actor_not_found,
                "\"" + label + "\" is a " + std::string(e->type.name) + ", not a " + type));
    const actor_id aid = export_actor(e->actor);
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf);
    wire::write_u8(w, wire::status_ok);
    w.varint(aid);
    (void)s.send(frame_kind::response, id, buf);
    return;
  }
  if (op == wire::service_spawn) {
    std::string type = r.string();
    std::string label = r.string();
    if (!r.ok()) return respond_error(s, id, r.failure());
    const actor_dispatch* d = types_.find(std::string_view(type));
    if (d == nullptr || d->spawn == nullptr)
      return respond_error(
          s, id,
          error(errc::invalid_argument,
                "actor type \"" + type + "\" cannot be spawned on node " + cfg_.name));
    spawn_options opts;
    opts.label = label;
    result<ref_ptr<actor_handle>> h = d->spawn(sys_, opts, r);
    if (!h) return respond_error(s, id, h.error());
    const actor_id aid = export_actor(*h);
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf);
    wire::write_u8(w, wire::status_ok);
    w.varint(aid);
    (void)s.send(frame_kind::response, id, buf);
    return;
  }
  respond_error(s, id, error(errc::decode_error, "unknown node service request"));
}

void node_impl::on_response(session& s, std::uint64_t id, codec::binary_reader& r) {
  pending_request p = s.take_pending(id);
  if (!p.reply) return;  // late (its ask ended already) or unknown
  const std::uint8_t status = wire::read_u8(r);
  if (!r.ok()) {
    p.reply->complete_error(r.failure());
    return;
  }
  if (status == wire::status_ok) {
    p.complete(*p.reply, r, s, p.context);
    return;
  }
  error e = wire::read_error_body(r, status);
  p.reply->complete_error(std::move(e));
}

void node_impl::on_control(session& s, codec::binary_reader& r) {
  const std::uint8_t op = wire::read_u8(r);
  switch (op) {
    case wire::control_watch: {
      const actor_id target = r.varint();
      const std::uint64_t token = r.varint();
      if (!r.ok()) return;
      ref_ptr<actor_handle> h = exported(target);
      auto entry = make_ref<down_to_peer>(s.weak_from_this(), token);
      if (!h) {
        entry->notify(target, exit_reason(exit_reason::kind::normal));
        return;
      }
      const std::uint64_t local = h->add_watch(entry);
      if (local != 0) s.add_watch_in(token, std::move(h), local);
      return;
    }
    case wire::control_unwatch: {
      const std::uint64_t token = r.varint();
      if (r.ok()) s.remove_watch_in(token);
      return;
    }
    case wire::control_down: {
      const std::uint64_t token = r.varint();
      exit_reason why = wire::read_exit_reason(r);
      if (!r.ok()) return;
      actor_id target = 0;
      if (ref_ptr<watch_entry> e = s.take_watch_out(token, &target)) e->notify(target, why);
      return;
    }
    case wire::control_signal: {
      const actor_id target = r.varint();
      const std::uint8_t what = wire::read_u8(r);
      if (!r.ok()) return;
      ref_ptr<actor_handle> h = exported(target);
      if (!h) return;
      if (what == wire::signal_stop) h->stop(exit_reason::normal());
      if (what == wire::signal_kill) h->kill();
      if (what == wire::signal_drain) h->drain();
      return;
    }
    default:
      count(&node_stats::bad_messages);
  }
}

void node_impl::service_request(std::string_view peer_name, std::span<const std::byte> body,
                                ref_ptr<troupe::detail::reply_base> st, node::completion done) {
  std::shared_ptr<session> s = current_session(peer_name);
  if (!s) {
    st->complete_error(error(errc::node_down, "no session to node " + std::string(peer_name)));
    return;
  }
  pending_request p{st, done, nullptr};
  if (auto id = s->request(body, std::move(p)); !id) st->complete_error(id.error());
}

}  // namespace detail

// ---------------------------------------------------------------------------
// node

node::node(std::shared_ptr<detail::node_impl> impl) : impl_(std::move(impl)) {}

result<std::unique_ptr<node>> node::start(system& sys, node_config config, remote_types types,
                                          std::shared_ptr<transport> net) {
  if (!net) return error(errc::invalid_argument, "no transport");
  auto impl =
      std::make_shared<detail::node_impl>(sys, std::move(config), std::move(types), std::move(net));
  if (result<void> r = impl->start(); !r) {
    impl->stop();
    return r.error();
  }
  return std::unique_ptr<node>(new node(std::move(impl)));
}

node::~node() { stop(); }

void node::stop() { impl_->stop(); }

const std::string& node::name() const noexcept { return impl_->config().name; }
std::uint64_t node::incarnation() const noexcept { return impl_->config().incarnation; }
const std::string& node::address() const noexcept { return impl_->address(); }

response<std::string> node::connect(std::string_view address) { return impl_->connect(address); }
void node::disconnect(std::string_view address) { impl_->disconnect(address); }
std::vector<std::string> node::peers() const { return impl_->peers(); }

std::uint64_t node::subscribe(std::function<void(const node_event&)> fn) {
  return impl_->subscribe(std::move(fn));
}
void node::unsubscribe(std::uint64_t id) { impl_->unsubscribe(id); }

const codec::endpoint_resolver& node::resolver() const noexcept { return *impl_; }
node_stats node::stats() const { return impl_->stats(); }

system_core& node::sys_core() const noexcept { return impl_->sys().core(); }

void node::arm(troupe::detail::reply_base& st, std::optional<duration> timeout) {
  system_core& core = sys_core();
  st.arm_deadline(core.time(), core.time().now() + timeout.value_or(core.default_ask_timeout));
}

ref_ptr<actor_handle> node::endpoint_from_reply(codec::binary_reader& r, session& s) {
  const actor_id id = r.varint();
  if (r.ok() && !r.done()) r.fail("bytes left after an actor id");
  if (!r.ok() || id == 0) {
    if (r.ok()) r.fail("actor id 0");
    return {};
  }
  auto& n = dynamic_cast<detail::node_impl&>(s.owner());
  return n.make_proxy(s.peer().name, s.peer().incarnation, id);
}

void node::lookup_erased(std::string_view peer, std::string_view label, std::string_view type,
                         ref_ptr<troupe::detail::reply_base> st, completion done) {
  std::vector<std::byte> body;
  codec::binary_writer w(body);
  w.varint(0);  // the node itself
  const duration left = st->deadline() - sys_core().time().now();
  w.varint(static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::microseconds>(left).count())));
  wire::write_u8(w, wire::service_lookup);
  w.string(label);
  w.string(type);
  impl_->service_request(peer, body, std::move(st), done);
}

void node::spawn_erased(std::string_view peer, std::string_view label, std::string_view type,
                        const std::vector<std::byte>& args, ref_ptr<troupe::detail::reply_base> st,
                        completion done) {
  std::vector<std::byte> body;
  codec::binary_writer w(body);
  w.varint(0);
  const duration left = st->deadline() - sys_core().time().now();
  w.varint(static_cast<std::uint64_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::microseconds>(left).count())));
  wire::write_u8(w, wire::service_spawn);
  w.string(type);
  w.string(label);
  w.raw(args);
  impl_->service_request(peer, body, std::move(st), done);
}

}  // namespace troupe::net
