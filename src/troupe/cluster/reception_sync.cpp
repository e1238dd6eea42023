#include "troupe/cluster/reception_sync.hpp"

#include <array>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "troupe/cluster/reception_wire.hpp"
#include "troupe/cluster/replicated_table.hpp"
#include "troupe/core/ticker.hpp"

namespace troupe::cluster {

namespace wire = reception_wire;

class reception_sync::impl : public std::enable_shared_from_this<impl> {
 public:
  impl(net::node& n, std::vector<std::unique_ptr<replicated_table>> tables)
      : node_(n), tables_(std::move(tables)) {}

  void start(clock& time, duration anti_entropy) {
    std::weak_ptr<impl> weak = weak_from_this();
    const origin_id self = wire::origin_of(node_.name(), node_.incarnation());
    for (auto& t : tables_) {
      t->attach(
          self,
          [weak] {
            if (auto s = weak.lock()) s->flush();
          },
          [weak](const reception_conflict& c) {
            if (auto s = weak.lock()) s->conflict(c);
          });
    }
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
    for (auto& t : tables_) t->detach();
    (void)node_.set_channel(wire::channel, {});
  }

  void session_up(const std::string& peer, std::uint64_t inc) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      peers_[peer] = peer_state{inc, true, {}};
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
      for (auto& t : tables_) t->drop_origin(o);
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
    // Per table: the version the peer has (or will have) of ours.
    std::array<std::optional<std::uint64_t>, wire::tables> sent;
  };
  static constexpr std::size_t max_gone = 4096;

  replicated_table* table_of(wire::table id) const {
    for (const auto& t : tables_)
      if (t->id() == id) return t.get();
    return nullptr;
  }

  // Sends `peer` a want per table, with what this node has of its entries.
  void ask(const std::string& peer, std::uint64_t inc) {
    const origin_id o = wire::origin_of(peer, inc);
    for (const auto& t : tables_) {
      const wire::want w{t->id(), o, t->have(o)};
      std::vector<std::byte> buf;
      codec::binary_writer out(buf);
      wire::encode(out, w);
      if (node_.send_channel(peer, inc, wire::channel, buf))
        count(&reception_sync_stats::wants_sent);
    }
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

  // Sends every peer that asked what it lacks of this node's tables. One
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
      struct target {
        std::string peer;
        std::uint64_t incarnation;
        std::size_t table;
        std::uint64_t sent;
      };
      std::vector<target> targets;
      {
        std::lock_guard lock(mu_);
        again_ = false;
        for (const auto& [name, p] : peers_) {
          if (!p.session) continue;
          for (std::size_t i = 0; i < tables_.size(); ++i) {
            const auto& sent = p.sent[static_cast<std::size_t>(tables_[i]->id())];
            if (sent) targets.push_back(target{name, p.incarnation, i, *sent});
          }
        }
      }
      for (const target& t : targets) {
        const replicated_table& table = *tables_[t.table];
        const wire::changes c = table.changes_since(t.sent);
        // Nothing new; or a whole state of nothing for a peer that has nothing.
        if (c.top == t.sent && (!c.reset || t.sent == 0)) continue;
        std::vector<std::byte> buf;
        codec::binary_writer out(buf);
        wire::encode(out, c);
        const bool ok =
            static_cast<bool>(node_.send_channel(t.peer, t.incarnation, wire::channel, buf));
        std::lock_guard lock(mu_);
        auto it = peers_.find(t.peer);
        if (it == peers_.end() || it->second.incarnation != t.incarnation) continue;
        // A send that failed is retried when the peer next asks.
        it->second.sent[static_cast<std::size_t>(table.id())] =
            ok ? std::optional<std::uint64_t>(c.top) : std::nullopt;
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

  void receive(const std::string& peer, std::uint64_t inc, std::span<const std::byte> body) {
    result<wire::message> m = wire::decode(body);
    if (!m) return count(&reception_sync_stats::refused);
    if (auto* w = std::get_if<wire::want>(&*m)) {
      replicated_table* t = table_of(w->of);
      if (t == nullptr) return;  // a table this node does not replicate
      if (w->origin != wire::origin_of(node_.name(), node_.incarnation()))
        return;  // meant for another life of this node
      {
        std::lock_guard lock(mu_);
        if (stopped_) return;
        peer_state& p = peers_[peer];
        if (p.incarnation != inc) p = peer_state{inc, true, {}};
        p.session = true;
        p.sent[static_cast<std::size_t>(w->of)] = w->have;
      }
      flush();
      return;
    }
    apply(peer, inc, std::get<wire::changes>(*m));
  }

  void apply(const std::string& peer, std::uint64_t inc, const wire::changes& m) {
    replicated_table* t = table_of(m.of);
    if (t == nullptr) return;
    if (m.origin != wire::origin_of(peer, inc))
      return count(&reception_sync_stats::refused);  // only its own entries
    apply_status st;
    {
      std::lock_guard lock(apply_mu_);
      if (gone_.count(m.origin) != 0) {
        count(&reception_sync_stats::from_dead);
        return;
      }
      st = t->apply(m, peer, inc);
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
  const std::vector<std::unique_ptr<replicated_table>> tables_;
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

result<std::unique_ptr<reception_sync>> reception_sync::start(
    clock& time, net::node& n, receptionist* r, process_groups* g, duration anti_entropy,
    std::function<void(const reception_conflict&)> on_conflict) {
  std::vector<std::unique_ptr<replicated_table>> tables;
  if (r != nullptr) tables.push_back(receptionist_table(n, *r));
  if (g != nullptr) tables.push_back(groups_table(n, *g));
  if (tables.empty()) return error(errc::invalid_argument, "no table to replicate");
  auto i = std::make_shared<impl>(n, std::move(tables));
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
