#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "troupe/core/discovery.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/envelopes.hpp"
#include "troupe/core/response.hpp"

namespace troupe {

/// Names a group of actors of type A at the receptionist (Murmer's
/// ReceptionKey): `troupe::reception_key<worker> workers{"workers"}`. The
/// name follows validate_label(); keys of different types never mix.
template <class A>
struct reception_key {
  std::string name;
};

/// Says whether a listing event announces a member or its end.
enum class listing_change : std::uint8_t { added, removed };

/// One change of a reception key's members: delivered to a subscribing
/// actor as a message, or read from a listing.
template <class A>
struct listing_event {
  listing_change what = listing_change::added;
  endpoint<A> actor;  ///< the member (for removed: a shell whose sends fail)
  std::string label;  ///< the label it was checked in under
  entry_stamp stamp;  ///< the stamp of its check-in
};

namespace detail {

/// Receives one reception key's events, in order, under the receptionist's
/// lock. push() must be short, must not throw and must not call back into
/// the receptionist.
class listing_sink : public ref_counted {
 public:
  virtual void push(listing_change what, const ref_ptr<actor_handle>& actor,
                    const std::string& label, entry_stamp stamp) noexcept = 0;
};

/// Hands events to actor S as listing_event<A> notices.
template <class S, class A>
class listing_to_actor final : public listing_sink {
 public:
  explicit listing_to_actor(ref_ptr<actor_handle> s) : s_(std::move(s)) {}
  void push(listing_change what, const ref_ptr<actor_handle>& actor, const std::string& label,
            entry_stamp stamp) noexcept override {
    try {
      s_->enqueue_notice(new tell_envelope<S, listing_event<A>>(
          listing_event<A>{what, endpoint<A>(actor), label, stamp}));
    } catch (...) {  // out of memory: nothing else can be done here
    }
  }

 private:
  ref_ptr<actor_handle> s_;
};

/// Buffers events for a listing and hands them to its pending next() calls.
template <class A>
class listing_stream final : public listing_sink {
 public:
  using event = listing_event<A>;

  void push(listing_change what, const ref_ptr<actor_handle>& actor, const std::string& label,
            entry_stamp stamp) noexcept override {
    try {
      event e{what, endpoint<A>(actor), label, stamp};
      std::lock_guard lock(mu_);
      while (!waiters_.empty()) {
        ref_ptr<reply_state<event>> w = std::move(waiters_.front());
        waiters_.pop_front();
        if (w->complete(e)) return;  // false: its deadline passed first
      }
      buffer_.push_back(std::move(e));
    } catch (...) {  // out of memory: nothing else can be done here
    }
  }

  response<event> next(system_core& core, duration timeout) {
    auto st = make_ref<reply_state<event>>();
    if (std::optional<event> e = try_next()) {
      st->complete(std::move(*e));
    } else if (timeout <= duration::zero()) {
      st->complete(errc::timeout);
    } else {
      st->arm_deadline(core.time(), core.time().now() + timeout);
      std::lock_guard lock(mu_);
      if (!buffer_.empty()) {  // came meanwhile
        if (st->complete(buffer_.front())) buffer_.pop_front();
      } else if (!st->done()) {
        std::erase_if(waiters_, [](const ref_ptr<reply_state<event>>& w) { return w->done(); });
        waiters_.push_back(st);
      }
    }
    return response<event>(std::move(st), &core);
  }

  std::optional<event> try_next() {
    std::lock_guard lock(mu_);
    if (buffer_.empty()) return std::nullopt;
    event e = std::move(buffer_.front());
    buffer_.pop_front();
    return e;
  }

  std::size_t buffered() const {
    std::lock_guard lock(mu_);
    return buffer_.size();
  }

 private:
  mutable std::mutex mu_;
  std::deque<event> buffer_;
  std::deque<ref_ptr<reply_state<event>>> waiters_;
};

/// Ends the receptionist subscription `id` of `core`.
void cancel_listing(system_core& core, std::uint64_t id) noexcept;

}  // namespace detail

/// A subscription to a reception key read as a stream of events: first one
/// `added` per member present when it began, then every change, each
/// exactly once and in order. Events wait in the listing until read.
///
/// Get one from receptionist::subscribe(key). Destroying the listing (or
/// cancel()) ends the subscription.
///
/// Thread safety: one consumer at a time may call next() / try_next();
/// events arrive from any thread. A next() inside a handler coroutine
/// resumes in that actor's turn; get() blocks a plain thread (on the
/// deterministic runtime it runs the runtime until the event or the
/// deadline). A pending next() that never sees an event (the listing was
/// cancelled, or the system shut down) ends with timeout at its deadline.
/// Only a listing that subscribe() returned may be read.
template <class A>
class listing {
 public:
  using event = listing_event<A>;

  listing() = default;
  listing(ref_ptr<system_core> core, ref_ptr<detail::listing_stream<A>> stream, std::uint64_t id)
      : core_(std::move(core)), stream_(std::move(stream)), id_(id) {}
  listing(listing&& o) noexcept
      : core_(std::move(o.core_)), stream_(std::move(o.stream_)), id_(std::exchange(o.id_, 0)) {}
  listing& operator=(listing&& o) noexcept {
    if (this != &o) {
      cancel();
      core_ = std::move(o.core_);
      stream_ = std::move(o.stream_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  listing(const listing&) = delete;
  listing& operator=(const listing&) = delete;
  ~listing() { cancel(); }

  /// Returns the next event: at once when one is buffered, else when one
  /// comes; ends with timeout after the system's default ask timeout.
  response<event> next() { return next(core_->default_ask_timeout); }
  /// Returns the next event, or timeout after `timeout`.
  response<event> next(duration timeout) { return stream_->next(*core_, timeout); }
  /// Returns a buffered event without waiting, if there is one.
  std::optional<event> try_next() { return stream_->try_next(); }
  /// Returns the number of events waiting to be read.
  [[nodiscard]] std::size_t buffered() const { return stream_->buffered(); }

  /// Ends the subscription (buffered events can still be read). Safe to
  /// call more than once.
  void cancel() noexcept {
    if (id_ != 0) detail::cancel_listing(*core_, std::exchange(id_, 0));
  }
  /// Returns true until cancel() (false for a default-constructed listing).
  [[nodiscard]] bool active() const noexcept { return id_ != 0; }

 private:
  ref_ptr<system_core> core_;
  ref_ptr<detail::listing_stream<A>> stream_;
  std::uint64_t id_ = 0;
};

}  // namespace troupe
