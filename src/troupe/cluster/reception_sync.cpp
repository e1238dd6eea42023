#include "troupe/cluster/reception_sync.hpp"

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "troupe/cluster/reception_wire.hpp"
#include "troupe/core/ticker.hpp"

namespace troupe::cluster {

namespace wire = reception_wire;

class reception_sync::impl : public std::enable_shared_from_this<impl> {
 public:
  impl(net::node& n, receptionist& r) : node_(n), r_(r) {}

  void start(clock& time, duration anti_entropy) {
    std::weak_ptr<impl> weak = weak_from_this();
    r_.set_origin(wire::origin_of(node_.name(), node_.incarnation()));
    r_.on_local_change([weak] {
      if (auto s = weak.lock()) s->flush();
    });
    r_.on_conflict([weak](const reception_conflict& c) {
      if (auto s = weak.lock()) s->conflict(c);
    });
    (void)node_.set_channel(wire::channel, [weak](const std::string& peer, std::uint64_t inc,
                                                  std::span<const std::byte> body) {
      if (auto s = weak.lock()) s->receive(peer, inc, body);
    });
    ticker_ = ticker::start(time, anti_entropy, [weak] {
      if (auto s = weak.lock()) s->ask_everyone();
    });
  }

  void stop() noexcept {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    if (ticker_ != nullptr) ticker_->end();
    r_.on_local_change({});
    r_.on_conflict({});
    (void)node_.set_channel(wire::channel, {});
  }

  void session_up(const std::string& peer, std::uint64_t inc) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      peers_[peer] = peer_state{inc, true, std::nullopt};
    }
    ask(peer, inc);
  }

  void session_down(const std::string& peer, std::uint64_t inc) {
    std::lock_guard lock(mu_);
    auto it = peers_.find(peer);
    if (it != peers_.end() && it->second.incarnation == inc) peers_.erase(it);
  }

  void member_up(const std::string& peer, std::uint64_t inc) {
    {
      std::lock_guard lock(apply_mu_);
      gone_.erase(wire::origin_of(peer, inc));
    }
    bool connected = false;
    {
      std::lock_guard lock(mu_);
      auto it = peers_.find(peer);
      connected = it != peers_.end() && it->second.incarnation == inc && !stopped_;
    }
    if (connected) ask(peer, inc);
  }

  void member_gone(const std::string& peer, std::uint64_t inc) {
    const origin_id o = wire::origin_of(peer, inc);
    {
      std::lock_guard lock(apply_mu_);
      if (gone_.insert(o).second) {
        gone_order_.push_back(o);
        if (gone_order_.size() > max_gone) {
          gone_.erase(gone_order_.front());
          gone_order_.pop_front();
        }
      }
      r_.drop_origin(o);
    }
    deliver_conflicts();
    session_down(peer, inc);
  }

  reception_sync_stats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

  void set_conflict_handler(std::function<void(const reception_conflict&)> fn) {
    std::lock_guard lock(mu_);
    on_conflict_ = std::move(fn);
  }

 private:
  struct peer_state {
    std::uint64_t incarnation = 0;
    bool session = false;
    std::optional<std::uint64_t> sent;  // the version the peer has (or will have) of ours
  };
  static constexpr std::size_t max_gone = 4096;

  // Sends `peer` a want for its entries, with what this node has of them.
  void ask(const std::string& peer, std::uint64_t inc) {
    const origin_id o = wire::origin_of(peer, inc);
    wire::want w{o, 0};
    for (const entry_stamp& v : r_.versions())
      if (v.origin == o) w.have = v.version;
    std::vector<std::byte> buf;
    codec::binary_writer out(buf);
    wire::encode(out, w);
    if (node_.send_channel(peer, inc, wire::channel, buf)) count(&reception_sync_stats::wants_sent);
  }

  void ask_everyone() {
    std::vector<std::pair<std::string, std::uint64_t>> all;
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      for (const auto& [name, p] : peers_) all.emplace_back(name, p.incarnation);
    }
    for (const auto& [name, inc] : all) ask(name, inc);
  }

  // Sends every peer that asked what it lacks of this node's entries. One
  // thread at a time sends; a change during a round makes another round.
  void flush() {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      if (flushing_) {
        again_ = true;
        return;
      }
      flushing_ = true;
    }
    for (;;) {
      std::vector<std::tuple<std::string, std::uint64_t, std::uint64_t>> targets;
      {
        std::lock_guard lock(mu_);
        again_ = false;
        for (const auto& [name, p] : peers_)
          if (p.session && p.sent) targets.emplace_back(name, p.incarnation, *p.sent);
      }
      for (const auto& [name, inc, sent] : targets) {
        reception_changes c = r_.local_changes(sent);
        if (!c.reset && c.top == sent) continue;
        const bool ok = send_changes(name, inc, c);
        std::lock_guard lock(mu_);
        auto it = peers_.find(name);
        if (it == peers_.end() || it->second.incarnation != inc) continue;
        // A send that failed is retried when the peer next asks.
        it->second.sent = ok ? std::optional<std::uint64_t>(c.top) : std::nullopt;
        if (ok) {
          ++stats_.batches_sent;
          if (c.reset) ++stats_.snapshots_sent;
        }
      }
      std::lock_guard lock(mu_);
      if (!again_ || stopped_) {
        flushing_ = false;
        return;
      }
    }
  }

  bool send_changes(const std::string& peer, std::uint64_t inc, const reception_changes& c) {
    wire::changes m;
    m.origin = c.origin;
    m.base = c.base;
    m.top = c.top;
    m.reset = c.reset;
    m.ops.reserve(c.ops.size());
    for (const reception_op& op : c.ops) {
      wire::op o;
      o.what = op.what;
      o.version = op.stamp.version;
      o.label = op.label;
      if (op.what == reception_op::kind::add) {
        const actor_address a = node_.resolver().address_of(*op.actor);
        if (a.node != node_.name()) continue;  // a remote actor checked in here: not ours to give
        o.key = op.key;
        o.type = std::string(op.type.name);
        o.vis = op.vis;
        o.actor = a.id;
      } else {
        o.removes = op.removes;
      }
      m.ops.push_back(std::move(o));
    }
    std::vector<std::byte> buf;
    codec::binary_writer out(buf);
    wire::encode(out, m);
    return static_cast<bool>(node_.send_channel(peer, inc, wire::channel, buf));
  }

  void receive(const std::string& peer, std::uint64_t inc, std::span<const std::byte> body) {
    result<wire::message> m = wire::decode(body);
    if (!m) return count(&reception_sync_stats::refused);
    if (auto* w = std::get_if<wire::want>(&*m)) {
      if (w->origin != r_.origin()) return;  // meant for another life of this node
      {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        peer_state& p = peers_[peer];
        if (p.incarnation != inc) p = peer_state{inc, true, std::nullopt};
        p.session = true;
        p.sent = w->have;
      }
      flush();
      return;
    }
    apply(peer, inc, std::get<wire::changes>(*m));
  }

  void apply(const std::string& peer, std::uint64_t inc, const wire::changes& m) {
    const origin_id o = wire::origin_of(peer, inc);
    if (m.origin != o) return count(&reception_sync_stats::refused);  // only its own entries
    reception_changes c;
    c.origin = m.origin;
    c.base = m.base;
    c.top = m.top;
    c.reset = m.reset;
    c.ops.reserve(m.ops.size());
    for (const wire::op& w : m.ops) {
      reception_op op;
      op.what = w.what;
      op.stamp = entry_stamp{o, w.version};
      op.label = w.label;
      op.removes = w.removes;
      if (w.what == reception_op::kind::add) {
        op.key = w.key;
        op.type = actor_type{nullptr, w.type};  // the receptionist keeps its own copy
        op.vis = w.vis;
        op.actor = node_.resolver().resolve(actor_address{peer, inc, w.actor});
      }
      c.ops.push_back(std::move(op));
    }
    apply_status st;
    {
      std::lock_guard lock(apply_mu_);
      if (gone_.count(o) != 0) {
        count(&reception_sync_stats::from_dead);
        return;
      }
      st = r_.apply_changes(c);
    }
    deliver_conflicts();
    switch (st) {
      case apply_status::applied:
        return count(&reception_sync_stats::batches_applied);
      case apply_status::gap:
        count(&reception_sync_stats::gaps);
        return ask(peer, inc);
      case apply_status::refused:
        return count(&reception_sync_stats::refused);
      case apply_status::duplicate:
        return;
    }
  }

  // From the receptionist (inside apply_changes): kept until apply_mu_ is
  // released, so the handler may call back into the cluster.
  void conflict(const reception_conflict& c) {
    std::lock_guard lock(mu_);
    conflicts_.push_back(c);
  }
  void deliver_conflicts() {
    std::vector<reception_conflict> found;
    std::function<void(const reception_conflict&)> fn;
    {
      std::lock_guard lock(mu_);
      found.swap(conflicts_);
      fn = on_conflict_;
    }
    if (!fn) return;
    for (const auto& c : found) fn(c);
  }

  void count(std::uint64_t reception_sync_stats::*field) {
    std::lock_guard lock(mu_);
    ++(stats_.*field);
  }

  net::node& node_;
  receptionist& r_;
  ticker* ticker_ = nullptr;

  mutable std::mutex mu_;  // guards what follows
  std::map<std::string, peer_state> peers_;
  bool stopped_ = false;
  bool flushing_ = false;
  bool again_ = false;
  reception_sync_stats stats_;
  std::vector<reception_conflict> conflicts_;
  std::function<void(const reception_conflict&)> on_conflict_;

  // Held across the check of gone_ and the apply, and across marking a life
  // gone and dropping its entries: a batch racing a death cannot bring its
  // entries back.
  std::mutex apply_mu_;
  std::set<origin_id> gone_;
  std::deque<origin_id> gone_order_;
};

std::unique_ptr<reception_sync> reception_sync::start(
    clock& time, net::node& n, receptionist& r, duration anti_entropy,
    std::function<void(const reception_conflict&)> on_conflict) {
  auto i = std::make_shared<impl>(n, r);
  i->set_conflict_handler(std::move(on_conflict));
  i->start(time, anti_entropy);
  return std::unique_ptr<reception_sync>(new reception_sync(std::move(i)));
}

reception_sync::~reception_sync() { stop(); }

void reception_sync::session_up(const std::string& peer, std::uint64_t incarnation) {
  impl_->session_up(peer, incarnation);
}
void reception_sync::session_down(const std::string& peer, std::uint64_t incarnation) {
  impl_->session_down(peer, incarnation);
}
void reception_sync::member_up(const std::string& peer, std::uint64_t incarnation) {
  impl_->member_up(peer, incarnation);
}
void reception_sync::member_gone(const std::string& peer, std::uint64_t incarnation) {
  impl_->member_gone(peer, incarnation);
}
reception_sync_stats reception_sync::stats() const { return impl_->stats(); }
void reception_sync::stop() noexcept { impl_->stop(); }

}  // namespace troupe::cluster
