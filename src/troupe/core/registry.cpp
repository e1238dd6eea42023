#include "troupe/core/registry.hpp"

#include <utility>

#include "troupe/core/watch.hpp"

namespace troupe {

/// Removes one registration when its actor ends. Lives on the actor's watch
/// list, so the actor's cell (which keeps the system, and so the registry,
/// alive) outlives it.
class registry::retire_watch final : public watch_entry {
 public:
  retire_watch(registry& r, std::string name, entry_stamp stamp)
      : registry_(r), name_(std::move(name)), stamp_(stamp) {}
  void notify(actor_id, const exit_reason&) noexcept override {
    registry_.remove_if(name_, stamp_);
  }

 private:
  registry& registry_;
  std::string name_;
  entry_stamp stamp_;
};

registry::~registry() { clear(); }

result<entry_stamp> registry::add_handle(std::string_view name, ref_ptr<actor_handle> actor,
                                         actor_type type) {
  if (result<void> ok = validate_name(name); !ok) return ok.error();
  if (!actor) return error(errc::actor_not_found, "empty endpoint");
  if (&actor->core() != &core_)
    return error(errc::invalid_argument, "the actor belongs to another system");
  entry_stamp stamp;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) return error(errc::name_taken, std::string(name));
    stamp = entry_stamp{local_origin, ++version_};
    entries_.emplace(std::string(name), slot{actor, type, stamp, 0});
  }
  // Outside the lock: a watch on an actor that has already ended runs at
  // once, and removes the entry again.
  std::uint64_t token = 0;
  try {
    token = actor->add_watch(make_ref<retire_watch>(*this, std::string(name), stamp));
  } catch (...) {
    remove_if(name, stamp);
    throw;
  }
  if (token == 0) return error(errc::actor_not_found, "the actor has already ended");
  bool kept = false;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && it->second.stamp == stamp) {
      it->second.watch = token;
      kept = true;
    }
  }
  if (!kept) actor->remove_watch(token);  // removed meanwhile: its watch goes too
  return stamp;
}

ref_ptr<actor_handle> registry::find_handle(std::string_view name, actor_type type) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.type.matches(type)) return {};
  return it->second.actor;
}

bool registry::remove(std::string_view name) { return remove_if(name, std::nullopt); }

bool registry::remove(std::string_view name, entry_stamp stamp) { return remove_if(name, stamp); }

bool registry::remove_if(std::string_view name, const std::optional<entry_stamp>& stamp) noexcept {
  slot gone;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end() || (stamp && it->second.stamp != *stamp)) return false;
    gone = std::move(it->second);
    entries_.erase(it);
  }
  // Outside the lock: the watch list has a lock of its own, and the last
  // reference to the actor may go here.
  if (gone.watch != 0) gone.actor->remove_watch(gone.watch);
  return true;
}

std::optional<registry_entry> registry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  const slot& s = it->second;
  return registry_entry{it->first, s.actor->id(), s.type, s.stamp, s.actor};
}

bool registry::contains(std::string_view name) const {
  std::lock_guard lock(mu_);
  return entries_.find(name) != entries_.end();
}

std::vector<std::string> registry::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, s] : entries_) out.push_back(name);
  return out;
}

std::vector<registry_entry> registry::entries() const {
  std::lock_guard lock(mu_);
  std::vector<registry_entry> out;
  out.reserve(entries_.size());
  for (const auto& [name, s] : entries_)
    out.push_back(registry_entry{name, s.actor->id(), s.type, s.stamp, s.actor});
  return out;
}

std::size_t registry::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void registry::clear() noexcept {
  std::map<std::string, slot, std::less<>> all;
  {
    std::lock_guard lock(mu_);
    all.swap(entries_);
  }
  for (auto& [name, s] : all)
    if (s.watch != 0) s.actor->remove_watch(s.watch);
}

}  // namespace troupe
