#include "troupe/core/process_groups.hpp"

#include <algorithm>
#include <iterator>
#include <optional>

#include "troupe/core/watch.hpp"

namespace troupe {

/// Removes one membership when its actor ends. Lives on the actor's watch
/// list: the actor's cell keeps the system (and so the groups) alive.
class process_groups::leave_watch final : public watch_entry {
 public:
  leave_watch(process_groups& g, std::string scope, std::string group, entry_stamp stamp)
      : g_(g), scope_(std::move(scope)), group_(std::move(group)), stamp_(stamp) {}
  void notify(actor_id who, const exit_reason&) noexcept override {
    if (g_.remove_member(scope_, group_, who, &stamp_)) g_.run_callbacks();
  }

 private:
  process_groups& g_;
  std::string scope_;
  std::string group_;
  entry_stamp stamp_;
};

/// Removes a monitor when its monitoring actor ends.
class process_groups::unmonitor_watch final : public watch_entry {
 public:
  unmonitor_watch(process_groups& g, std::uint64_t id) : g_(g), id_(id) {}
  void notify(actor_id, const exit_reason&) noexcept override { g_.remove_monitor(id_); }

 private:
  process_groups& g_;
  std::uint64_t id_;
};

/// Queues events for a callback; run_callbacks() calls it outside the lock.
class process_groups::callback_sink final : public detail::group_sink {
 public:
  callback_sink(process_groups& g, callback fn)
      : g_(g), fn_(std::make_shared<callback>(std::move(fn))) {}
  void push(const group_event& e) noexcept override {
    try {
      g_.pending_.push_back(pending_call{ref_ptr<detail::group_sink>(this), fn_, e});
    } catch (...) {  // out of memory: nothing else can be done here
    }
  }

 private:
  process_groups& g_;
  std::shared_ptr<callback> fn_;
};

process_groups::~process_groups() { clear(); }

// ---- membership ------------------------------------------------------------------

result<void> process_groups::join_handle(std::string_view scope, std::string_view group,
                                         ref_ptr<actor_handle> actor, actor_type type) {
  if (result<void> ok = validate_name(scope); !ok) return ok.error();
  if (result<void> ok = validate_name(group); !ok) return ok.error();
  if (!actor) return error(errc::actor_not_found, "empty endpoint");
  if (&actor->core() != &core_)
    return error(errc::invalid_argument, "the actor belongs to another system");
  const actor_id id = actor->id();
  entry_stamp stamp;
  {
    std::lock_guard lock(mu_);
    auto s = scopes_.find(scope);
    if (s == scopes_.end()) s = scopes_.emplace(std::string(scope), group_map{}).first;
    auto g = s->second.find(group);
    if (g == s->second.end())
      g = s->second.emplace(std::string(group), std::vector<member_rec>{}).first;
    for (const member_rec& r : g->second)
      if (r.m.id == id && r.m.stamp.origin == local_origin) return {};  // already a member
    stamp = entry_stamp{local_origin, version_ + 1};
    log_.added(stamp.version, std::make_pair(s->first, g->first));
    try {
      g->second.push_back(member_rec{group_member{id, type, stamp, actor}, 0});
    } catch (...) {
      log_.forget(stamp.version);
      if (g->second.empty()) {
        s->second.erase(g);
        if (s->second.empty()) scopes_.erase(s);
      }
      throw;
    }
    version_ = stamp.version;
    announce(group_change::joined, s->first, g->first, g->second.back().m);
  }
  run_callbacks();
  local_changed();
  // Outside the lock: a watch on an actor that has already ended runs at
  // once, and removes the membership again.
  std::uint64_t token = 0;
  try {
    token = actor->add_watch(
        make_ref<leave_watch>(*this, std::string(scope), std::string(group), stamp));
  } catch (...) {
    if (remove_member(scope, group, id, &stamp)) run_callbacks();
    throw;
  }
  if (token == 0) return error(errc::actor_not_found, "the actor has already ended");
  bool kept = false;
  {
    std::lock_guard lock(mu_);
    if (auto s = scopes_.find(scope); s != scopes_.end()) {
      if (auto g = s->second.find(group); g != s->second.end()) {
        for (member_rec& r : g->second) {
          if (r.m.stamp == stamp) {
            r.watch = token;
            kept = true;
          }
        }
      }
    }
  }
  if (!kept) actor->remove_watch(token);  // left meanwhile
  return {};
}

bool process_groups::leave_id(std::string_view scope, std::string_view group, actor_id id) {
  if (!remove_member(scope, group, id, nullptr)) return false;
  run_callbacks();
  return true;
}

bool process_groups::remove_member(std::string_view scope, std::string_view group, actor_id id,
                                   const entry_stamp* stamp) noexcept {
  member_rec gone;
  {
    std::lock_guard lock(mu_);
    auto s = scopes_.find(scope);
    if (s == scopes_.end()) return false;
    auto g = s->second.find(group);
    if (g == s->second.end()) return false;
    auto& v = g->second;
    // By id: this node's membership of that actor (ids of other nodes'
    // actors may coincide with ours).
    auto it = std::find_if(v.begin(), v.end(), [&](const member_rec& r) {
      return stamp != nullptr ? r.m.id == id && r.m.stamp == *stamp
                              : r.m.id == id && r.m.stamp.origin == local_origin;
    });
    if (it == v.end()) return false;
    gone = erase_locked(s, g, static_cast<std::size_t>(it - v.begin()));
  }
  // Outside the lock: the watch list has a lock of its own.
  if (gone.watch != 0) gone.m.actor->remove_watch(gone.watch);
  local_changed();
  return true;
}

process_groups::member_rec process_groups::erase_locked(
    std::map<std::string, group_map, std::less<>>::iterator s, group_map::iterator g,
    std::size_t i) {
  auto& v = g->second;
  member_rec gone = std::move(v[i]);
  v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
  announce(group_change::left, s->first, g->first, gone.m);
  if (gone.m.stamp.origin == local_origin) {
    // A leave of this node's: the next version, kept as a tombstone for
    // nodes that have the join.
    ++version_;
    log_.removed(version_, std::make_pair(s->first, g->first), gone.m.stamp.version);
  }
  if (v.empty()) {
    s->second.erase(g);
    if (s->second.empty()) scopes_.erase(s);
  }
  return gone;
}

// ---- reading ---------------------------------------------------------------------

std::vector<group_member> process_groups::member_list(std::string_view scope,
                                                      std::string_view group,
                                                      bool local_only) const {
  std::vector<group_member> out;
  std::lock_guard lock(mu_);
  auto s = scopes_.find(scope);
  if (s == scopes_.end()) return out;
  auto g = s->second.find(group);
  if (g == s->second.end()) return out;
  out.reserve(g->second.size());
  for (const member_rec& r : g->second)
    if (!local_only || r.m.stamp.origin == local_origin) out.push_back(r.m);
  return out;
}

std::vector<std::string> process_groups::groups(std::string_view scope) const {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  auto s = scopes_.find(scope);
  if (s == scopes_.end()) return out;
  for (const auto& [name, members] : s->second) out.push_back(name);
  return out;
}

std::vector<std::string> process_groups::scopes() const {
  std::vector<std::string> out;
  std::lock_guard lock(mu_);
  for (const auto& [name, groups] : scopes_) out.push_back(name);
  return out;
}

std::vector<std::pair<std::string, std::string>> process_groups::groups_of(actor_id id) const {
  std::vector<std::pair<std::string, std::string>> out;
  std::lock_guard lock(mu_);
  for (const auto& [scope, groups] : scopes_) {
    for (const auto& [group, members] : groups) {
      for (const member_rec& r : members) {
        if (r.m.id == id && r.m.stamp.origin == local_origin) {
          out.emplace_back(scope, group);
          break;
        }
      }
    }
  }
  return out;
}

// ---- monitors --------------------------------------------------------------------

void process_groups::announce(group_change what, const std::string& scope, const std::string& group,
                              const group_member& m) {
  std::optional<group_event> e;
  for (const monitor_rec& r : monitors_) {
    if (r.scope != scope || (!r.whole_scope && r.group != group)) continue;
    if (!e) e.emplace(group_event{what, scope, group, m});
    r.sink->push(*e);
  }
}

result<scoped_subscription> process_groups::monitor(std::string_view scope, std::string_view group,
                                                    callback fn) {
  return monitor_callback(scope, group, false, std::move(fn));
}

result<scoped_subscription> process_groups::monitor_scope(std::string_view scope, callback fn) {
  return monitor_callback(scope, {}, true, std::move(fn));
}

result<scoped_subscription> process_groups::monitor_callback(std::string_view scope,
                                                             std::string_view group,
                                                             bool whole_scope, callback fn) {
  if (!fn) return error(errc::invalid_argument, "empty callback");
  result<std::uint64_t> id =
      add_monitor(scope, group, whole_scope, make_ref<callback_sink>(*this, std::move(fn)), {});
  if (!id) return id.error();
  return scoped_subscription(
      subscription(ref_ptr<system_core>(&core_), subscription::source::groups, *id));
}

result<std::uint64_t> process_groups::add_monitor(std::string_view scope, std::string_view group,
                                                  bool whole_scope,
                                                  ref_ptr<detail::group_sink> sink,
                                                  ref_ptr<actor_handle> subscriber) {
  if (result<void> ok = validate_name(scope); !ok) return ok.error();
  if (!whole_scope) {
    if (result<void> ok = validate_name(group); !ok) return ok.error();
  }
  if (subscriber && &subscriber->core() != &core_)
    return error(errc::invalid_argument, "the monitor belongs to another system");
  std::uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_monitor_++;
    monitors_.push_back(monitor_rec{id, std::string(scope),
                                    whole_scope ? std::string{} : std::string(group), whole_scope,
                                    sink, subscriber, 0});
    // The current members, as one `joined` each, before any later change.
    if (auto s = scopes_.find(scope); s != scopes_.end()) {
      for (const auto& [name, members] : s->second) {
        if (!whole_scope && name != group) continue;
        for (const member_rec& r : members)
          sink->push(group_event{group_change::joined, s->first, name, r.m});
      }
    }
  }
  run_callbacks();
  if (!subscriber) return id;
  std::uint64_t token = 0;
  try {
    token = subscriber->add_watch(make_ref<unmonitor_watch>(*this, id));
  } catch (...) {
    remove_monitor(id);
    throw;
  }
  if (token == 0) return error(errc::actor_not_found, "the monitor has already ended");
  bool kept = false;
  {
    std::lock_guard lock(mu_);
    for (monitor_rec& r : monitors_) {
      if (r.id == id) {
        r.watch = token;
        kept = true;
      }
    }
  }
  if (!kept) subscriber->remove_watch(token);  // cancelled meanwhile
  return id;
}

void process_groups::remove_monitor(std::uint64_t id) noexcept {
  monitor_rec gone;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(monitors_.begin(), monitors_.end(),
                           [id](const monitor_rec& r) { return r.id == id; });
    if (it == monitors_.end()) return;
    gone = std::move(*it);
    monitors_.erase(it);
    gone.sink->closed = true;  // its queued callbacks are skipped
  }
  if (gone.watch != 0) gone.subscriber->remove_watch(gone.watch);
}

void process_groups::run_callbacks() noexcept {
  std::unique_lock lock(mu_);
  if (running_callbacks_) return;  // the thread running them picks ours up
  running_callbacks_ = true;
  while (!pending_.empty()) {
    pending_call call = std::move(pending_.front());
    pending_.pop_front();
    if (call.sink->closed) continue;
    lock.unlock();
    try {
      (*call.fn)(call.event);
    } catch (...) {  // a callback may not disturb the change that caused it
    }
    call = pending_call{};  // release outside the lock
    lock.lock();
  }
  running_callbacks_ = false;
}

void process_groups::clear() noexcept {
  std::map<std::string, group_map, std::less<>> scopes;
  std::vector<monitor_rec> monitors;
  std::deque<pending_call> pending;
  {
    std::lock_guard lock(mu_);
    scopes.swap(scopes_);
    monitors.swap(monitors_);
    pending.swap(pending_);
    for (monitor_rec& r : monitors) r.sink->closed = true;
    applied_.clear();
    log_.clear();
  }
  on_local_change_.set({});
  for (auto& [scope, groups] : scopes)
    for (auto& [group, members] : groups)
      for (member_rec& r : members)
        if (r.watch != 0) r.m.actor->remove_watch(r.watch);
  for (monitor_rec& r : monitors)
    if (r.watch != 0) r.subscriber->remove_watch(r.watch);
}

}  // namespace troupe
