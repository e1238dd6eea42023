// The receptionist's replication seam: hooks, ops and batches from other
// nodes, this node's changes for them, origins, digests. The state they
// share with local check-ins (apply_locked and its helpers) is in
// receptionist.cpp.

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "troupe/core/internal/fnv64.hpp"
#include "troupe/core/receptionist.hpp"

namespace troupe {

// ---- hooks ------------------------------------------------------------------------

void receptionist::local_changed() noexcept { on_local_change_(); }

void receptionist::report_conflicts() noexcept {
  std::vector<reception_conflict> found;
  {
    std::lock_guard lock(mu_);
    found.swap(conflicts_);
  }
  for (const reception_conflict& c : found) on_conflict_(c);
}

// ---- ops and batches from other nodes ----------------------------------------------

apply_status receptionist::check_remote(const reception_op& op, origin_id origin) const {
  if (origin == local_origin || op.stamp.origin != origin || op.stamp.version == 0)
    return apply_status::refused;
  if (op.what == reception_op::kind::add) {
    if (!op.actor || !validate_label(op.label)) return apply_status::refused;
    if (!op.key.empty() && !validate_label(op.key)) return apply_status::refused;
    if (op.type.name.empty() || op.type.name.size() > max_name_length) return apply_status::refused;
  }
  return apply_status::applied;
}

reception_op receptionist::intern(const reception_op& op) {
  reception_op out = op;
  if (op.what == reception_op::kind::add) {
    auto it = type_names_.find(op.type.name);
    if (it == type_names_.end()) it = type_names_.emplace(op.type.name).first;
    out.type = actor_type{nullptr, *it};
  }
  return out;
}

apply_status receptionist::apply(const reception_op& op) {
  if (check_remote(op, op.stamp.origin) != apply_status::applied) return apply_status::refused;
  {
    std::lock_guard lock(mu_);
    if (op.stamp.origin == self_) return apply_status::refused;
    std::uint64_t& seen = applied_[op.stamp.origin];
    if (op.stamp.version <= seen) return apply_status::duplicate;
    if (op.stamp.version != seen + 1) {
      if (seen == 0) applied_.erase(op.stamp.origin);
      return apply_status::gap;
    }
    apply_locked(intern(op));
    seen = op.stamp.version;
  }
  report_conflicts();
  return apply_status::applied;
}

apply_status receptionist::apply_changes(const reception_changes& c) {
  if (c.origin == local_origin || c.top < c.base) return apply_status::refused;
  for (const reception_op& op : c.ops) {
    if (check_remote(op, c.origin) != apply_status::applied || op.stamp.version > c.top)
      return apply_status::refused;
  }
  {
    std::lock_guard lock(mu_);
    if (c.origin == self_) return apply_status::refused;
    auto found = applied_.find(c.origin);
    const std::uint64_t seen = found == applied_.end() ? 0 : found->second;
    switch (detail::fit_batch(found != applied_.end(), seen, c.base, c.top, c.reset)) {
      case detail::batch_fit::duplicate:
        return apply_status::duplicate;
      case detail::batch_fit::gap:
        return apply_status::gap;
      case detail::batch_fit::whole: {
        // Drop what the origin no longer has, then add what is missing.
        std::set<std::uint64_t> kept;
        for (const reception_op& op : c.ops)
          if (op.what == reception_op::kind::add) kept.insert(op.stamp.version);
        for (auto it = labels_.begin(); it != labels_.end();) {
          candidates& cs = it->second;
          for (std::size_t i = cs.size(); i-- > 0;) {
            if (cs[i].stamp.origin == c.origin && kept.count(cs[i].stamp.version) == 0)
              erase_locked(it->first, cs, i);
          }
          it = cs.empty() ? labels_.erase(it) : std::next(it);
        }
        for (const reception_op& op : c.ops)
          if (op.what == reception_op::kind::add) apply_locked(intern(op));
        break;
      }
      case detail::batch_fit::delta:
        // Only what is newer than what this node has: an older batch that
        // arrives late must not bring back an entry removed since.
        for (const reception_op& op : c.ops)
          if (op.stamp.version > seen) apply_locked(intern(op));
        break;
    }
    applied_[c.origin] = c.top;
  }
  report_conflicts();
  return apply_status::applied;
}

// ---- versions, origins, this node's changes, digests -------------------------------

std::vector<entry_stamp> receptionist::versions() const {
  std::lock_guard lock(mu_);
  return detail::version_vector(version_, applied_);
}

std::size_t receptionist::drop_origin(origin_id origin) {
  if (origin == local_origin) return 0;
  std::lock_guard lock(mu_);
  std::size_t dropped = 0;
  for (auto it = labels_.begin(); it != labels_.end();) {
    candidates& cs = it->second;
    for (std::size_t i = cs.size(); i-- > 0;) {
      if (cs[i].stamp.origin == origin) {
        erase_locked(it->first, cs, i);
        ++dropped;
      }
    }
    it = cs.empty() ? labels_.erase(it) : std::next(it);
  }
  applied_.erase(origin);
  return dropped;
}

void receptionist::set_origin(origin_id self) {
  {
    std::lock_guard lock(mu_);
    self_ = self;
    // Re-rank the labels that have several candidates.
    for (auto& [label, cs] : labels_) {
      if (cs.size() < 2) continue;
      const candidate before = cs.front();
      std::stable_sort(cs.begin(), cs.end(), [this](const candidate& a, const candidate& b) {
        return rank(a.stamp) < rank(b.stamp);
      });
      if (cs.front().stamp == before.stamp) continue;
      hide(label, before);
      show(label, cs.front());
      if (before.stamp.origin == local_origin)
        conflicts_.push_back(reception_conflict{label, rank(before.stamp), rank(cs.front().stamp)});
    }
  }
  report_conflicts();
}

origin_id receptionist::origin() const {
  std::lock_guard lock(mu_);
  return self_;
}

reception_changes receptionist::local_changes(std::uint64_t since) const {
  std::lock_guard lock(mu_);
  auto out = log_.start<reception_changes>(self_, version_, since);
  std::vector<reception_op> adds;
  for (auto [it, end] = log_.live_after(out.base); it != end; ++it) {
    auto l = labels_.find(it->second);
    if (l == labels_.end()) continue;
    for (const candidate& c : l->second) {
      if (c.stamp != entry_stamp{local_origin, it->first}) continue;
      reception_op op;
      op.what = reception_op::kind::add;
      op.stamp = entry_stamp{self_, it->first};
      op.label = l->first;
      op.key = c.key;
      op.type = c.type;
      op.vis = c.vis;
      op.actor = c.actor;
      adds.push_back(std::move(op));
    }
  }
  std::vector<reception_op> removes;
  if (!out.reset) {
    for (auto [t, end] = log_.removals_after(out.base); t != end; ++t) {
      reception_op op;
      op.what = reception_op::kind::remove;
      op.stamp = entry_stamp{self_, t->version};
      op.label = t->place;
      op.removes = t->removes;
      removes.push_back(std::move(op));
    }
  }
  detail::merge_by_version(adds, removes, out.ops);
  return out;
}

std::uint64_t receptionist::digest() const {
  std::lock_guard lock(mu_);
  detail::fnv64 f;
  for (const auto& [label, cs] : labels_) {
    for (const candidate& c : cs) {
      if (c.vis == visibility::private_) continue;
      const entry_stamp r = rank(c.stamp);
      f.bytes(label);
      f.bytes(c.key);
      f.bytes(c.type.name);
      f.number(static_cast<std::uint64_t>(c.vis));
      f.number(r.origin);
      f.number(r.version);
      break;  // the first that may leave: what other nodes show
    }
  }
  return f.h;
}

void receptionist::on_local_change(std::function<void()> fn) {
  on_local_change_.set(std::move(fn));
}

void receptionist::on_conflict(std::function<void(const reception_conflict&)> fn) {
  on_conflict_.set(std::move(fn));
}

}  // namespace troupe
