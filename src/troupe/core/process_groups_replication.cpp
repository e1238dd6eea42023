// The process groups' replication seam: other nodes' memberships in, this
// node's changes out, origins, digests. Local joins and leaves, and the
// state they share with these (erase_locked), are in process_groups.cpp.

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "troupe/core/internal/fnv64.hpp"
#include "troupe/core/process_groups.hpp"

namespace troupe {

void process_groups::local_changed() noexcept { on_local_change_(); }

void process_groups::on_local_change(std::function<void()> fn) {
  on_local_change_.set(std::move(fn));
}

void process_groups::set_origin(origin_id self) {
  std::lock_guard lock(mu_);
  self_ = self;
}

origin_id process_groups::origin() const {
  std::lock_guard lock(mu_);
  return self_;
}

// ---- other nodes' changes ---------------------------------------------------------

group_op process_groups::intern(const group_op& op) {
  group_op out = op;
  if (op.what == group_op::kind::join) {
    auto it = type_names_.find(op.type.name);
    if (it == type_names_.end()) it = type_names_.emplace(op.type.name).first;
    out.type = actor_type{nullptr, *it};
  }
  return out;
}

void process_groups::apply_locked(const group_op& op) {
  if (op.what == group_op::kind::join) {
    auto s = scopes_.find(op.scope);
    if (s == scopes_.end()) s = scopes_.emplace(op.scope, group_map{}).first;
    auto g = s->second.find(op.group);
    if (g == s->second.end()) g = s->second.emplace(op.group, std::vector<member_rec>{}).first;
    g->second.push_back(member_rec{group_member{op.actor->id(), op.type, op.stamp, op.actor}, 0});
    announce(group_change::joined, s->first, g->first, g->second.back().m);
    return;
  }
  auto s = scopes_.find(op.scope);
  if (s == scopes_.end()) return;
  auto g = s->second.find(op.group);
  if (g == s->second.end()) return;
  const entry_stamp joined{op.stamp.origin, op.removes};
  for (std::size_t i = 0; i < g->second.size(); ++i) {
    if (g->second[i].m.stamp == joined) {
      erase_locked(s, g, i);  // remote: no watch to remove
      return;
    }
  }
}

namespace {

bool well_formed(const group_op& op, origin_id origin) {
  if (origin == local_origin || op.stamp.origin != origin || op.stamp.version == 0) return false;
  if (!validate_name(op.scope) || !validate_name(op.group)) return false;
  if (op.what == group_op::kind::join)
    return op.actor && !op.type.name.empty() && op.type.name.size() <= max_name_length;
  return op.what == group_op::kind::leave && op.removes != 0 && op.removes < op.stamp.version;
}

}  // namespace

apply_status process_groups::apply_changes(const group_changes& c) {
  if (c.origin == local_origin || c.top < c.base) return apply_status::refused;
  // Versions rise strictly through a batch: a join cannot come twice.
  std::uint64_t last = c.base;
  for (const group_op& op : c.ops) {
    if (!well_formed(op, c.origin) || op.stamp.version > c.top || op.stamp.version <= last)
      return apply_status::refused;
    last = op.stamp.version;
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
        // End what the origin no longer has, then add what is missing.
        std::set<std::uint64_t> kept;
        for (const group_op& op : c.ops)
          if (op.what == group_op::kind::join) kept.insert(op.stamp.version);
        std::set<std::uint64_t> present;
        end_memberships_locked([&](const entry_stamp& st) {
          if (st.origin != c.origin) return false;
          if (kept.count(st.version) == 0) return true;
          present.insert(st.version);
          return false;
        });
        for (const group_op& op : c.ops)
          if (op.what == group_op::kind::join && present.count(op.stamp.version) == 0)
            apply_locked(intern(op));
        break;
      }
      case detail::batch_fit::delta:
        // Only what is newer than what this node has: a batch that arrives
        // late must not bring back a membership that ended since.
        for (const group_op& op : c.ops)
          if (op.stamp.version > seen)
            apply_locked(op.what == group_op::kind::join ? intern(op) : op);
        break;
    }
    applied_[c.origin] = c.top;
  }
  run_callbacks();
  return apply_status::applied;
}

std::size_t process_groups::drop_origin(origin_id origin) {
  if (origin == local_origin) return 0;
  std::size_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    dropped =
        end_memberships_locked([origin](const entry_stamp& st) { return st.origin == origin; });
    applied_.erase(origin);
  }
  run_callbacks();
  return dropped;
}

std::size_t process_groups::end_memberships_locked(
    const std::function<bool(const entry_stamp&)>& which) {
  // One pass over each group, keeping the order of those that stay.
  std::size_t ended = 0;
  for (auto s = scopes_.begin(); s != scopes_.end();) {
    for (auto g = s->second.begin(); g != s->second.end();) {
      std::vector<member_rec>& v = g->second;
      std::size_t out = 0;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i].m.stamp.origin != local_origin && which(v[i].m.stamp)) {
          announce(group_change::left, s->first, g->first, v[i].m);
          ++ended;
        } else {
          if (out != i) v[out] = std::move(v[i]);
          ++out;
        }
      }
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(out), v.end());
      g = v.empty() ? s->second.erase(g) : std::next(g);
    }
    s = s->second.empty() ? scopes_.erase(s) : std::next(s);
  }
  return ended;
}

std::vector<entry_stamp> process_groups::versions() const {
  std::lock_guard lock(mu_);
  return detail::version_vector(version_, applied_);
}

// ---- this node's changes ----------------------------------------------------------

group_changes process_groups::local_changes(std::uint64_t since) const {
  std::lock_guard lock(mu_);
  auto out = log_.start<group_changes>(self_, version_, since);
  std::vector<group_op> joins;
  for (auto [it, end] = log_.live_after(out.base); it != end; ++it) {
    const auto& [scope, group] = it->second;
    auto s = scopes_.find(scope);
    if (s == scopes_.end()) continue;
    auto g = s->second.find(group);
    if (g == s->second.end()) continue;
    for (const member_rec& r : g->second) {
      if (r.m.stamp != entry_stamp{local_origin, it->first}) continue;
      group_op op;
      op.what = group_op::kind::join;
      op.stamp = entry_stamp{self_, it->first};
      op.scope = scope;
      op.group = group;
      op.type = r.m.type;
      op.actor = r.m.actor;
      joins.push_back(std::move(op));
    }
  }
  std::vector<group_op> leaves;
  if (!out.reset) {
    for (auto [t, end] = log_.removals_after(out.base); t != end; ++t) {
      group_op op;
      op.what = group_op::kind::leave;
      op.stamp = entry_stamp{self_, t->version};
      op.scope = t->place.first;
      op.group = t->place.second;
      op.removes = t->removes;
      leaves.push_back(std::move(op));
    }
  }
  detail::merge_by_version(joins, leaves, out.ops);
  return out;
}

std::uint64_t process_groups::digest() const {
  std::lock_guard lock(mu_);
  detail::fnv64 f;
  std::vector<std::pair<entry_stamp, std::string_view>> ranked;
  for (const auto& [scope, groups] : scopes_) {
    for (const auto& [group, members] : groups) {
      // Join order differs between nodes; stamps do not.
      ranked.clear();
      for (const member_rec& r : members) {
        entry_stamp st = r.m.stamp;
        if (st.origin == local_origin) st.origin = self_;
        ranked.emplace_back(st, r.m.type.name);
      }
      std::sort(ranked.begin(), ranked.end());
      f.bytes(scope);
      f.bytes(group);
      for (const auto& [st, type] : ranked) {
        f.bytes(type);
        f.number(st.origin);
        f.number(st.version);
      }
    }
  }
  return f.h;
}

}  // namespace troupe
