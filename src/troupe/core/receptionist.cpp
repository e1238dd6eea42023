#include "troupe/core/receptionist.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

#include "troupe/core/watch.hpp"

namespace troupe {

/// Checks a local entry out when its actor ends. Lives on the actor's watch
/// list: the actor's cell keeps the system (and so the receptionist) alive.
class receptionist::retire_watch final : public watch_entry {
 public:
  retire_watch(receptionist& r, std::string label, entry_stamp stamp)
      : r_(r), label_(std::move(label)), stamp_(stamp) {}
  void notify(actor_id, const exit_reason&) noexcept override { r_.retire(label_, stamp_); }

 private:
  receptionist& r_;
  std::string label_;
  entry_stamp stamp_;
};

/// Ends a subscription when its subscribing actor ends.
class receptionist::unsubscribe_watch final : public watch_entry {
 public:
  unsubscribe_watch(receptionist& r, std::uint64_t id) : r_(r), id_(id) {}
  void notify(actor_id, const exit_reason&) noexcept override { r_.remove_sink(id_); }

 private:
  receptionist& r_;
  std::uint64_t id_;
};

namespace detail {

void cancel_listing(system_core& core, std::uint64_t id) noexcept {
  core.receptionist().remove_sink(id);
}

}  // namespace detail

receptionist::~receptionist() { clear(); }

// ---- local check-in and check-out ---------------------------------------------

result<entry_stamp> receptionist::check_in_handle(std::string_view label,
                                                  ref_ptr<actor_handle> actor, actor_type type,
                                                  std::string_view key, visibility vis) {
  if (result<void> ok = validate_label(label); !ok) return ok.error();
  if (!key.empty()) {
    if (result<void> ok = validate_label(key); !ok) return ok.error();
  }
  if (!actor) return error(errc::actor_not_found, "empty endpoint");
  if (&actor->core() != &core_)
    return error(errc::invalid_argument, "the actor belongs to another system");
  reception_op op;
  op.what = reception_op::kind::add;
  op.label = std::string(label);
  op.key = std::string(key);
  op.type = type;
  op.vis = vis;
  op.actor = actor;
  {
    std::lock_guard lock(mu_);
    if (labels_.find(label) != labels_.end()) return error(errc::name_taken, op.label);
    op.stamp = entry_stamp{local_origin, ++version_};
    apply_locked(op);
  }
  const entry_stamp stamp = op.stamp;
  // Outside the lock: a watch on an actor that has already ended runs at
  // once, and checks the entry out again.
  std::uint64_t token = 0;
  try {
    token = actor->add_watch(make_ref<retire_watch>(*this, op.label, stamp));
  } catch (...) {
    retire(label, stamp);
    throw;
  }
  if (token == 0) return error(errc::actor_not_found, "the actor has already ended");
  bool kept = false;
  {
    std::lock_guard lock(mu_);
    if (auto it = labels_.find(label); it != labels_.end()) {
      for (candidate& c : it->second) {
        if (c.stamp == stamp) {
          c.watch = token;
          kept = true;
        }
      }
    }
  }
  if (!kept) actor->remove_watch(token);  // checked out meanwhile
  local_changed();
  return stamp;
}

bool receptionist::check_out(std::string_view label) { return retire(label, std::nullopt); }

bool receptionist::check_out(std::string_view label, entry_stamp stamp) {
  return retire(label, stamp);
}

bool receptionist::retire(std::string_view label,
                          const std::optional<entry_stamp>& stamp) noexcept {
  ref_ptr<actor_handle> actor;
  std::uint64_t watch = 0;
  {
    std::lock_guard lock(mu_);
    auto it = labels_.find(label);
    if (it == labels_.end()) return false;
    const candidate* found = nullptr;
    for (const candidate& c : it->second) {
      if (c.stamp.origin == local_origin && (!stamp || c.stamp == *stamp)) found = &c;
    }
    if (found == nullptr) return false;
    actor = found->actor;
    watch = found->watch;
    reception_op op;
    op.what = reception_op::kind::remove;
    op.stamp = entry_stamp{local_origin, ++version_};
    op.label = it->first;
    op.removes = found->stamp.version;
    apply_locked(op);
  }
  if (watch != 0) actor->remove_watch(watch);
  local_changed();
  return true;
}

void receptionist::local_changed() noexcept {
  std::shared_ptr<const std::function<void()>> fn;
  {
    std::lock_guard lock(mu_);
    fn = on_local_change_;
  }
  if (!fn) return;
  try {
    (*fn)();
  } catch (...) {  // the replication hook may not disturb a check-in
  }
}

void receptionist::report_conflicts() noexcept {
  std::vector<reception_conflict> found;
  std::shared_ptr<const std::function<void(const reception_conflict&)>> fn;
  {
    std::lock_guard lock(mu_);
    found.swap(conflicts_);
    fn = on_conflict_;
  }
  if (!fn) return;
  for (const reception_conflict& c : found) {
    try {
      (*fn)(c);
    } catch (...) {
    }
  }
}

// ---- applying ops ---------------------------------------------------------------

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
  apply_status status = apply_status::applied;
  {
    std::lock_guard lock(mu_);
    if (c.origin == self_) return apply_status::refused;
    auto found = applied_.find(c.origin);
    const std::uint64_t seen = found == applied_.end() ? 0 : found->second;
    if (c.reset) {
      if (found != applied_.end() && c.top < seen) return apply_status::duplicate;
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
      applied_[c.origin] = c.top;
    } else {
      if (seen < c.base) return apply_status::gap;
      if (c.top <= seen) return apply_status::duplicate;
      // Only what is newer than what this node has: an older batch that
      // arrives late must not bring back an entry removed since.
      for (const reception_op& op : c.ops)
        if (op.stamp.version > seen) apply_locked(intern(op));
      applied_[c.origin] = c.top;
    }
  }
  report_conflicts();
  return status;
}

void receptionist::apply_locked(const reception_op& op) {
  const bool mine = op.stamp.origin == local_origin;
  switch (op.what) {
    case reception_op::kind::add: {
      auto it = labels_.find(op.label);
      if (it == labels_.end()) it = labels_.emplace(op.label, candidates{}).first;
      candidates& cs = it->second;
      candidate c{op.key, op.type, op.vis, op.stamp, op.actor, 0};
      const entry_stamp r = rank(c.stamp);
      auto pos =
          std::lower_bound(cs.begin(), cs.end(), r,
                           [this](const candidate& x, entry_stamp s) { return rank(x.stamp) < s; });
      if (pos != cs.end() && pos->stamp == c.stamp) return;  // the same entry again
      const bool first = pos == cs.begin();
      if (first && !cs.empty()) {
        hide(it->first, cs.front());  // shadowed by a lower stamp
        if (cs.front().stamp.origin == local_origin && !mine)
          conflicts_.push_back(reception_conflict{it->first, rank(cs.front().stamp), r});
      }
      pos = cs.insert(pos, std::move(c));
      if (first) show(it->first, *pos);
      if (mine && op.vis != visibility::private_) local_live_[op.stamp.version] = op.label;
      return;
    }
    case reception_op::kind::remove: {
      auto it = labels_.find(op.label);
      if (it == labels_.end()) return;
      candidates& cs = it->second;
      for (std::size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].stamp == entry_stamp{op.stamp.origin, op.removes}) {
          if (mine && cs[i].vis != visibility::private_) {
            local_live_.erase(op.removes);
            tombstones_.push_back(tombstone{op.stamp.version, op.label, op.removes});
            if (tombstones_.size() > max_tombstones) {
              horizon_ = tombstones_.front().version;
              tombstones_.pop_front();
            }
          }
          erase_locked(it->first, cs, i);
          break;
        }
      }
      if (cs.empty()) labels_.erase(it);
      return;
    }
    case reception_op::kind::skip:
      return;
  }
}

void receptionist::erase_locked(const std::string& label, candidates& cs, std::size_t i) {
  if (i == 0) hide(label, cs.front());
  cs.erase(cs.begin() + static_cast<std::ptrdiff_t>(i));
  if (i == 0 && !cs.empty()) show(label, cs.front());
}

void receptionist::show(const std::string& label, const candidate& c) {
  if (!c.key.empty()) by_key_[c.key].insert(label);
  announce(listing_change::added, label, c);
}

void receptionist::hide(const std::string& label, const candidate& c) {
  if (!c.key.empty()) {
    if (auto k = by_key_.find(c.key); k != by_key_.end()) {
      k->second.erase(label);
      if (k->second.empty()) by_key_.erase(k);
    }
  }
  announce(listing_change::removed, label, c);
}

void receptionist::announce(listing_change what, const std::string& label, const candidate& c) {
  if (c.key.empty()) return;
  for (const sink_record& s : sinks_) {
    if (s.key == c.key && s.type.matches(c.type)) s.sink->push(what, c.actor, label, c.stamp);
  }
}

std::vector<entry_stamp> receptionist::versions() const {
  std::lock_guard lock(mu_);
  std::vector<entry_stamp> out;
  out.reserve(applied_.size() + 1);
  out.push_back(entry_stamp{local_origin, version_});
  for (const auto& [origin, version] : applied_) out.push_back(entry_stamp{origin, version});
  return out;
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
  reception_changes out;
  out.origin = self_;
  out.top = version_;
  const bool whole = since == 0 || since < horizon_ || since > version_;
  out.reset = whole;
  out.base = whole ? 0 : since;
  const std::uint64_t from = out.base;
  std::vector<reception_op> adds;
  for (auto it = local_live_.upper_bound(from); it != local_live_.end(); ++it) {
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
  if (!whole) {
    auto t = std::upper_bound(tombstones_.begin(), tombstones_.end(), from,
                              [](std::uint64_t v, const tombstone& x) { return v < x.version; });
    for (; t != tombstones_.end(); ++t) {
      reception_op op;
      op.what = reception_op::kind::remove;
      op.stamp = entry_stamp{self_, t->version};
      op.label = t->label;
      op.removes = t->removes;
      removes.push_back(std::move(op));
    }
  }
  out.ops.reserve(adds.size() + removes.size());
  std::merge(std::make_move_iterator(adds.begin()), std::make_move_iterator(adds.end()),
             std::make_move_iterator(removes.begin()), std::make_move_iterator(removes.end()),
             std::back_inserter(out.ops), [](const reception_op& a, const reception_op& b) {
               return a.stamp.version < b.stamp.version;
             });
  return out;
}

namespace {

// FNV-1a, 64 bits: the same on every node and platform.
struct fnv64 {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  void bytes(std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
    h ^= 0xff;  // ends the field, so ("ab","c") and ("a","bc") differ
    h *= 0x100000001b3ULL;
  }
  void number(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ULL;
    }
  }
};

}  // namespace

std::uint64_t receptionist::digest() const {
  std::lock_guard lock(mu_);
  fnv64 f;
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
  std::shared_ptr<const std::function<void()>> h;
  if (fn) h = std::make_shared<const std::function<void()>>(std::move(fn));
  std::lock_guard lock(mu_);
  on_local_change_ = std::move(h);
}

void receptionist::on_conflict(std::function<void(const reception_conflict&)> fn) {
  std::shared_ptr<const std::function<void(const reception_conflict&)>> h;
  if (fn) h = std::make_shared<const std::function<void(const reception_conflict&)>>(std::move(fn));
  std::lock_guard lock(mu_);
  on_conflict_ = std::move(h);
}

// ---- reading ---------------------------------------------------------------------

reception_entry receptionist::entry_of(const std::string& label, const candidate& c) const {
  return reception_entry{label, c.key, c.actor->id(), c.type, c.vis, c.stamp, c.actor};
}

ref_ptr<actor_handle> receptionist::find_handle(std::string_view label, actor_type type) const {
  std::lock_guard lock(mu_);
  auto it = labels_.find(label);
  if (it == labels_.end() || !it->second.front().type.matches(type)) return {};
  return it->second.front().actor;
}

std::vector<ref_ptr<actor_handle>> receptionist::member_handles(std::string_view key,
                                                                actor_type type) const {
  std::vector<ref_ptr<actor_handle>> out;
  std::lock_guard lock(mu_);
  auto k = by_key_.find(key);
  if (k == by_key_.end()) return out;
  for (const std::string& label : k->second) {
    const candidate& c = labels_.find(label)->second.front();
    if (c.type.matches(type)) out.push_back(c.actor);
  }
  return out;
}

std::optional<reception_entry> receptionist::find(std::string_view label) const {
  std::lock_guard lock(mu_);
  auto it = labels_.find(label);
  if (it == labels_.end()) return std::nullopt;
  return entry_of(it->first, it->second.front());
}

std::vector<reception_entry> receptionist::entries() const {
  std::lock_guard lock(mu_);
  std::vector<reception_entry> out;
  out.reserve(labels_.size());
  for (const auto& [label, cs] : labels_) out.push_back(entry_of(label, cs.front()));
  return out;
}

std::size_t receptionist::size() const {
  std::lock_guard lock(mu_);
  return labels_.size();
}

std::size_t receptionist::subscriptions() const {
  std::lock_guard lock(mu_);
  return sinks_.size();
}

// ---- subscriptions ---------------------------------------------------------------

result<std::uint64_t> receptionist::add_sink(std::string_view key, actor_type type,
                                             ref_ptr<detail::listing_sink> sink,
                                             ref_ptr<actor_handle> subscriber) {
  if (result<void> ok = validate_label(key); !ok) return ok.error();
  if (subscriber && &subscriber->core() != &core_)
    return error(errc::invalid_argument, "the subscriber belongs to another system");
  std::uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_sink_++;
    sinks_.push_back(sink_record{id, std::string(key), type, sink, subscriber, 0});
    // The current members, as one `added` each, before any later change.
    if (auto k = by_key_.find(key); k != by_key_.end()) {
      for (const std::string& label : k->second) {
        const candidate& c = labels_.find(label)->second.front();
        if (c.type.matches(type)) sink->push(listing_change::added, c.actor, label, c.stamp);
      }
    }
  }
  if (!subscriber) return id;
  std::uint64_t token = 0;
  try {
    token = subscriber->add_watch(make_ref<unsubscribe_watch>(*this, id));
  } catch (...) {
    remove_sink(id);
    throw;
  }
  if (token == 0) return error(errc::actor_not_found, "the subscriber has already ended");
  bool kept = false;
  {
    std::lock_guard lock(mu_);
    for (sink_record& s : sinks_) {
      if (s.id == id) {
        s.watch = token;
        kept = true;
      }
    }
  }
  if (!kept) subscriber->remove_watch(token);  // cancelled meanwhile
  return id;
}

void receptionist::remove_sink(std::uint64_t id) noexcept {
  sink_record gone;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(sinks_.begin(), sinks_.end(),
                           [id](const sink_record& s) { return s.id == id; });
    if (it == sinks_.end()) return;
    gone = std::move(*it);
    sinks_.erase(it);
  }
  if (gone.watch != 0) gone.subscriber->remove_watch(gone.watch);
}

void receptionist::clear() noexcept {
  std::map<std::string, candidates, std::less<>> labels;
  std::vector<sink_record> sinks;
  {
    std::lock_guard lock(mu_);
    labels.swap(labels_);
    sinks.swap(sinks_);
    by_key_.clear();
    applied_.clear();
    local_live_.clear();
    tombstones_.clear();
    on_local_change_.reset();
    on_conflict_.reset();
  }
  for (auto& [label, cs] : labels)
    for (candidate& c : cs)
      if (c.watch != 0) c.actor->remove_watch(c.watch);
  for (sink_record& s : sinks)
    if (s.watch != 0) s.subscriber->remove_watch(s.watch);
}

}  // namespace troupe
