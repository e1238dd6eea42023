#include "troupe/cluster/swim.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace troupe::cluster {

swim_config swim_config::wan() {
  swim_config c;
  c.probe_interval = std::chrono::seconds(3);
  c.probe_timeout = std::chrono::seconds(2);
  c.suspicion_mult = 6;
  c.gossip_interval = std::chrono::milliseconds(500);
  c.gossip_fanout = 4;
  c.sync_interval = std::chrono::seconds(60);
  c.reconnect_interval = std::chrono::seconds(10);
  return c;
}

swim_config swim_config::local() {
  swim_config c;
  c.probe_interval = std::chrono::milliseconds(200);
  c.probe_timeout = std::chrono::milliseconds(50);
  c.suspicion_mult = 3;
  c.gossip_interval = std::chrono::milliseconds(50);
  c.sync_interval = std::chrono::seconds(10);
  c.reconnect_interval = std::chrono::milliseconds(500);
  return c;
}

std::string_view to_string(member_event::kind k) noexcept {
  switch (k) {
    case member_event::kind::joined:
      return "joined";
    case member_event::kind::alive:
      return "alive";
    case member_event::kind::suspect:
      return "suspect";
    case member_event::kind::dead:
      return "dead";
    case member_event::kind::left:
      return "left";
  }
  return "unknown";
}

swim::swim(member_key self, std::string address, swim_config config, clock& time,
           random_source& random, send_fn send, event_fn on_event)
    : cfg_(config),
      clock_(time),
      random_(random),
      send_(std::move(send)),
      on_event_(std::move(on_event)) {
  self_.key = std::move(self);
  self_.address = std::move(address);
  self_.state = member_state::alive;
  self_.since = clock_.now();
  const time_point now = clock_.now();
  // Members started together do not probe in lockstep.
  next_probe_ =
      now + cfg_.probe_interval +
      std::chrono::nanoseconds(draw(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.probe_interval).count())));
  next_gossip_ = now + cfg_.gossip_interval;
  next_sync_ = now + cfg_.sync_interval;
  next_reconnect_ = now + cfg_.reconnect_interval;
  last_tick_ = now;
  resumed_at_ = now - cfg_.probe_timeout;
}

// ----------------------------------------------------------------- queries

std::vector<member_info> swim::members() const {
  std::vector<member_info> out;
  out.reserve(members_.size() + 1);
  bool self_done = false;
  for (const auto& [key, m] : members_) {
    if (!self_done && self_.key < key) {
      out.push_back(self_);
      self_done = true;
    }
    out.push_back(m.info);
  }
  if (!self_done) out.push_back(self_);
  return out;
}

std::optional<member_info> swim::find(const member_key& key) const {
  if (key == self_.key) return self_;
  auto it = members_.find(key);
  if (it == members_.end()) return std::nullopt;
  return it->second.info;
}

std::size_t swim::live_count() const noexcept {
  std::size_t n = left_ ? 0 : 1;
  for (const auto& [key, m] : members_)
    if (is_live(m.info.state)) ++n;
  return n;
}

duration swim::tick_interval() const noexcept {
  return std::min(
      {cfg_.probe_timeout / 4, cfg_.gossip_interval / 2, duration(std::chrono::milliseconds(50))});
}

// ----------------------------------------------------------------- helpers

std::uint64_t swim::draw(std::uint64_t bound) {
  // The high bits, scaled (the low bits of some generators are weak).
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(random_.next()) * bound) >> 64);
}

duration swim::scaled(duration d) const { return d * static_cast<int>(health_ + 1); }

void swim::health_up() {
  if (health_ + 1 < cfg_.max_health_multiplier) ++health_;
}

void swim::health_down() {
  if (health_ > 0) --health_;
}

void swim::emit(member_event::kind k, const member& m) {
  if (on_event_) on_event_(member_event{k, m.info});
}

member_update swim::update_of(const member& m) const {
  member_update u;
  u.key = m.info.key;
  u.address = m.info.address;
  u.state = m.info.state;
  u.incarnation = m.info.incarnation;
  if (m.info.state == member_state::suspect) u.from = self_.key.name;
  return u;
}

member_update swim::self_update() const {
  member_update u;
  u.key = self_.key;
  u.address = self_.address;
  u.state = self_.state;
  u.incarnation = self_.incarnation;
  return u;
}

std::vector<const swim::member*> swim::pick(std::size_t n, const member_key* skip,
                                            bool include_recent_dead) {
  const time_point now = clock_.now();
  std::vector<const member*> c;
  for (const auto& [key, m] : members_) {
    if (skip && key == *skip) continue;
    const bool live = is_live(m.info.state);
    const bool recent_dead =
        m.info.state == member_state::dead && now - m.info.since < cfg_.gossip_to_dead;
    if (live || (include_recent_dead && recent_dead)) c.push_back(&m);
  }
  const std::size_t take = std::min(n, c.size());
  for (std::size_t i = 0; i < take; ++i) std::swap(c[i], c[i + draw(c.size() - i)]);
  c.resize(take);
  return c;
}

// ----------------------------------------------------------------- sending

void swim::enqueue(const member_update& u) {
  // Suspicions of one member by different accusers are separate news (each
  // is a confirmation); anything else about a member replaces what is queued.
  if (u.state == member_state::suspect) {
    for (queued_update& q : queue_) {
      if (q.update.key == u.key && q.update.state == member_state::suspect &&
          q.update.from == u.from) {
        q.update = u;
        q.sent = 0;
        return;
      }
    }
    std::erase_if(queue_, [&](const queued_update& q) {
      return q.update.key == u.key && q.update.state != member_state::suspect;
    });
  } else {
    std::erase_if(queue_, [&](const queued_update& q) { return q.update.key == u.key; });
  }
  queue_.push_back(queued_update{u, 0});
}

void swim::fill_updates(packet& p, std::size_t budget, const member_update* first) {
  std::size_t used = 0;
  if (first != nullptr) {
    p.updates.push_back(*first);
    used += encoded_size(*first);
  }
  if (queue_.empty()) return;
  const std::size_t n = live_count();
  const auto limit = static_cast<std::size_t>(static_cast<double>(cfg_.retransmit_mult) *
                                              std::ceil(std::log10(static_cast<double>(n) + 1.0)));
  std::stable_sort(queue_.begin(), queue_.end(),
                   [](const queued_update& a, const queued_update& b) { return a.sent < b.sent; });
  for (queued_update& q : queue_) {
    if (first != nullptr && q.update.key == first->key) continue;
    const std::size_t size = encoded_size(q.update);
    if (used + size > budget) break;
    p.updates.push_back(q.update);
    used += size;
    ++q.sent;
  }
  // A suspicion still held stays in the queue past its budget, least sent
  // first: its gossip may have gone nowhere (this member was cut off), and
  // the accused must hear of it to refute before it runs out.
  std::erase_if(queue_, [&](const queued_update& q) {
    if (q.sent < std::max<std::size_t>(limit, 1)) return false;
    if (q.update.state != member_state::suspect) return true;
    auto it = members_.find(q.update.key);
    return it == members_.end() || it->second.info.state != member_state::suspect ||
           it->second.info.incarnation != q.update.incarnation;
  });
}

void swim::send_packet(std::string_view to, packet& p, const member_update* first) {
  p.sender = self_.key;
  p.sender_address = self_.address;
  // At most: magic, version and kind (3), two keys (name length 2 and
  // generation 10 each), two address lengths (2 each), seq (5) and the update
  // count (3), then the strings: never less than encode() writes, so the
  // updates' budget keeps the packet within max_packet.
  const std::size_t head = 39 + p.sender.name.size() + p.sender_address.size() +
                           p.target.name.size() + p.target_address.size();
  if (p.kind != packet_kind::sync && p.kind != packet_kind::sync_reply)
    fill_updates(p, cfg_.max_packet > head ? cfg_.max_packet - head : 0, first);
  buf_.clear();
  encode(p, buf_);
  ++stats_.packets_sent;
  stats_.bytes_sent += buf_.size();
  if (send_) send_(to, buf_);
}

void swim::send_state(packet_kind kind, std::string_view address, const member_key* member) {
  packet p;
  p.kind = kind;
  p.sender = self_.key;
  p.sender_address = self_.address;
  p.updates.push_back(self_update());
  for (const auto& [key, m] : members_) p.updates.push_back(update_of(m));
  if (kind == packet_kind::sync) ++stats_.syncs;
  buf_.clear();
  encode(p, buf_);
  ++stats_.packets_sent;
  stats_.bytes_sent += buf_.size();
  if (member != nullptr && stream_ && stream_(*member, buf_)) {
    ++stats_.stream_syncs;
    return;
  }
  if (send_) send_(address, buf_);
}

// ----------------------------------------------------------------- packets

void swim::on_packet(std::string_view from, std::span<const std::byte> data) {
  auto p = decode_packet(data);
  if (!p) {
    ++stats_.bad_packets;
    return;
  }
  ++stats_.packets_received;
  handle(*p, from);
}

void swim::on_stream(const member_key& from, std::span<const std::byte> data) {
  auto p = decode_packet(data);
  if (!p) {
    ++stats_.bad_packets;
    return;
  }
  // The stream vouches for its peer only: a state sent in another member's
  // name, or anything but push-pull, is refused.
  if (p->sender != from || (p->kind != packet_kind::sync && p->kind != packet_kind::sync_reply)) {
    ++stats_.stream_refused;
    return;
  }
  ++stats_.packets_received;
  handle(*p, p->sender_address, true);
}

void swim::handle(const packet& p, std::string_view from, bool stream) {
  if (left_) return;
  const std::uint64_t refuted_before = stats_.refutations;
  stale_.clear();
  const time_point now = clock_.now();
  if (auto it = members_.find(p.sender); it != members_.end()) it->second.heard = now;
  for (const member_update& u : p.updates) apply(u, p.sender.name);
  if (p.sender != self_.key) {
    auto it = members_.find(p.sender);
    if (it == members_.end()) {
      member_update hello;
      hello.key = p.sender;
      hello.address = p.sender_address;
      apply(hello);
      if (auto added = members_.find(p.sender); added != members_.end()) added->second.heard = now;
    } else if ((it->second.info.state == member_state::dead ||
                it->second.info.state == member_state::suspect) &&
               stale_.empty()) {
      // A member held dead or suspect is talking: tell it, so that it
      // refutes (a suspicion whose gossip was lost, say to a partition,
      // would otherwise run out unheard by the accused).
      stale_.push_back(update_of(it->second));
    }
  }
  if (stats_.refutations != refuted_before) {
    // Whoever told us we are suspect or dead hears the refutation at once,
    // and so does the member that suspected us first.
    const member_update mine = self_update();
    if (p.kind != packet_kind::sync) {
      packet g;
      g.kind = packet_kind::gossip;
      send_packet(from, g, &mine);
    }
    for (const member_update& u : p.updates) {
      if (u.key != self_.key || u.from.empty() || u.from == p.sender.name) continue;
      for (const auto& [key, m] : members_) {
        if (key.name != u.from || !is_live(m.info.state)) continue;
        packet g;
        g.kind = packet_kind::gossip;
        send_packet(m.info.address, g, &mine);
      }
    }
  } else if (!stale_.empty() && p.kind != packet_kind::sync) {
    packet g;
    g.kind = packet_kind::gossip;
    std::size_t used = 0;
    for (const member_update& u : stale_) {
      used += encoded_size(u);
      if (used > cfg_.max_packet / 2) break;
      g.updates.push_back(u);
    }
    send_packet(from, g);
  }
  switch (p.kind) {
    case packet_kind::ping: {
      if (p.target == self_.key) {
        packet a;
        a.kind = packet_kind::ack;
        a.seq = p.seq;
        send_packet(from, a);
      } else if (p.target.name == self_.key.name) {
        // A ping for an earlier life of this node: that life is over.
        member_update over;
        over.key = p.target;
        over.address = self_.address;
        over.state = member_state::dead;
        over.incarnation = final_incarnation;
        apply(over);
      }
      break;
    }
    case packet_kind::ping_req: {
      const std::uint32_t seq = ++seq_;
      // The nack is due within the requester's probe period, whatever this
      // member's own health: a helper that is slow to nack makes the
      // requester count a missing nack against its own health.
      relays_[seq] = relay{std::string(from), p.seq, clock_.now() + cfg_.probe_timeout};
      packet ping;
      ping.kind = packet_kind::ping;
      ping.seq = seq;
      ping.target = p.target;
      send_packet(p.target_address, ping);
      break;
    }
    case packet_kind::ack: {
      if (probe_ && p.seq == probe_->seq) {
        probe_.reset();
        health_down();
      } else if (auto it = relays_.find(p.seq); it != relays_.end()) {
        packet a;
        a.kind = packet_kind::ack;
        a.seq = it->second.requester_seq;
        const std::string to = it->second.requester;
        relays_.erase(it);
        send_packet(to, a);
      }
      break;
    }
    case packet_kind::nack:
      if (probe_ && p.seq == probe_->seq) ++probe_->nacks;
      break;
    case packet_kind::sync:
      send_state(packet_kind::sync_reply, from, stream ? &p.sender : nullptr);
      break;
    case packet_kind::sync_reply:
    case packet_kind::gossip:
      break;
  }
}

// ----------------------------------------------------------------- timers

void swim::start_probe() {
  const time_point now = clock_.now();
  next_probe_ = now + scaled(cfg_.probe_interval);
  if (probe_first_) {
    const member_key key = *std::exchange(probe_first_, std::nullopt);
    if (probe_member(key, now)) return;
  }
  for (std::size_t tries = 0; tries < 2; ++tries) {
    while (probe_next_ < probe_order_.size())
      if (probe_member(probe_order_[probe_next_++], now)) return;
    // A pass is over: shuffle the live members again.
    probe_order_.clear();
    for (const auto& [key, m] : members_)
      if (is_live(m.info.state)) probe_order_.push_back(key);
    for (std::size_t i = probe_order_.size(); i > 1; --i)
      std::swap(probe_order_[i - 1], probe_order_[draw(i)]);
    probe_next_ = 0;
  }
}

bool swim::probe_member(const member_key& key, time_point now) {
  auto it = members_.find(key);
  if (it == members_.end() || !is_live(it->second.info.state)) return false;
  const member& m = it->second;
  probe_ = probe{};
  probe_->target = key;
  probe_->address = m.info.address;
  probe_->seq = ++seq_;
  probe_->timeout_at = now + scaled(cfg_.probe_timeout);
  probe_->end_at = next_probe_;
  packet ping;
  ping.kind = packet_kind::ping;
  ping.seq = probe_->seq;
  ping.target = key;
  ++stats_.probes;
  if (m.info.state == member_state::suspect) {
    // The buddy rule: the accused hears of it first, and can refute.
    const member_update accusation = update_of(m);
    send_packet(m.info.address, ping, &accusation);
  } else {
    send_packet(m.info.address, ping);
  }
  return true;
}

void swim::advance_probe(time_point now) {
  if (!probe_) return;
  if (!probe_->indirect_sent && now >= probe_->timeout_at) {
    probe_->indirect_sent = true;
    const member_key target = probe_->target;
    for (const member* helper : pick(cfg_.indirect_checks, &target, false)) {
      if (helper->info.state != member_state::alive) continue;
      packet req;
      req.kind = packet_kind::ping_req;
      req.seq = probe_->seq;
      req.target = target;
      req.target_address = probe_->address;
      ++probe_->nacks_expected;
      ++stats_.indirect_probes;
      send_packet(helper->info.address, req);
    }
  }
  if (now < probe_->end_at) return;
  // No ack, direct or indirect, within the period.
  if (probe_->nacks_expected == 0) {
    health_up();
  } else {
    for (std::size_t i = probe_->nacks; i < probe_->nacks_expected; ++i) health_up();
  }
  auto it = members_.find(probe_->target);
  probe_.reset();
  if (it == members_.end()) return;
  member& m = it->second;
  if (m.info.state == member_state::alive) {
    set_state(m, member_state::suspect, m.info.incarnation, self_.key.name);
    emit(member_event::kind::suspect, m);
    enqueue(update_of(m));
  } else if (m.info.state == member_state::suspect && m.susp &&
             m.susp->confirmers.insert(self_.key.name).second) {
    // Already suspected by others: this failure confirms it independently.
    enqueue(update_of(m));
  }
}

void swim::gossip_round() {
  if (queue_.empty()) return;
  for (const member* m : pick(cfg_.gossip_fanout, nullptr, true)) {
    if (queue_.empty()) break;
    packet g;
    g.kind = packet_kind::gossip;
    send_packet(m->info.address, g);
  }
}

void swim::expire(time_point now) {
  std::erase_if(members_, [&](const auto& kv) {
    const member_info& i = kv.second.info;
    return !is_live(i.state) && now - i.since > cfg_.dead_retention;
  });
}

void swim::leave() {
  if (left_) return;
  ++self_.incarnation;
  self_.state = member_state::left;
  self_.since = clock_.now();
  left_ = true;
  leave_rounds_ = 2;
  queue_.clear();
  probe_.reset();
  next_gossip_ = clock_.now();
  tick();
}

void swim::peer_lost(const member_key& key) {
  if (left_) return;
  // This member has not run for a while (no tick since), or has just
  // resumed: its sessions that end now are most likely its peers' answer to
  // its own silence (they timed it out, or declared it dead and dropped
  // it), not their deaths. The member is probed next instead: alive, it
  // answers; gone, it is suspected one probe later.
  const time_point now = clock_.now();
  if (now - last_tick_ > tick_interval() + cfg_.probe_timeout ||
      now - resumed_at_ < cfg_.probe_timeout) {
    ++stats_.losses_ignored;
    probe_first_ = key;
    if (!probe_) next_probe_ = std::min(next_probe_, now);
    return;
  }
  auto it = members_.find(key);
  if (it == members_.end()) return;
  member& m = it->second;
  if (m.info.state == member_state::alive) {
    set_state(m, member_state::suspect, m.info.incarnation, self_.key.name);
    emit(member_event::kind::suspect, m);
  } else if (m.info.state != member_state::suspect || !m.susp ||
             !m.susp->confirmers.insert(self_.key.name).second) {
    return;
  }
  const member_update accusation = update_of(m);
  enqueue(accusation);
  packet g;
  g.kind = packet_kind::gossip;
  send_packet(m.info.address, g, &accusation);
}

void swim::resume_after(duration lost) {
  ++stats_.pauses;
  resumed_at_ = clock_.now();
  if (probe_) {
    probe_->timeout_at += lost;
    probe_->end_at += lost;
  }
  for (auto& [key, m] : members_)
    if (m.susp) m.susp->start += lost;
}

void swim::tick() {
  const time_point now = clock_.now();
  if (left_) {
    if (leave_rounds_ > 0 && now >= next_gossip_) {
      --leave_rounds_;
      next_gossip_ = now + cfg_.gossip_interval;
      const member_update bye = self_update();
      for (const auto& [key, m] : members_) {
        if (!is_live(m.info.state)) continue;
        packet g;
        g.kind = packet_kind::gossip;
        send_packet(m.info.address, g, &bye);
      }
    }
    return;
  }
  // A tick far later than due: this member did not run for a while (a
  // stopped process, a paused machine, a clock jump). What it waited for
  // may be sitting unread in its socket, so its deadlines move on by the
  // time it lost instead of passing: the probe in flight gets its whole
  // period (a resumed member does not accuse its target for its own
  // pause), and no suspicion it holds runs out for want of a refutation it
  // could not hear.
  const duration lost = now - last_tick_ - tick_interval();
  last_tick_ = now;
  if (lost > cfg_.probe_timeout) resume_after(lost);
  advance_probe(now);
  if (!probe_ && now >= next_probe_) start_probe();
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (now < it->second.nack_at) {
      ++it;
      continue;
    }
    packet n;
    n.kind = packet_kind::nack;
    n.seq = it->second.requester_seq;
    const std::string to = it->second.requester;
    it = relays_.erase(it);
    send_packet(to, n);
  }
  std::vector<member_update> verdicts;
  for (auto& [key, m] : members_) {
    if (m.info.state != member_state::suspect || !m.susp) continue;
    if (now - m.susp->start < suspicion_timeout(*m.susp)) continue;
    set_state(m, member_state::dead, m.info.incarnation, {});
    emit(member_event::kind::dead, m);
    enqueue(update_of(m));
    verdicts.push_back(update_of(m));
  }
  // A verdict this member made goes to every live member at once, rather
  // than a few at a time by gossip: every member holds it dead about one
  // latency after the first one does.
  for (const member_update& verdict : verdicts)
    for (const auto& [key, m] : members_) {
      if (!is_live(m.info.state)) continue;
      packet g;
      g.kind = packet_kind::gossip;
      send_packet(m.info.address, g, &verdict);
    }
  if (now >= next_gossip_) {
    next_gossip_ = now + cfg_.gossip_interval;
    gossip_round();
  }
  if (now >= next_sync_) {
    // A full state grows with the cluster: sync less often as it grows, so
    // that each member's load stays flat.
    const double scale = std::max(1.0, static_cast<double>(live_count()) / 10.0);
    next_sync_ = now + std::chrono::duration_cast<duration>(cfg_.sync_interval * scale);
    auto peers = pick(1, nullptr, false);
    if (!peers.empty())
      send_state(packet_kind::sync, peers.front()->info.address, &peers.front()->info.key);
  }
  if (now >= next_reconnect_) {
    next_reconnect_ = now + cfg_.reconnect_interval;
    reconnect_round();
  }
  expire(now);
}

}  // namespace troupe::cluster
