#include "troupe/core/cell.hpp"

#include <thread>

#include "troupe/core/internal/cell_ext.hpp"

namespace troupe {

void cell::lock_watches() noexcept {
  while (watch_lock_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
}

void cell::notify_watchers(const exit_reason& why) noexcept {
  std::vector<std::pair<std::uint64_t, ref_ptr<watch_entry>>> entries;
  lock_watches();
  if (!watches_) watches_ = std::make_unique<watch_list>();
  watches_->closed = true;
  watches_->reason = why;
  entries.swap(watches_->entries);
  unlock_watches();
  for (auto& [token, e] : entries) e->notify(id_, why);
}

std::uint64_t cell::add_watch(ref_ptr<watch_entry> e) {
  lock_watches();
  if (!watches_) watches_ = std::make_unique<watch_list>();
  if (watches_->closed) {
    exit_reason why = watches_->reason;
    unlock_watches();
    e->notify(id_, why);
    return 0;
  }
  std::uint64_t token = watches_->next_token++;
  try {
    watches_->entries.emplace_back(token, std::move(e));
  } catch (...) {
    unlock_watches();
    throw;
  }
  unlock_watches();
  return token;
}

void cell::remove_watch(std::uint64_t token) noexcept {
  ref_ptr<watch_entry> gone;  // released outside the lock
  lock_watches();
  if (watches_) {
    auto& v = watches_->entries;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it->first == token) {
        gone = std::move(it->second);
        v.erase(it);
        break;
      }
    }
  }
  unlock_watches();
}

void cell::own_watch(const ref_ptr<actor_handle>& target, std::uint64_t token) {
  if (token != 0) extension().outgoing_watches.emplace_back(target, token);
}

void cell::enqueue_notice(envelope* e) noexcept {
  if (bounded_) ext_->count.fetch_add(1, std::memory_order_acq_rel);
  user_.push(e);
  schedule_if_idle();
}

void cell::own_link(const ref_ptr<actor_handle>& target, std::uint64_t on_target,
                    std::uint64_t on_self) {
  own_watch(target, on_target);
  extension().links.push_back(ext::link_record{target, on_target, on_self});
}

void cell::drop_link(actor_handle& target) noexcept {
  if (!ext_) return;
  auto& links = ext_->links;
  for (auto it = links.begin(); it != links.end(); ++it) {
    if (it->target.get() == &target) {
      target.remove_watch(it->on_target);
      remove_watch(it->on_self);
      auto& out = ext_->outgoing_watches;
      std::erase_if(out, [&](const auto& w) {
        return w.first.get() == &target && w.second == it->on_target;
      });
      links.erase(it);
      return;
    }
  }
}

}  // namespace troupe
