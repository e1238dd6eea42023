// How news changes the member list: SWIM's ordering of updates by state
// and incarnation, suspicion with Lifeguard's confirmations, refutation,
// and dead verdicts that this member has reason to doubt.

#include <algorithm>
#include <cmath>

#include "troupe/cluster/swim.hpp"

namespace troupe::cluster {

void swim::set_state(member& m, member_state s, std::uint32_t incarnation,
                     const std::string& from) {
  m.info.state = s;
  m.info.incarnation = incarnation;
  m.info.since = clock_.now();
  if (s == member_state::suspect) {
    start_suspicion(m, from);
  } else {
    m.susp.reset();
  }
}

duration swim::min_suspicion() const {
  const double n = static_cast<double>(std::max<std::size_t>(live_count(), 1));
  const double factor = cfg_.suspicion_mult * std::max(1.0, std::log10(n));
  return std::chrono::duration_cast<duration>(cfg_.probe_interval * factor);
}

void swim::start_suspicion(member& m, const std::string& from) {
  suspicion s;
  s.start = clock_.now();
  s.min = min_suspicion();
  s.max = std::chrono::duration_cast<duration>(s.min * cfg_.suspicion_max_mult);
  // Confirmations come from members other than the suspect and the first
  // accuser (n - 2 at most); a small cluster cannot wait for all of them,
  // some may be away themselves, so it needs one fewer.
  const std::size_t live = live_count();
  const std::size_t others = live >= 4 ? live - 3 : (live == 3 ? 1 : 0);
  s.needed = std::min(cfg_.suspicion_confirmations, others);
  s.confirmers.insert(from);
  m.susp = std::move(s);
}

duration swim::suspicion_timeout(const suspicion& s) const {
  const std::size_t k = s.needed;
  if (k == 0) return s.min;
  const std::size_t c = std::min(s.confirmers.size() - 1, k);
  const double frac =
      std::log(static_cast<double>(c) + 1.0) / std::log(static_cast<double>(k) + 1.0);
  const auto span = std::chrono::duration_cast<std::chrono::duration<double>>(s.max - s.min);
  const duration t = s.max - std::chrono::duration_cast<duration>(span * frac);
  return std::max(t, s.min);
}

void swim::apply_about_self(const member_update& u) {
  if (left_) return;
  if (u.state == member_state::alive) {
    if (u.incarnation > self_.incarnation) self_.incarnation = u.incarnation;
    return;
  }
  if (u.incarnation < self_.incarnation) {  // already refuted: the sender is behind
    stale_.push_back(self_update());
    return;
  }
  self_.incarnation = u.incarnation == final_incarnation ? u.incarnation : u.incarnation + 1;
  ++stats_.refutations;
  health_up();
  enqueue(self_update());
}

void swim::doubt(member& m, std::uint32_t incarnation, std::string_view sender) {
  ++stats_.verdicts_doubted;
  const bool was_alive = m.info.state == member_state::alive;
  set_state(m, member_state::suspect, incarnation, self_.key.name);
  if (!sender.empty()) m.susp->confirmers.emplace(sender);
  if (was_alive) emit(member_event::kind::suspect, m);
  const member_update accusation = update_of(m);
  enqueue(accusation);
  // The accused hears of it at once: alive, it refutes straight back.
  packet g;
  g.kind = packet_kind::gossip;
  send_packet(m.info.address, g, &accusation);
}

void swim::apply(const member_update& u, std::string_view sender) {
  if (u.key == self_.key) {
    apply_about_self(u);
    return;
  }
  auto it = members_.find(u.key);
  if (it == members_.end()) {
    member m;
    m.info.key = u.key;
    m.info.address = u.address;
    m.info.incarnation = u.incarnation;
    m.info.since = clock_.now();
    m.info.state = is_live(u.state) ? member_state::alive : u.state;
    auto& added = members_.emplace(u.key, std::move(m)).first->second;
    if (is_live(u.state)) {
      probe_order_.insert(
          probe_order_.begin() + static_cast<std::ptrdiff_t>(draw(probe_order_.size() + 1)), u.key);
      emit(member_event::kind::joined, added);
      if (u.state == member_state::suspect) {
        set_state(added, member_state::suspect, u.incarnation, u.from);
        emit(member_event::kind::suspect, added);
      }
    }
    enqueue(u);
    return;
  }
  member& m = it->second;
  const member_info cur = m.info;
  // The sender holds older news than this member: it hears the newer at once
  // (a refutation that missed it, a resurrection), instead of by chance.
  const bool older =
      u.incarnation < cur.incarnation ||
      (u.incarnation == cur.incarnation && u.state == member_state::alive && !is_live(cur.state));
  if (older && cur.state != member_state::left) stale_.push_back(update_of(m));
  switch (u.state) {
    case member_state::alive:
      if (u.incarnation > cur.incarnation && cur.state != member_state::left) {
        m.info.address = u.address;
        set_state(m, member_state::alive, u.incarnation, {});
        if (cur.state != member_state::alive) {
          if (cur.state == member_state::dead)
            probe_order_.insert(
                probe_order_.begin() + static_cast<std::ptrdiff_t>(draw(probe_order_.size() + 1)),
                u.key);
          emit(member_event::kind::alive, m);
        }
        enqueue(u);
      }
      break;
    case member_state::suspect:
      if (cur.state == member_state::alive && u.incarnation >= cur.incarnation) {
        set_state(m, member_state::suspect, u.incarnation, u.from);
        emit(member_event::kind::suspect, m);
        enqueue(u);
      } else if (cur.state == member_state::suspect && u.incarnation > cur.incarnation) {
        set_state(m, member_state::suspect, u.incarnation, u.from);
        enqueue(u);
      } else if (cur.state == member_state::suspect && u.incarnation == cur.incarnation && m.susp &&
                 m.susp->confirmers.insert(u.from).second) {
        enqueue(u);  // an independent confirmation: others should count it too
      }
      break;
    case member_state::dead:
      if (is_live(cur.state) && u.incarnation >= cur.incarnation) {
        // A verdict about a member that this one has just heard from
        // (within the shortest suspicion, which no verdict about a member
        // that stopped can beat) was made by someone who could not hear
        // it: the cut-off side of a partition, one that was paused. It
        // becomes a suspicion here, which the member refutes. (A life
        // declared over by its own node's next life is not doubted.)
        if (u.incarnation != final_incarnation && clock_.now() - m.heard < min_suspicion()) {
          if (cur.state == member_state::alive || u.incarnation > cur.incarnation) {
            doubt(m, u.incarnation, sender);
          } else if (m.susp && !sender.empty()) {
            m.susp->confirmers.emplace(sender);  // held suspect already: one more accuser
          }
          break;
        }
        set_state(m, member_state::dead, u.incarnation, {});
        emit(member_event::kind::dead, m);
        enqueue(u);
      } else if (cur.state == member_state::dead && u.incarnation > cur.incarnation) {
        m.info.incarnation = u.incarnation;
      }
      break;
    case member_state::left:
      if (cur.state != member_state::left && u.incarnation >= cur.incarnation) {
        set_state(m, member_state::left, u.incarnation, {});
        emit(member_event::kind::left, m);
        enqueue(u);
      }
      break;
  }
}

}  // namespace troupe::cluster
