#include "troupe/core/member_set.hpp"

#include <utility>

namespace troupe::detail {
namespace {

class down_forwarder final : public watch_entry {
 public:
  explicit down_forwarder(std::weak_ptr<down_listener> l) : l_(std::move(l)) {}
  void notify(actor_id who, const exit_reason&) noexcept override {
    if (std::shared_ptr<down_listener> l = l_.lock()) l->member_down(who);
  }

 private:
  std::weak_ptr<down_listener> l_;
};

}  // namespace

ref_ptr<watch_entry> make_down_forwarder(std::weak_ptr<down_listener> l) {
  return make_ref<down_forwarder>(std::move(l));
}

std::shared_ptr<member_set> member_set::make(ref_ptr<system_core> core) {
  return std::make_shared<member_set>(std::move(core));
}

member_set::~member_set() {
  for (member& m : members_) {
    if (m.token != 0) m.h->remove_watch(m.token);
  }
}

std::optional<std::size_t> member_set::find(actor_id id) const noexcept {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].h->id() == id) return i;
  }
  return std::nullopt;
}

bool member_set::add(ref_ptr<actor_handle> h) {
  if (!h) return false;
  const actor_id id = h->id();
  {
    std::lock_guard lock(mu_);
    if (find(id)) return false;
    members_.push_back(member{h, 0});
    ring_dirty_ = true;
  }
  // Outside the lock: watching an actor that is already gone calls
  // member_down() at once, which takes the lock.
  const std::uint64_t token = h->add_watch(make_down_forwarder(weak_from_this()));
  {
    std::lock_guard lock(mu_);
    if (auto i = find(id); i && members_[*i].h == h) {
      members_[*i].token = token;
      return true;
    }
  }
  // Removed meanwhile (it ended, or remove() raced with us).
  if (token != 0) h->remove_watch(token);
  return false;
}

bool member_set::remove(actor_id id) {
  member gone;
  {
    std::lock_guard lock(mu_);
    auto i = find(id);
    if (!i) return false;
    gone = std::move(members_[*i]);
    members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(*i));
    if (*i < next_) --next_;
    if (next_ >= members_.size()) next_ = 0;
    ring_dirty_ = true;
  }
  if (gone.token != 0) gone.h->remove_watch(gone.token);
  return true;
}

std::vector<ref_ptr<actor_handle>> member_set::snapshot() const {
  std::lock_guard lock(mu_);
  std::vector<ref_ptr<actor_handle>> out;
  out.reserve(members_.size());
  for (const member& m : members_) out.push_back(m.h);
  return out;
}

std::size_t member_set::size() const {
  std::lock_guard lock(mu_);
  return members_.size();
}

ref_ptr<actor_handle> member_set::next_in_turn() {
  std::lock_guard lock(mu_);
  if (members_.empty()) return {};
  if (next_ >= members_.size()) next_ = 0;
  return members_[next_++].h;
}

ref_ptr<actor_handle> member_set::pick_random() {
  std::lock_guard lock(mu_);
  if (members_.empty()) return {};
  return members_[core_->random().below(members_.size())].h;
}

ref_ptr<actor_handle> member_set::pick_by_key(const routing_key& key) {
  std::lock_guard lock(mu_);
  if (members_.empty()) return {};
  if (ring_dirty_) {
    std::vector<std::uint64_t> ids;
    ids.reserve(members_.size());
    for (const member& m : members_) ids.push_back(m.h->id());
    ring_.assign(ids);
    ring_dirty_ = false;
  }
  return members_[*ring_.owner(key.hash())].h;
}

void listing_to_members::push(listing_change what, const ref_ptr<actor_handle>& actor,
                              const std::string&, entry_stamp) noexcept {
  std::shared_ptr<member_set> set = set_.lock();
  if (!set) return;  // the router is gone
  try {
    if (what == listing_change::added) {
      set->add(actor);
    } else {
      set->remove(actor->id());
    }
  } catch (...) {  // out of memory: the member set misses this change
  }
}

}  // namespace troupe::detail
