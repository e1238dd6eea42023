#include "troupe/sim/network.hpp"

#include <algorithm>
#include <limits>

#include "troupe/sim/internal/network_state.hpp"

namespace troupe::sim {

namespace detail {

/// One timed action of the network: armed on the clock while its time has not
/// come, then queued on the executor, where it runs and deletes itself. When
/// the network goes first, a queued event runs empty.
class net_event final : public timer_node, public schedulable {
 public:
  net_event(network_state* owner, std::function<void()> fn) : owner_(owner), fn_(std::move(fn)) {}

  void fire() noexcept override;
  void run() noexcept override;

  network_state* owner_;
  std::function<void()> fn_;
  net_event* prev_ = nullptr;
  net_event* next_ = nullptr;
  bool armed_ = false;
};

void net_event::fire() noexcept {
  armed_ = false;
  if (owner_ == nullptr) {
    delete this;
    return;
  }
  owner_->rt.executor().post(this, post_hint::wake);
}

void net_event::run() noexcept {
  network_state* owner = owner_;
  std::function<void()> fn = std::move(fn_);
  if (owner) owner->unlink(this);
  delete this;
  if (owner && fn) fn();
}

connection::~connection() {
  if (net) net->all.erase(id);
}

// ---- network_state: events and topology ----

network_state::~network_state() {
  for (auto& [id, c] : all) c->net = nullptr;
  for (sim_transport* t : transports) t->net_ = nullptr;
  // Destroy captures and handlers only once nothing points back here.
  std::vector<std::function<void()>> fns;
  std::vector<std::shared_ptr<link_handler>> handlers;
  std::vector<transport::accept_fn> accepts;
  std::vector<datagram_fn> receivers;
  for (auto& [name, h] : hosts)
    for (auto& [port, b] : h.datagram_ports) {
      b->net = nullptr;
      b->state = binding_state::closed;
      b->held.clear();
      receivers.push_back(std::move(b->on_datagram));
    }
  for (net_event* e = events; e != nullptr;) {
    net_event* next = e->next_;
    fns.push_back(std::move(e->fn_));
    if (e->armed_ && rt.clock().cancel(*e)) {
      delete e;
    } else {
      e->owner_ = nullptr;  // queued: runs empty later
    }
    e = next;
  }
  events = nullptr;
  for (auto& [id, c] : active)
    for (end& e : c->ends) handlers.push_back(std::move(e.handler));
  for (auto& [name, h] : hosts)
    for (auto& [port, l] : h.listeners) accepts.push_back(std::move(l.on_accept));
  active.clear();
  hosts.clear();
}

void network_state::schedule(time_point at, std::function<void()> fn) {
  auto* e = new net_event(this, std::move(fn));
  e->next_ = events;
  if (events) events->prev_ = e;
  events = e;
  if (at <= rt.now()) {
    rt.executor().post(e, post_hint::wake);
  } else {
    e->due = at;
    e->armed_ = true;
    rt.clock().arm(*e);
  }
}

void network_state::unlink(net_event* e) noexcept {
  if (e->prev_)
    e->prev_->next_ = e->next_;
  else
    events = e->next_;
  if (e->next_) e->next_->prev_ = e->prev_;
  e->prev_ = e->next_ = nullptr;
}

host_record* network_state::find_host(std::string_view name) {
  auto it = hosts.find(name);
  return it == hosts.end() ? nullptr : &it->second;
}

duration network_state::latency(std::string_view a, std::string_view b) const {
  if (b < a) std::swap(a, b);
  auto it = latencies.find({std::string(a), std::string(b)});
  return it == latencies.end() ? opt.latency : it->second;
}

bool network_state::reachable(std::string_view from, std::string_view to) {
  host_record* h = find_host(to);
  return h && !h->crashed && !blocked(from, to) && !blocked(to, from);
}

std::uint16_t network_state::free_port(host_record& h) {
  for (;;) {
    const std::uint16_t p = h.next_port;
    h.next_port = p == std::numeric_limits<std::uint16_t>::max() ? first_ephemeral_port : p + 1;
    if (!h.listeners.contains(p)) return p;
  }
}

time_point network_state::arrival(std::string_view from, std::string_view to) {
  time_point at = rt.now() + latency(from, to);
  if (opt.jitter > duration::zero())
    at += duration(static_cast<duration::rep>(
        rt.random().below(static_cast<std::uint64_t>(opt.jitter.count()) + 1)));
  return at;
}

std::vector<conn_ptr> network_state::snapshot() const {
  std::vector<conn_ptr> v;
  v.reserve(active.size());
  for (const auto& [id, c] : active) v.push_back(c);
  return v;
}

// ---- dialing and accepting ----

void network_state::fail_dial(std::weak_ptr<sim_transport> wt, std::uint64_t id, error e,
                              time_point at) {
  schedule(at, [wt = std::move(wt), id, e = std::move(e)] {
    auto t = wt.lock();
    if (!t) return;
    if (transport::dial_fn done = t->take_dial(id)) done(e);
  });
}

void network_state::dial(sim_transport& t, std::string_view addr, transport::dial_fn done) {
  const std::uint64_t id = t.next_dial_++;
  t.dials_.emplace(id, std::move(done));
  std::weak_ptr<sim_transport> wt = t.weak_from_this();
  const time_point now = rt.now();
  if (t.dead_) return fail_dial(wt, id, error(errc::node_down, "host crashed"), now);
  auto a = parse_address(addr);
  if (!a) {
    return fail_dial(wt, id,
                     error(errc::invalid_argument, "malformed address: " + std::string(addr)), now);
  }
  if (!reachable(t.host_, a->host))
    return fail_dial(wt, id, error(errc::node_down, "connect timed out"),
                     now + opt.connect_timeout);
  schedule(now + latency(t.host_, a->host),
           [this, wt, id, addr = std::string(addr), now] { arrive_syn(wt, id, addr, now); });
}

void network_state::arrive_syn(std::weak_ptr<sim_transport> wt, std::uint64_t id, std::string addr,
                               time_point t0) {
  auto t = wt.lock();
  if (!t || !t->dials_.contains(id)) return;  // stop() or crash() ended the dial
  const std::string& src = t->host_;
  const address a = *parse_address(addr);
  if (!reachable(src, a.host))
    return fail_dial(wt, id, error(errc::node_down, "connect timed out"), t0 + opt.connect_timeout);
  const duration back = latency(a.host, src);
  host_record& h = *find_host(a.host);
  auto it = h.listeners.find(a.port);
  if (it == h.listeners.end())
    return fail_dial(wt, id, error(errc::node_down, "connection refused"), rt.now() + back);

  auto c = std::make_shared<connection>();
  c->net = this;
  c->id = next_id++;
  all.emplace(c->id, c.get());
  active.emplace(c->id, c);
  c->ends[0].owner = t.get();
  c->ends[0].host = src;
  c->ends[0].remote = addr;
  c->ends[1].owner = it->second.owner;
  c->ends[1].host = std::string(a.host);
  c->ends[1].remote = join(src, free_port(*find_host(src)));
  schedule(rt.now() + back, [wt, id, c] {
    auto t = wt.lock();
    transport::dial_fn done = t ? t->take_dial(id) : nullptr;
    if (!done) return;  // stop() or crash() ended the dial and closed the link
    done(std::shared_ptr<link>(std::make_shared<sim_link>(c, 0)));
  });
  if (h.frozen)
    h.pending_accepts.emplace_back(c, a.port);
  else
    accept(c, a.port);
}

void network_state::accept(const conn_ptr& c, std::uint16_t port) {
  if (c->ends[1].closed) return;
  host_record& h = *find_host(c->ends[1].host);
  auto it = h.listeners.find(port);
  if (it == h.listeners.end() || it->second.owner != c->ends[1].owner) {
    end_link(c, 1, error(errc::node_down, "listener gone"), "connection reset by peer");
    return;
  }
  transport::accept_fn fn = it->second.on_accept;  // the call may remove the listener
  fn(std::make_shared<sim_link>(c, 1));
}

void network_state::stop_transport(sim_transport& t, bool crashed) noexcept {
  if (host_record* h = find_host(t.host_)) {
    std::erase_if(h->listeners, [&](const auto& kv) { return kv.second.owner == &t; });
    std::erase(h->transports, &t);
    close_datagram_sockets(*h, &t, crashed);
  }
  for (auto& [id, done] : std::exchange(t.dials_, {})) {
    if (crashed)
      post([done = std::move(done)] { done(error(errc::node_down, "host crashed")); });
    else
      done(error(errc::shutting_down, "transport stopped"));
  }
  for (const conn_ptr& c : snapshot()) {
    for (int i = 0; i < 2; ++i) {
      end& e = c->ends[i];
      if (e.owner != &t) continue;
      e.owner = nullptr;
      if (crashed) {
        end_link(c, i, error(errc::node_down, "host crashed"), "connection reset by peer");
        post_notify(c, i);
        continue;
      }
      // A close() under way ends its flush here, at once.
      if (e.close_requested && e.started && !e.busy && !e.writing)
        while (!e.closed && write_once(c, i) == write_outcome::wrote) {
        }
      end_link(c, i, error(errc::shutting_down, "transport stopped"), "connection closed by peer");
      if (!e.started) e.notified = true;  // never: no callback after stop()
      notify(c, i);
    }
  }
}

// ---- links ----

template <class F>
void network_state::invoke(const conn_ptr& c, int i, F&& f) {
  end& e = c->ends[i];
  std::shared_ptr<link_handler> h = e.handler;
  e.busy = true;
  f(*h);
  e.busy = false;
  if (e.notify_after) {
    e.notify_after = false;
    notify(c, i);
  }
}

void network_state::start(const conn_ptr& c, int i, std::shared_ptr<link_handler> h) {
  end& e = c->ends[i];
  if (e.started || !h) return;
  e.started = true;
  if (e.notified) return;  // stopped before it started
  e.handler = std::move(h);
  active.emplace(c->id, c);
  if (e.closed) return post_notify(c, i);
  pipe& in = c->pipes[1 - i];
  if (in.stalled == stall::unstarted) {
    in.stalled = stall::none;
    ensure_delivery(c, 1 - i);
  }
  if (e.want_pull) schedule_pull(c, i);
}

void network_state::wake(const conn_ptr& c, int i) {
  end& e = c->ends[i];
  if (e.closed) return;
  e.want_pull = true;
  if (e.started) schedule_pull(c, i);
}

void network_state::request_close(const conn_ptr& c, int i) {
  end& e = c->ends[i];
  if (e.closed || e.close_requested) return;
  e.close_requested = true;
  if (!e.started) {  // nothing to flush; start() reports the end
    end_link(c, i, error(errc::node_down, "closed by this side"), "connection closed by peer");
    return;
  }
  e.want_pull = true;  // flush: pull until the handler has nothing more
  schedule_pull(c, i);
}

void network_state::schedule_pull(const conn_ptr& c, int i) {
  end& e = c->ends[i];
  if (e.pull_scheduled) return;
  e.pull_scheduled = true;
  post([this, c, i] { do_pull(c, i); });
}

void network_state::do_pull(const conn_ptr& c, int i) {
  end& e = c->ends[i];
  e.pull_scheduled = false;
  if (e.closed || !e.started || !e.want_pull) return;
  if (host_record* h = find_host(e.host); h && h->frozen) return;  // thaw() resumes
  e.want_pull = false;
  switch (write_once(c, i)) {
    case write_outcome::blocked:  // deliver() resumes once the peer got some
      e.want_pull = true;
      return;
    case write_outcome::wrote:
      if (e.closed) return;
      e.want_pull = true;
      schedule_pull(c, i);
      return;
    case write_outcome::empty:
      if (e.close_requested && !e.closed && !e.want_pull) {
        end_link(c, i, error(errc::node_down, "closed by this side"), "connection closed by peer");
        notify(c, i);
      }
      return;
  }
}

network_state::write_outcome network_state::write_once(const conn_ptr& c, int i) {
  end& e = c->ends[i];
  pipe& p = c->pipes[i];
  std::size_t room = unlimited;
  if (opt.send_buffer != 0) {
    if (p.in_flight >= opt.send_buffer) return write_outcome::blocked;
    room = opt.send_buffer - p.in_flight;
  }
  e.writing = true;
  bufs.clear();
  std::size_t n = 0;
  invoke(c, i, [&](link_handler& h) { n = h.pull(bufs, room); });
  segment s;
  if (n != 0 && !e.closed) {
    std::size_t take = std::min(n, room);
    if (opt.max_segment != 0) take = std::min(take, opt.max_segment);
    s.data.reserve(take);
    for (std::span<const std::byte> b : bufs) {
      if (s.data.size() == take) break;
      const std::size_t k = std::min(b.size(), take - s.data.size());
      s.data.insert(s.data.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(k));
    }
    bufs.clear();
    take = s.data.size();
    if (take != 0) invoke(c, i, [&](link_handler& h) { h.written(take); });
  }
  e.writing = false;
  if (e.closed || s.data.empty()) return write_outcome::empty;
  send(c, i, std::move(s));
  return write_outcome::wrote;
}

void network_state::send(const conn_ptr& c, int i, segment s) {
  pipe& p = c->pipes[i];
  const end& from = c->ends[i];
  const end& to = c->ends[1 - i];
  if (to.closed) return;  // lost: nobody reads it
  const time_point at = std::max(arrival(from.host, to.host), p.last_at);
  p.last_at = at;
  s.at = at;
  p.in_flight += s.data.size();
  p.segments.push_back(std::move(s));
  ensure_delivery(c, i);
}

void network_state::ensure_delivery(const conn_ptr& c, int i) {
  pipe& p = c->pipes[i];
  if (p.scheduled || p.segments.empty() || p.stalled != stall::none) return;
  p.scheduled = true;
  schedule(p.segments.front().at, [this, c, i] { deliver(c, i); });
}

void network_state::deliver(const conn_ptr& c, int i) {
  pipe& p = c->pipes[i];
  end& from = c->ends[i];
  end& to = c->ends[1 - i];
  p.scheduled = false;
  if (p.segments.empty()) return;
  const time_point now = rt.now();
  if (p.segments.front().at > now) return ensure_delivery(c, i);
  if (blocked(from.host, to.host)) {
    p.stalled = stall::path;
    return;
  }
  if (host_record* h = find_host(to.host); h && h->frozen) {
    p.stalled = stall::frozen;
    return;
  }
  if (!to.started) {
    p.stalled = stall::unstarted;
    return;
  }
  if (p.segments.front().fin) {
    error why(errc::node_down, std::move(p.segments.front().why));
    p.segments.clear();
    end_link(c, 1 - i, std::move(why), nullptr);
    notify(c, 1 - i);
    return;
  }
  std::size_t limit = unlimited;
  if (opt.max_chunk != 0) limit = 1 + static_cast<std::size_t>(rt.random().below(opt.max_chunk));
  std::vector<std::byte> chunk;
  while (chunk.size() < limit && !p.segments.empty()) {
    segment& s = p.segments.front();
    if (s.fin || s.at > now) break;
    const std::size_t k = std::min(s.data.size() - p.offset, limit - chunk.size());
    const auto first = s.data.begin() + static_cast<std::ptrdiff_t>(p.offset);
    chunk.insert(chunk.end(), first, first + static_cast<std::ptrdiff_t>(k));
    p.offset += k;
    if (p.offset == s.data.size()) {
      p.segments.pop_front();
      p.offset = 0;
    }
  }
  p.in_flight -= chunk.size();
  if (!to.close_requested) {  // after close(), arriving bytes are dropped
    bytes += chunk.size();
    invoke(c, 1 - i, [&](link_handler& h) { h.on_bytes(chunk); });
  }
  if (from.want_pull && !from.closed && from.started) schedule_pull(c, i);  // room again
  ensure_delivery(c, i);
}

void network_state::end_link(const conn_ptr& c, int i, error why, const char* fin_why) {
  end& e = c->ends[i];
  if (e.closed) return;
  e.closed = true;
  e.why = std::move(why);
  e.want_pull = false;
  pipe& in = c->pipes[1 - i];
  in.segments.clear();
  in.offset = 0;
  in.in_flight = 0;
  in.stalled = stall::none;
  end& peer = c->ends[1 - i];
  if (fin_why && !peer.closed) {
    segment s;
    s.fin = true;
    s.why = fin_why;
    send(c, i, std::move(s));
  }
  maybe_retire(c);
}

void network_state::notify(const conn_ptr& c, int i) {
  end& e = c->ends[i];
  if (e.notified || !e.closed || !e.started) return;
  if (e.busy) {
    e.notify_after = true;
    return;
  }
  e.notified = true;
  std::shared_ptr<link_handler> h = std::move(e.handler);
  h->on_closed(e.why);
  maybe_retire(c);
}

void network_state::maybe_retire(const conn_ptr& c) {
  for (const end& e : c->ends)
    if (!e.closed || e.handler) return;
  active.erase(c->id);
}

sim_transport::~sim_transport() {
  stop();
  if (net_) net_->transports.erase(this);
}

result<std::string> sim_transport::listen(std::string_view address, accept_fn on_accept) {
  if (stopped_) return error(errc::shutting_down, "transport stopped");
  if (net_ == nullptr) return error(errc::node_down, "network gone");
  if (dead_) return error(errc::node_down, "host crashed");
  auto a = parse_address(address);
  if (!a) return error(errc::invalid_argument, "malformed address: " + std::string(address));
  if (a->host != host_)
    return error(errc::invalid_argument, "not this host: " + std::string(a->host));
  host_record& h = *net_->find_host(host_);
  std::uint16_t port = a->port;
  if (port == 0)
    port = net_->free_port(h);
  else if (h.listeners.contains(port))
    return error(errc::name_taken, "address in use: " + std::string(address));
  h.listeners.emplace(port, listener{this, std::move(on_accept)});
  return join(host_, port);
}

void sim_transport::dial(std::string_view address, dial_fn done) {
  if (stopped_ || net_ == nullptr) return done(error(errc::shutting_down, "transport stopped"));
  net_->dial(*this, address, std::move(done));
}

transport::dial_fn sim_transport::take_dial(std::uint64_t id) {
  auto it = dials_.find(id);
  if (it == dials_.end()) return nullptr;
  dial_fn fn = std::move(it->second);
  dials_.erase(it);
  return fn;
}

void sim_transport::stop() noexcept {
  if (stopped_) return;
  stopped_ = dead_ = true;
  if (net_) {
    net_->stop_transport(*this, false);
  } else {
    for (auto& [id, done] : std::exchange(dials_, {}))
      done(error(errc::shutting_down, "transport stopped"));
  }
}

void sim_link::start(std::shared_ptr<link_handler> h) {
  if (c_->net) c_->net->start(c_, side_, std::move(h));
}

void sim_link::wake() noexcept {
  if (c_->net) c_->net->wake(c_, side_);
}

void sim_link::close() noexcept {
  if (c_->net) c_->net->request_close(c_, side_);
}

}  // namespace detail

// ---- network ----

network::network(runtime& rt, network_options options)
    : state_(std::make_unique<detail::network_state>(rt, options)) {}

network::~network() = default;

std::shared_ptr<transport> network::host(std::string name) {
  detail::host_record& h = state_->hosts[name];
  h.crashed = false;
  auto t = std::make_shared<detail::sim_transport>(state_.get(), std::move(name));
  h.transports.push_back(t.get());
  state_->transports.insert(t.get());
  return t;
}

network_options& network::options() noexcept { return state_->opt; }

void network::set_latency(std::string_view a, std::string_view b, duration d) {
  if (b < a) std::swap(a, b);
  state_->latencies[{std::string(a), std::string(b)}] = d;
}

void network::partition(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const std::string& x : a)
    for (const std::string& y : b) {
      state_->cut_paths.emplace(x, y);
      state_->cut_paths.emplace(y, x);
    }
}

void network::partition_one_way(std::string_view from, std::string_view to) {
  state_->cut_paths.emplace(std::string(from), std::string(to));
}

void network::heal() {
  detail::network_state& s = *state_;
  s.cut_paths.clear();
  const time_point now = s.rt.now();
  for (const detail::conn_ptr& c : s.snapshot()) {
    for (int i = 0; i < 2; ++i) {
      detail::pipe& p = c->pipes[i];
      if (p.stalled != detail::stall::path) continue;
      p.stalled = detail::stall::none;
      const time_point at = now + s.latency(c->ends[i].host, c->ends[1 - i].host);
      for (detail::segment& seg : p.segments) seg.at = std::max(seg.at, at);
      p.last_at = std::max(p.last_at, at);
      s.ensure_delivery(c, i);
    }
  }
}

void network::crash(std::string_view name) {
  detail::network_state& s = *state_;
  detail::host_record* h = s.find_host(name);
  if (h == nullptr || h->crashed) return;
  h->crashed = true;
  h->frozen = false;
  ++h->crashes;
  h->pending_accepts.clear();
  std::vector<detail::sim_transport*> ts = std::move(h->transports);
  h->transports.clear();
  for (detail::sim_transport* t : ts) {
    t->dead_ = true;
    s.stop_transport(*t, true);
  }
  h->listeners.clear();
  s.close_datagram_sockets(*h, nullptr, true);
  // Links whose owner already stopped are closed; any other end of the host
  // closes here too.
  for (const detail::conn_ptr& c : s.snapshot())
    for (int i = 0; i < 2; ++i)
      if (c->ends[i].host == name && !c->ends[i].closed) {
        s.end_link(c, i, troupe::error(errc::node_down, "host crashed"),
                   "connection reset by peer");
        s.post_notify(c, i);
      }
}

void network::freeze(std::string_view name) {
  if (detail::host_record* h = state_->find_host(name)) h->frozen = true;
}

void network::thaw(std::string_view name) {
  detail::network_state& s = *state_;
  detail::host_record* h = s.find_host(name);
  if (h == nullptr || !h->frozen) return;
  h->frozen = false;
  for (auto& [c, port] : std::exchange(h->pending_accepts, {}))
    s.post([&s, c = c, port = port] { s.accept(c, port); });
  s.thaw_datagrams(*h);
  for (const detail::conn_ptr& c : s.snapshot())
    for (int i = 0; i < 2; ++i) {
      detail::end& e = c->ends[i];
      if (e.host != name) continue;
      detail::pipe& in = c->pipes[1 - i];
      if (in.stalled == detail::stall::frozen) {
        in.stalled = detail::stall::none;
        s.ensure_delivery(c, 1 - i);
      }
      if (e.want_pull && e.started && !e.closed) s.schedule_pull(c, i);
    }
}

void network::cut(std::string_view a, std::string_view b) {
  detail::network_state& s = *state_;
  for (const detail::conn_ptr& c : s.snapshot()) {
    const std::string& x = c->ends[0].host;
    const std::string& y = c->ends[1].host;
    if (!((x == a && y == b) || (x == b && y == a))) continue;
    for (int i = 0; i < 2; ++i) {
      if (c->ends[i].closed) continue;
      s.end_link(c, i, troupe::error(errc::node_down, "link cut"), nullptr);
      s.post_notify(c, i);
    }
  }
}

std::uint64_t network::bytes_delivered() const noexcept { return state_->bytes; }

std::size_t network::links_open() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, c] : state_->active)
    if (!c->ends[0].closed || !c->ends[1].closed) ++n;
  return n;
}

}  // namespace troupe::sim
