#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/core/endpoint.hpp"
#include "troupe/core/envelopes.hpp"
#include "troupe/core/member_set.hpp"
#include "troupe/core/result.hpp"

namespace troupe {

/// Chooses what an output port does with a subscriber whose buffer is full.
enum class port_overflow : std::uint8_t {
  back_pressure,    ///< skip it and tell the publisher (publish_result::full)
  drop_subscriber,  ///< unsubscribe it and send it a troupe::port_dropped notice
};

/// Configures an output port.
struct port_options {
  /// Messages published to a subscriber and not yet handled by it, at most
  /// (0 counts as 1).
  std::size_t buffer = 64;
  port_overflow overflow = port_overflow::back_pressure;
};

/// Tells a subscriber that a port with the drop_subscriber policy dropped it
/// because it fell behind. It received every message published to it before
/// the one numbered `first_missed` and none after; it may resubscribe.
struct port_dropped {
  static constexpr std::string_view type_name = "troupe.port_dropped";
  std::uint64_t port = 0;          ///< the port's id()
  std::uint64_t first_missed = 0;  ///< the sequence number of the first message it missed
};

/// Says what one publish did: the subscribers it reached and those it did
/// not, so that nothing is lost silently.
struct publish_result {
  std::uint64_t seq = 0;          ///< this message's sequence number (1, 2, ...)
  std::size_t delivered = 0;      ///< subscribers whose mailbox took the message
  std::vector<actor_id> full;     ///< back_pressure: skipped, their buffer is full
  std::vector<actor_id> dropped;  ///< drop_subscriber: unsubscribed and told so

  /// Returns true when every subscriber got the message.
  [[nodiscard]] bool ok() const noexcept { return full.empty() && dropped.empty(); }
};

namespace detail {

/// Counts one subscriber's messages published but not yet handled; the
/// envelopes carrying them count down when they are disposed.
class port_slot final : public ref_counted {
 public:
  std::atomic<std::size_t> in_flight{0};
};

using port_make_fn = envelope* (*)(const void* msg, ref_ptr<port_slot> slot);
using port_notice_fn = envelope* (*)(const port_dropped& notice);

/// Carries one published message to a subscriber of type A; frees a place
/// in the subscriber's buffer when it is handled (or rejected).
template <class A, class M>
class port_envelope final : public envelope {
 public:
  port_envelope(const M& m, ref_ptr<port_slot> slot) : msg_(m), slot_(std::move(slot)) {}

  void deliver(cell& c) override { deliver_tell<A>(c, msg_, this); }
  void reject(errc) noexcept override {}
  [[nodiscard]] bool is_tell() const noexcept override { return true; }

 private:
  ~port_envelope() override { slot_->in_flight.fetch_sub(1, std::memory_order_acq_rel); }
  M msg_;
  ref_ptr<port_slot> slot_;
};

template <class A, class M>
envelope* make_port_envelope(const void* msg, ref_ptr<port_slot> slot) {
  return new port_envelope<A, M>(*static_cast<const M*>(msg), std::move(slot));
}

template <class A>
envelope* make_port_notice(const port_dropped& notice) {
  return new tell_envelope<A, port_dropped>(notice);
}

/// Returns the notice maker for A, or nullptr when A does not handle
/// port_dropped.
template <class A>
constexpr port_notice_fn notice_maker() noexcept {
  if constexpr (handles_v<A, port_dropped>) {
    return &make_port_notice<A>;
  } else {
    return nullptr;
  }
}

/// The untyped state of an output port: subscribers, their buffers, the
/// overflow policy.
///
/// Thread safety: every member may be called from any thread.
class port_core final : public down_listener, public std::enable_shared_from_this<port_core> {
 public:
  explicit port_core(const port_options& o);
  port_core(const port_core&) = delete;
  port_core& operator=(const port_core&) = delete;
  ~port_core() override;

  result<void> subscribe(ref_ptr<actor_handle> h, port_make_fn make, port_notice_fn notice);
  bool unsubscribe(actor_id id);
  /// Publishes `*msg` to every subscriber, or to those in `only` if not null.
  publish_result publish(const void* msg, const std::vector<actor_id>* only);
  [[nodiscard]] std::size_t subscribers() const;
  [[nodiscard]] std::size_t backlog(actor_id id) const;
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const port_options& options() const noexcept { return opts_; }

  void member_down(actor_id who) noexcept override { unsubscribe(who); }

 private:
  struct sub {
    ref_ptr<actor_handle> h;
    ref_ptr<port_slot> slot;
    port_make_fn make = nullptr;
    port_notice_fn notice = nullptr;
    std::uint64_t token = 0;  // the watch on it; 0 while being added
  };

  port_options opts_;
  std::uint64_t id_;
  mutable std::mutex mu_;
  std::vector<sub> subs_;  // guarded by mu_
  std::uint64_t seq_ = 0;  // guarded by mu_
};

}  // namespace detail

/// A typed publish/subscribe point: an actor (or any code) publishes
/// messages of type M; every subscribed actor receives a copy, in publish
/// order. Nothing is lost silently: each subscriber has a bounded buffer
/// (messages published to it and not yet handled), and a subscriber whose
/// buffer is full is either skipped and reported to the publisher
/// (port_overflow::back_pressure) or unsubscribed and sent a port_dropped
/// notice (port_overflow::drop_subscriber). A subscriber whose actor ends
/// leaves by itself. A subscriber's buffer counts messages until its handler
/// has finished with them (for a coroutine handler: until it has returned).
///
/// Thread safety: a port is a handle to shared state (copies share it);
/// every member function may be called from any thread, including from
/// inside actors. publish() never blocks on a subscriber: it only queues.
template <class M>
class output_port {
 public:
  explicit output_port(const port_options& o = {})
      : core_(std::make_shared<detail::port_core>(o)) {}

  /// Subscribes `ep` (its actor must handle M; with drop_subscriber also
  /// troupe::port_dropped, else invalid_argument). Subscribing twice is a
  /// no-op; an empty or ended endpoint is actor_not_found.
  template <class A>
  result<void> subscribe(const endpoint<A>& ep) const {
    static_assert(handles_v<A, M>, "troupe: a subscriber must handle the port's message type");
    return core_->subscribe(ep.handle(), &detail::make_port_envelope<A, M>,
                            detail::notice_maker<A>());
  }
  /// Unsubscribes `ep`; returns whether it was subscribed.
  template <class A>
  bool unsubscribe(const endpoint<A>& ep) const {
    return core_->unsubscribe(ep.id());
  }

  /// Sends a copy of `m` to every subscriber that has room; reports the
  /// others (see port_overflow).
  publish_result publish(const M& m) const { return core_->publish(&m, nullptr); }
  /// Sends a copy of `m` only to the subscribers in `ids` (for example to
  /// retry those a back-pressured publish reported as full).
  publish_result publish_to(const std::vector<actor_id>& ids, const M& m) const {
    return core_->publish(&m, &ids);
  }

  /// Returns the number of subscribers.
  [[nodiscard]] std::size_t subscribers() const { return core_->subscribers(); }
  /// Returns how many messages subscriber `id` has not handled yet.
  [[nodiscard]] std::size_t backlog(actor_id id) const { return core_->backlog(id); }
  /// Returns the port's id (the `port` of its port_dropped notices).
  [[nodiscard]] std::uint64_t id() const noexcept { return core_->id(); }

 private:
  std::shared_ptr<detail::port_core> core_;
};

}  // namespace troupe
