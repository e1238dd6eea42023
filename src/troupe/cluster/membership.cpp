#include "troupe/cluster/membership.hpp"

#include "troupe/cluster/host_port.hpp"
#include "troupe/core/ticker.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <utility>

namespace troupe::cluster {

class membership::impl : public std::enable_shared_from_this<impl> {
 public:
  impl(clock& time, random_source& random) : clock_(time), random_(random) {}

  // Runs `f` on the engine under the lock, then hands its events to the
  // listeners outside it.
  template <class F>
  void with_engine(F&& f) {
    std::vector<streamed> out;
    {
      std::lock_guard lock(mu_);
      if (!engine_ || stopped_) return;
      f(*engine_);
      out.swap(outbox_);
    }
    flush(out);
    drain();
  }

  // A full state the engine gave the stream, sent once mu_ is released (the
  // stream is the node's, which has locks of its own).
  struct streamed {
    member_key to;
    std::string address;
    std::vector<std::byte> bytes;
  };

  // Takes a full state for the stream (under mu_); sealed with encryption on.
  bool stream_out(const member_key& to, std::span<const std::byte> data) {
    if (!stream_) return false;
    auto m = engine_->find(to);
    if (!m) return false;
    std::vector<std::byte> bytes =
        cipher_ ? cipher_->seal(data) : std::vector<std::byte>(data.begin(), data.end());
    outbox_.push_back(streamed{to, m->address, std::move(bytes)});
    return true;
  }

  // Sends what stream_out() took: over the stream, or where there is no
  // stream to the member (yet, or any more), as a datagram.
  void flush(std::vector<streamed>& out) {
    for (streamed& s : out) {
      if (stream_(s.to, s.bytes)) {
        streamed_.fetch_add(1, std::memory_order_relaxed);
      } else {
        (void)socket_->send_to(s.address, s.bytes);  // best effort, like the network
      }
    }
  }

  void on_stream(const member_key& from, std::span<const std::byte> data) {
    with_engine([&](swim& s) {
      if (!cipher_) {
        s.on_stream(from, data);
        return;
      }
      const auto plain = cipher_->open(data);  // counted by the cipher when it does not open
      if (plain) s.on_stream(from, *plain);
    });
  }

  // Delivers queued events, in the order the engine made them, to the
  // listeners that subscribed before each was made. Whoever holds
  // dispatch_mu_ delivers for everyone; a thread that finds it held leaves
  // its events to that thread instead of waiting (a listener may be waiting
  // for something this thread holds).
  void drain() {
    for (;;) {
      {
        std::unique_lock lock(dispatch_mu_, std::try_to_lock);
        if (!lock.owns_lock()) return;  // the holder re-checks the queue after unlocking
        deliver();
      }
      std::lock_guard l(mu_);
      if (queue_.empty()) return;  // else: queued after the holder's last look
    }
  }

  void deliver() {
    for (;;) {
      std::vector<std::pair<std::uint64_t, member_event>> batch;
      {
        std::lock_guard l(mu_);
        batch.swap(queue_);
      }
      if (batch.empty()) return;
      std::vector<std::pair<std::uint64_t, listener>> fns;
      {
        std::lock_guard l(listeners_mu_);
        for (const auto& [id, entry] : listeners_) fns.push_back(entry);
      }
      for (const auto& [seq, e] : batch)
        for (const auto& [from, fn] : fns)
          if (seq > from) fn(e);
    }
  }
  void tick() {
    with_engine([](swim& s) { s.tick(); });
  }

  void on_datagram(std::string_view from, std::span<const std::byte> data) {
    with_engine([&](swim& s) {
      if (!cipher_) {
        s.on_packet(from, data);
        return;
      }
      // A packet that does not open is counted by the cipher and goes no
      // further.
      const auto plain = cipher_->open(data);
      if (plain) s.on_packet(from, *plain);
    });
  }

  // Sends one of the engine's packets, sealed when encryption is on (the
  // engine sends under mu_).
  void send(std::string_view to, std::span<const std::byte> data) {
    if (cipher_) {
      const auto sealed = cipher_->seal(data);
      (void)socket_->send_to(to, sealed);  // best effort, like the network
    } else {
      (void)socket_->send_to(to, data);
    }
  }

  clock& clock_;
  random_source& random_;
  mutable std::mutex mu_;
  std::unique_ptr<swim> engine_;                               // guarded by mu_
  std::vector<std::pair<std::uint64_t, member_event>> queue_;  // guarded by mu_
  std::uint64_t last_seq_ = 0;                                 // guarded by mu_
  std::shared_ptr<datagram_socket> socket_;                    // set once at start
  std::shared_ptr<gossip_keyring> keys_;                       // set once at start
  std::unique_ptr<gossip_cipher> cipher_;                      // set once at start; used under mu_
  std::function<bool(const member_key&, std::span<const std::byte>)> stream_;  // set once at start
  std::vector<streamed> outbox_;                                               // guarded by mu_
  std::atomic<std::uint64_t> streamed_{0};  // full states the stream took
  ticker* ticker_ = nullptr;                // guarded by mu_
  bool stopped_ = false;                    // guarded by mu_
  std::recursive_mutex dispatch_mu_;
  std::mutex listeners_mu_;
  // Each listener with the sequence number of the last event it had seen
  // when it subscribed.
  std::map<std::uint64_t, std::pair<std::uint64_t, listener>>
      listeners_;                    // guarded by listeners_mu_
  std::uint64_t next_listener_ = 1;  // guarded by listeners_mu_
};

result<std::unique_ptr<membership>> membership::start(clock& time, random_source& random,
                                                      transport& net, membership_config config) {
  if (config.name.empty() || config.name.size() > 255)
    return error(errc::invalid_argument, "a member name must be 1 to 255 bytes");
  auto i = std::make_shared<impl>(time, random);
  if (config.encryption.enabled()) {
    // Sealed packets must still fit in max_packet.
    if (config.swim.max_packet <= gossip_cipher::overhead)
      return error(errc::invalid_argument,
                   "swim.max_packet leaves no room for gossip encryption's overhead");
    config.swim.max_packet -= gossip_cipher::overhead;
    i->keys_ = config.encryption.keys;
    i->cipher_ = std::make_unique<gossip_cipher>(config.encryption.cluster_name, i->keys_);
  }
  i->stream_ = std::move(config.stream);
  std::weak_ptr<impl> weak = i;
  auto sock = net.bind(config.listen, [weak](std::string_view from, std::span<const std::byte> d) {
    if (auto s = weak.lock()) s->on_datagram(from, d);
  });
  if (!sock) return sock.error();
  i->socket_ = std::move(*sock);
  const std::string address =
      config.advertise.empty() ? i->socket_->local_address() : config.advertise;
  std::uint64_t generation = config.generation;
  while (generation == 0) generation = random.next();
  impl* raw = i.get();
  duration every{};
  {
    std::lock_guard lock(i->mu_);
    i->engine_ = std::make_unique<swim>(
        member_key{config.name, generation}, address, config.swim, time, random,
        [raw](std::string_view to, std::span<const std::byte> data) { raw->send(to, data); },
        [raw](const member_event& e) { raw->queue_.emplace_back(++raw->last_seq_, e); });
    every = i->engine_->tick_interval();
    i->engine_->set_stream([raw](const member_key& to, std::span<const std::byte> data) {
      return raw->stream_out(to, data);
    });
  }
  // Started outside the lock: a firing ticker holds its own lock and then
  // takes the membership's.
  ticker* t = ticker::start(time, every, [weak] {
    if (auto s = weak.lock()) s->tick();
  });
  {
    std::lock_guard lock(i->mu_);
    i->ticker_ = t;
  }
  if (!config.seeds.empty()) {
    i->with_engine([&](swim& s) { s.join(config.seeds); });
  }
  return std::unique_ptr<membership>(new membership(std::move(i)));
}

membership::membership(std::shared_ptr<impl> i) : impl_(std::move(i)) {}

membership::~membership() { stop(); }

std::uint64_t membership::subscribe(listener fn) {
  impl& i = *impl_;
  const std::uint64_t id = subscribe_locked(i, std::move(fn));
  i.drain();  // what others queued while the lock was held here
  return id;
}

std::uint64_t membership::subscribe_locked(impl& i, listener fn) {
  std::lock_guard d(i.dispatch_mu_);
  i.deliver();
  std::vector<member_info> now;
  std::uint64_t seen = 0;
  member_key self;
  {
    std::lock_guard lock(i.mu_);
    now = i.engine_->members();
    self = i.engine_->self();
    seen = i.last_seq_;
  }
  // Events made after the snapshot (seq > seen) follow in drain().
  for (const member_info& m : now)
    if (m.key != self && (m.state == member_state::alive || m.state == member_state::suspect))
      fn(member_event{member_event::kind::joined, m});
  std::lock_guard lock(i.listeners_mu_);
  const std::uint64_t id = i.next_listener_++;
  i.listeners_.emplace(id, std::make_pair(seen, std::move(fn)));
  return id;
}

void membership::unsubscribe(std::uint64_t id) {
  std::lock_guard lock(impl_->listeners_mu_);
  impl_->listeners_.erase(id);
}

std::vector<member_info> membership::members() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->engine_->members();
}

std::optional<member_info> membership::find(const member_key& key) const {
  std::lock_guard lock(impl_->mu_);
  return impl_->engine_->find(key);
}

member_key membership::self() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->engine_->self();
}

std::string membership::address() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->engine_->find(impl_->engine_->self())->address;
}

swim_stats membership::stats() const {
  std::lock_guard lock(impl_->mu_);
  swim_stats s = impl_->engine_->stats();
  s.stream_syncs = impl_->streamed_.load(std::memory_order_relaxed);
  if (impl_->cipher_) {
    const gossip_crypto_stats& c = impl_->cipher_->stats();
    s.dropped_unencrypted = c.rejected_unencrypted;
    s.dropped_unauthentic = c.rejected_auth + c.rejected_malformed;
    s.dropped_replays = c.rejected_replay;
  }
  return s;
}

std::shared_ptr<gossip_keyring> membership::keyring() const { return impl_->keys_; }

void membership::peer_lost(const member_key& key) {
  impl_->with_engine([&](swim& s) { s.peer_lost(key); });
}

void membership::on_stream(const member_key& from, std::span<const std::byte> data) {
  impl_->on_stream(from, data);
}

result<void> membership::join(const std::vector<std::string>& gossip_addresses) {
  std::vector<std::string> addresses;
  addresses.reserve(gossip_addresses.size());
  for (const std::string& a : gossip_addresses) {
    auto parsed = parse_host_port(a);
    if (!parsed) return parsed.error();
    addresses.push_back(parsed->to_string());
  }
  bool running = false;
  impl_->with_engine([&](swim& s) {
    running = true;
    s.discovered(addresses);
  });
  if (!running) return error(errc::shutting_down, "membership stopped");
  return {};
}

void membership::leave() {
  impl_->with_engine([](swim& s) { s.leave(); });
}

void membership::stop() noexcept {
  troupe::ticker* t = nullptr;
  {
    std::lock_guard lock(impl_->mu_);
    if (impl_->stopped_) return;
    impl_->stopped_ = true;
    t = std::exchange(impl_->ticker_, nullptr);
  }
  if (t) t->end();
  if (impl_->socket_) impl_->socket_->close();
  // Waits for a dispatch under way on another thread (the lock is recursive:
  // stop() from inside a listener goes through).
  std::lock_guard d(impl_->dispatch_mu_);
  std::lock_guard lock(impl_->listeners_mu_);
  impl_->listeners_.clear();
}

}  // namespace troupe::cluster
