#include "troupe/net/internal/node_impl.hpp"

#include <algorithm>

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
// Orders sessions by what they are, not where they live in memory (the
// order of sessions_), so that what a node does with all of them happens
// in the same order in every run: a simulated run replays from its seed.
bool in_replayable_order(const std::shared_ptr<session>& a, const std::shared_ptr<session>& b) {
  if (a->remote_address() != b->remote_address()) return a->remote_address() < b->remote_address();
  return a->role() < b->role();
}
}  // namespace

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
  // The periodic tick: heartbeats, silent peers, handshake deadlines, redials.
  ticker_ = ticker::start(sys_.time(), cfg_.heartbeat_interval / 2, [weak = weak_from_this()] {
    if (auto n = weak.lock()) n->tick();
  });
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
    std::sort(all.begin(), all.end(), in_replayable_order);
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
  std::lock_guard lock(proxies_mu_);
  proxies_closed_ = true;
  proxies_.clear();  // the handles live on while held, answering node_down
}

node_stats node_impl::stats() const {
  node_stats out;
  std::vector<std::shared_ptr<session>> all;
  {
    std::lock_guard lock(mu_);
    out = stats_;
    all.assign(sessions_.begin(), sessions_.end());
  }
  for (const auto& s : all) out.pending_requests += s->pending_count();
  std::lock_guard lock(proxies_mu_);
  out.remote_actors = proxies_.size();
  return out;
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
  std::uint64_t dial_now = 0;
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
      // A dial in flight for a while may be stuck (sent into a partition
      // that has healed since): a new connect() starts a fresh one beside
      // it, and whichever fails later than the other succeeds is ignored.
      const bool stuck = w.dialing && sys_.time().now() - w.dial_started >= stale_dial_after;
      if ((!w.dialing && !w.last) || (stuck && !w.last)) dial_now = begin_dial(w);
    }
  }
  if (!name.empty()) st->complete(std::move(name));
  if (dial_now != 0) dial(std::string(address), dial_now);
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

void node_impl::dial(const std::string& address, std::uint64_t id) {
  std::weak_ptr<node_impl> weak = weak_from_this();
  net_->dial(address, [weak, address, id](result<std::shared_ptr<link>> l) {
    auto n = weak.lock();
    if (!n) {
      if (l) (*l)->close();
      return;
    }
    if (l) {
      {
        std::lock_guard lock(n->mu_);
        auto it = n->wanted_.find(address);
        if (it != n->wanted_.end() && it->second.dial_id == id) it->second.dialing = false;
      }
      // Also from a superseded dial: the connection is there, and a second
      // session to the same peer is resolved like simultaneous dials.
      n->add_session(std::move(*l), handshake_role::dialer, address);
      return;
    }
    std::vector<ref_ptr<troupe::detail::reply_state<std::string>>> waiters;
    {
      std::lock_guard lock(n->mu_);
      auto it = n->wanted_.find(address);
      if (it == n->wanted_.end()) return;
      if (it->second.dial_id != id) return;  // superseded: the newer dial decides
    }
    n->log("dialing " + address + " failed: " + l.error().message());
    {
      std::lock_guard lock(n->mu_);
      auto it = n->wanted_.find(address);
      if (it == n->wanted_.end() || it->second.dial_id != id) return;
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
  // From the system's random seam (not the secure generator): a simulated
  // run replays from its seed.
  const std::uint64_t draw = sys_.core().random().next();
  w.next_dial = now + half + duration(static_cast<duration::rep>(draw % span));
  w.last.reset();
}

void node_impl::tick() {
  const time_point now = sys_.time().now();
  std::vector<std::shared_ptr<session>> all;
  std::vector<std::pair<std::string, std::uint64_t>> redial;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    all.assign(sessions_.begin(), sessions_.end());
    std::sort(all.begin(), all.end(), in_replayable_order);
    for (auto& [address, w] : wanted_) {
      if (w.wanted && !w.dialing && !w.last && w.next_dial <= now)
        redial.emplace_back(address, begin_dial(w));
    }
  }
  for (auto& s : all) s->tick(now, cfg_.peer_timeout);
  for (auto& [a, id] : redial) dial(a, id);
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

result<std::unique_ptr<node>> node::start(system& sys, node_config config, remote_types types) {
  if (config.io_threads == 0) return error(errc::invalid_argument, "io_threads must be at least 1");
  tcp_transport_config tc;
  tc.io_threads = config.io_threads;
  if (config.io_on_workers) tc.io_executor = &sys.core().exec();
  tc.tls = config.tls;
  tc.dial_timeout = config.handshake_timeout;
  tc.handshake_timeout = config.handshake_timeout;
  auto tcp = tcp_transport::make(std::move(tc));
  if (!tcp) return tcp.error();
  return start(sys, std::move(config), std::move(types),
               std::shared_ptr<transport>(std::move(*tcp)));
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

result<void> node::set_channel(std::uint8_t ch, channel_handler fn) {
  return impl_->set_channel(ch, std::move(fn));
}
result<void> node::send_channel(std::string_view peer, std::uint64_t incarnation, std::uint8_t ch,
                                std::span<const std::byte> body) {
  return impl_->send_channel(peer, incarnation, ch, body);
}
bool node::drop(std::string_view peer, std::uint64_t incarnation, std::string_view reason) {
  return impl_->drop(peer, incarnation, reason);
}

const codec::endpoint_resolver& node::resolver() const noexcept { return *impl_; }
node_stats node::stats() const { return impl_->stats(); }

system_core& node::sys_core() const noexcept { return impl_->sys().core(); }
troupe::system& node::local_system() const noexcept { return impl_->sys(); }
void node::log(std::string_view line) const { impl_->log(line); }

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
  std::vector<std::byte> args;
  codec::binary_writer w(args);
  w.string(label);
  w.string(type);
  impl_->service_request(peer, wire::service_lookup, args, std::move(st), done);
}

void node::spawn_erased(std::string_view peer, std::string_view label, std::string_view type,
                        const std::vector<std::byte>& args, ref_ptr<troupe::detail::reply_base> st,
                        completion done) {
  std::vector<std::byte> body;
  codec::binary_writer w(body);
  w.string(type);
  w.string(label);
  w.raw(args);
  impl_->service_request(peer, wire::service_spawn, body, std::move(st), done);
}

}  // namespace troupe::net
