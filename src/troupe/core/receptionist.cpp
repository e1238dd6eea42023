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

// ---- applying ops (shared by local changes and other nodes') ----------------

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
      if (mine && op.vis != visibility::private_) log_.added(op.stamp.version, op.label);
      return;
    }
    case reception_op::kind::remove: {
      auto it = labels_.find(op.label);
      if (it == labels_.end()) return;
      candidates& cs = it->second;
      for (std::size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].stamp == entry_stamp{op.stamp.origin, op.removes}) {
          if (mine && cs[i].vis != visibility::private_)
            log_.removed(op.stamp.version, op.label, op.removes);
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
    log_.clear();
  }
  on_local_change_.set({});
  on_conflict_.set({});
  for (auto& [label, cs] : labels)
    for (candidate& c : cs)
      if (c.watch != 0) c.actor->remove_watch(c.watch);
  for (sink_record& s : sinks)
    if (s.watch != 0) s.subscriber->remove_watch(s.watch);
}

}  // namespace troupe
