#include "troupe/core/output_port.hpp"

#include <algorithm>

namespace troupe::detail {
namespace {
std::atomic<std::uint64_t> next_port_id{1};
}  // namespace

port_core::port_core(const port_options& o)
    : opts_(o), id_(next_port_id.fetch_add(1, std::memory_order_relaxed)) {
  if (opts_.buffer == 0) opts_.buffer = 1;
}

port_core::~port_core() {
  for (sub& s : subs_) {
    if (s.token != 0) s.h->remove_watch(s.token);
  }
}

result<void> port_core::subscribe(ref_ptr<actor_handle> h, port_make_fn make,
                                  port_notice_fn notice) {
  if (!h) return error(errc::actor_not_found, "empty endpoint");
  if (opts_.overflow == port_overflow::drop_subscriber && notice == nullptr) {
    return error(errc::invalid_argument,
                 "a subscriber of a drop_subscriber port must handle troupe::port_dropped");
  }
  const actor_id id = h->id();
  {
    std::lock_guard lock(mu_);
    for (const sub& s : subs_) {
      if (s.h->id() == id) return {};
    }
    subs_.push_back(sub{h, make_ref<port_slot>(), make, notice, 0});
  }
  // Outside the lock: watching an ended actor calls member_down() at once.
  const std::uint64_t token = h->add_watch(make_down_forwarder(weak_from_this()));
  {
    std::lock_guard lock(mu_);
    for (sub& s : subs_) {
      if (s.h == h) {
        s.token = token;
        return {};
      }
    }
  }
  if (token != 0) h->remove_watch(token);
  return error(errc::actor_not_found, "the subscriber has ended");
}

bool port_core::unsubscribe(actor_id id) {
  sub gone;
  {
    std::lock_guard lock(mu_);
    auto it =
        std::find_if(subs_.begin(), subs_.end(), [id](const sub& s) { return s.h->id() == id; });
    if (it == subs_.end()) return false;
    gone = std::move(*it);
    subs_.erase(it);
  }
  if (gone.token != 0) gone.h->remove_watch(gone.token);
  return true;
}

publish_result port_core::publish(const void* msg, const std::vector<actor_id>* only) {
  publish_result out;
  std::vector<sub> removed;  // dropped or gone: released outside the lock
  {
    std::lock_guard lock(mu_);
    out.seq = ++seq_;
    for (std::size_t i = 0; i < subs_.size();) {
      sub& s = subs_[i];
      const actor_id id = s.h->id();
      if (only != nullptr && std::find(only->begin(), only->end(), id) == only->end()) {
        ++i;
        continue;
      }
      bool full = s.slot->in_flight.load(std::memory_order_acquire) >= opts_.buffer;
      if (!full) {
        s.slot->in_flight.fetch_add(1, std::memory_order_acq_rel);
        send_result r = s.h->enqueue(s.make(msg, s.slot));  // counts down if refused
        if (r) {
          ++out.delivered;
          ++i;
          continue;
        }
        if (r.error() == errc::actor_not_found) {  // ended: its watch removes it too
          removed.push_back(std::move(s));
          subs_.erase(subs_.begin() + static_cast<std::ptrdiff_t>(i));
          continue;
        }
        full = true;  // its bounded mailbox refused: as good as a full buffer
      }
      if (opts_.overflow == port_overflow::back_pressure) {
        out.full.push_back(id);
        ++i;
        continue;
      }
      out.dropped.push_back(id);
      s.h->enqueue_notice(s.notice(port_dropped{id_, out.seq}));
      removed.push_back(std::move(s));
      subs_.erase(subs_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  for (sub& s : removed) {
    if (s.token != 0) s.h->remove_watch(s.token);
  }
  return out;
}

std::size_t port_core::subscribers() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

std::size_t port_core::backlog(actor_id id) const {
  std::lock_guard lock(mu_);
  for (const sub& s : subs_) {
    if (s.h->id() == id) return s.slot->in_flight.load(std::memory_order_acquire);
  }
  return 0;
}

}  // namespace troupe::detail
