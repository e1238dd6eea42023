#pragma once

#include <optional>
#include <type_traits>
#include <utility>

#include "troupe/core/envelopes.hpp"
#include "troupe/core/handles.hpp"
#include "troupe/core/response.hpp"
#include "troupe/core/send_result.hpp"

namespace troupe {

/// A typed address of an actor of type A: tell and ask it messages that A
/// handles. Sending a message A does not handle is a compile error naming
/// both types.
///
/// Endpoints are cheap to copy and may be used from any thread. An endpoint
/// keeps a small shell of its actor alive, never the actor itself: once the
/// actor is gone, tells count as dead letters and asks end with
/// actor_not_found.
template <class A>
class endpoint {
 public:
  endpoint() = default;
  explicit endpoint(ref_ptr<actor_handle> h) : h_(std::move(h)) {}

  /// Sends `m` without waiting for a reply. Returns at once whether the
  /// mailbox accepted it (actor_not_found, mailbox_full and dropped are the
  /// refusals).
  template <class M>
  send_result tell(M&& m) const {  // NOLINT: discarding is fine for a tell
    using msg = std::remove_cvref_t<M>;
    if constexpr (!handles_v<A, msg>) {
      [[maybe_unused]] detail::actor_does_not_handle_message<A, msg> not_handled;
      return errc::actor_not_found;
    } else {
      if (!h_) return errc::actor_not_found;
      return h_->enqueue(new detail::tell_envelope<A, msg>(std::forward<M>(m)));
    }
  }

  /// Sends `m` and returns its pending reply, which ends by the system's
  /// default deadline at the latest.
  template <class M>
  auto ask(M&& m) const {
    return ask_impl(std::forward<M>(m), std::nullopt);
  }

  /// Sends `m` and returns its pending reply, which ends after `timeout` at
  /// the latest (with errc::timeout).
  template <class M>
  auto ask(M&& m, duration timeout) const {
    return ask_impl(std::forward<M>(m), timeout);
  }

  /// Asks the actor to stop after its current message (its suspended handler
  /// coroutines finish first).
  void stop(exit_reason why = exit_reason::normal()) const noexcept {
    if (h_) h_->stop(std::move(why));
  }
  /// Ends the actor at its next turn; a suspended handler is destroyed.
  void kill() const noexcept {
    if (h_) h_->kill();
  }
  /// Refuses new messages, handles those already queued, then stops.
  void drain() const noexcept {
    if (h_) h_->drain();
  }

  /// Returns the actor's id (0 for an empty endpoint).
  [[nodiscard]] actor_id id() const noexcept { return h_ ? h_->id() : 0; }
  /// Returns false for a default-constructed endpoint.
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }
  /// Returns the handle the endpoint points at.
  [[nodiscard]] const ref_ptr<actor_handle>& handle() const noexcept { return h_; }

  friend bool operator==(const endpoint& a, const endpoint& b) noexcept { return a.h_ == b.h_; }

 private:
  template <class M>
  auto ask_impl(M&& m, std::optional<duration> timeout) const {
    using msg = std::remove_cvref_t<M>;
    using reply = reply_of_t<msg>;
    if constexpr (!handles_v<A, msg>) {
      [[maybe_unused]] detail::actor_does_not_handle_message<A, msg> not_handled;
      return;
    } else {
      auto st = make_ref<detail::reply_state<reply>>();
      if (!h_) {
        st->complete(errc::actor_not_found);
        return response<reply>(std::move(st), nullptr);
      }
      system_core& core = h_->core();
      st->arm_deadline(core.time(), core.time().now() + timeout.value_or(core.default_ask_timeout));
      h_->enqueue(new detail::ask_envelope<A, msg>(std::forward<M>(m), st));
      return response<reply>(std::move(st), &core);
    }
  }

  ref_ptr<actor_handle> h_;
};

}  // namespace troupe
