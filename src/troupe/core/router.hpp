#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/core/endpoint.hpp"
#include "troupe/core/fan_out.hpp"
#include "troupe/core/hash_ring.hpp"
#include "troupe/core/listing.hpp"
#include "troupe/core/member_set.hpp"
#include "troupe/core/receptionist.hpp"
#include "troupe/core/system.hpp"

namespace troupe {

/// Chooses which member a router's tell() and ask() reach.
enum class routing : std::uint8_t {
  round_robin,      ///< each member in turn, in the order they were added
  random,           ///< a member drawn from the system's random seam
  broadcast,        ///< every member (ask: the first successful reply wins)
  consistent_hash,  ///< the member owning the message's routing_key() on a hash ring
};

/// A message that names its own routing key: `auto routing_key() const`
/// returning a string or an integer. Consistent-hash routers use it.
template <class M>
concept keyed_message = requires(const M& m) {
  routing_key(m.routing_key());
};

/// Says which members a broadcast tell reached.
struct broadcast_result {
  struct refusal {
    actor_id who = 0;
    errc why = errc::actor_not_found;
  };
  std::size_t accepted = 0;      ///< members whose mailbox took the message
  std::vector<refusal> refused;  ///< members that refused it (mailbox_full, ...)

  /// Returns true when there was at least one member and all accepted.
  [[nodiscard]] bool ok() const noexcept { return accepted > 0 && refused.empty(); }
};

/// Routes messages over a set of endpoints of actors of type A.
///
/// Members are added and removed at run time (add_member / remove_member,
/// for example from a receptionist listing's added / removed events); a
/// member whose actor ends leaves the set by itself. tell() and ask() reach
/// one member chosen by the router's `routing` (or all, for broadcast);
/// quorum(), scatter_gather() and first_response() ask every member and
/// combine the replies, whatever the routing. With no member, tells return
/// no_route and asks end with no_route.
///
/// Thread safety: a router is a cheap handle to shared state; copies share
/// the members. Every member function may be called from any thread,
/// including from inside actors. Responses follow troupe::response's rules:
/// get() from plain threads, co_await inside handler coroutines (which then
/// resume in their own actor's turn). The router combines fanned-out replies
/// on the thread that completes each member's reply (the member's, or the
/// clock's at a deadline).
template <class A>
class router {
 public:
  /// Makes a router on `sys` with the given routing and first members.
  router(system& sys, routing how, const std::vector<endpoint<A>>& members = {})
      : set_(detail::member_set::make(ref_ptr<system_core>(&sys.core()))), how_(how) {
    for (const endpoint<A>& m : members) set_->add(m.handle());
  }

  /// Adds `m` (watched: it leaves when its actor ends). Returns false when it
  /// is empty, already a member or already gone.
  bool add_member(const endpoint<A>& m) const { return set_->add(m.handle()); }
  /// Removes `m`; returns whether it was a member.
  bool remove_member(const endpoint<A>& m) const { return set_->remove(m.id()); }
  /// Removes the member with id `id`; returns whether there was one.
  bool remove_member(actor_id id) const { return set_->remove(id); }
  /// Keeps the members equal to the actors checked in under `key` at `rec`:
  /// the current ones join at once, later check-ins join and check-outs (and
  /// ended actors) leave. Following ends when the returned handle is
  /// destroyed or the router is gone. Fails with invalid_name.
  result<scoped_subscription> follow(receptionist& rec, const reception_key<A>& key) const {
    auto sink = make_ref<detail::listing_to_members>(std::weak_ptr<detail::member_set>(set_));
    result<std::uint64_t> id = rec.add_sink(key.name, actor_type::of<A>(), std::move(sink), {});
    if (!id) return id.error();
    return scoped_subscription(
        subscription(set_->core_ref(), subscription::source::receptionist, *id));
  }

  /// Returns the members, in the order they were added.
  [[nodiscard]] std::vector<endpoint<A>> members() const {
    std::vector<endpoint<A>> out;
    for (auto& h : set_->snapshot()) out.emplace_back(std::move(h));
    return out;
  }
  [[nodiscard]] std::size_t size() const { return set_->size(); }
  [[nodiscard]] routing strategy() const noexcept { return how_; }

  /// Sends `m` to the member the routing chooses (to all, for broadcast:
  /// then the result is the first refusal, if any). Returns no_route when
  /// there is no member, or, for consistent_hash, when M has no
  /// routing_key() (use tell_key).
  template <class M>
  send_result tell(M&& m) const {
    if (how_ == routing::broadcast) {
      broadcast_result b = broadcast(m);
      if (!b.refused.empty()) return b.refused.front().why;
      return b.accepted > 0 ? send_result{} : send_result{errc::no_route};
    }
    ref_ptr<actor_handle> h = pick(m);
    if (!h) return errc::no_route;
    return endpoint<A>(std::move(h)).tell(std::forward<M>(m));
  }

  /// Sends `m` to the member owning `key` on the consistent-hash ring
  /// (whatever the routing).
  template <class M>
  send_result tell_key(const routing_key& key, M&& m) const {
    ref_ptr<actor_handle> h = set_->pick_by_key(key);
    if (!h) return errc::no_route;
    return endpoint<A>(std::move(h)).tell(std::forward<M>(m));
  }

  /// Asks the member the routing chooses; for broadcast, asks all and ends
  /// with the first successful reply (as first_response). The reply ends by
  /// the system's default deadline at the latest.
  template <class M>
  auto ask(M&& m) const {
    return ask_impl(std::forward<M>(m), std::nullopt);
  }
  /// Like ask(m), ending after `timeout` at the latest.
  template <class M>
  auto ask(M&& m, duration timeout) const {
    return ask_impl(std::forward<M>(m), timeout);
  }

  /// Asks the member owning `key` on the consistent-hash ring.
  template <class M>
  auto ask_key(const routing_key& key, M&& m, std::optional<duration> timeout = {}) const {
    using reply = reply_of_t<std::remove_cvref_t<M>>;
    ref_ptr<actor_handle> h = set_->pick_by_key(key);
    if (!h) return detail::failed_response<reply>(errc::no_route);
    return endpoint<A>(std::move(h)).ask(std::forward<M>(m), timeout_or_default(timeout));
  }

  /// Tells every member a copy of `m`; says which accepted it.
  template <class M>
  broadcast_result broadcast(const M& m) const {
    using msg = std::remove_cvref_t<M>;
    static_assert(std::is_copy_constructible_v<msg>,
                  "troupe: a message sent to several members must be copyable");
    broadcast_result out;
    for (auto& h : set_->snapshot()) {
      const actor_id who = h->id();
      send_result r = endpoint<A>(std::move(h)).tell(msg(m));
      if (r) {
        ++out.accepted;
      } else {
        out.refused.push_back({who, r.error()});
      }
    }
    return out;
  }

  /// Asks every member and ends with the first `k` successful replies as
  /// soon as they have come; ends with quorum_failed as soon as too many
  /// members failed (or did not answer within `timeout`) for k to be
  /// reached, or at once when there are fewer than k members. k == 0 is
  /// invalid_argument.
  template <class M>
  auto quorum(std::size_t k, const M& m, std::optional<duration> timeout = {}) const {
    using reply = reply_of_t<std::remove_cvref_t<M>>;
    using out = std::vector<member_reply<reply>>;
    if (k == 0) return detail::failed_response<out>({errc::invalid_argument, "quorum of 0"});
    return fan_out<out>(detail::fan_in_count::mode::quorum, k, m, timeout_or_default(timeout));
  }

  /// Asks every member and collects replies until all have answered or
  /// `deadline` has passed; then ends with what came (members that did not
  /// answer are listed as failures with errc::timeout). Never fails once
  /// asked; ends with no_route when there is no member.
  template <class M>
  auto scatter_gather(const M& m, duration deadline) const {
    using reply = reply_of_t<std::remove_cvref_t<M>>;
    return fan_out<gathered<reply>>(detail::fan_in_count::mode::scatter, 0, m, deadline);
  }

  /// Asks every member and ends with the first successful reply; when all
  /// fail, ends with the last failure's code (timeout if none answered in
  /// time).
  template <class M>
  auto first_response(const M& m, std::optional<duration> timeout = {}) const {
    using reply = reply_of_t<std::remove_cvref_t<M>>;
    return fan_out<reply>(detail::fan_in_count::mode::first, 1, m, timeout_or_default(timeout));
  }

 private:
  template <class M>
  ref_ptr<actor_handle> pick(const M& m) const {
    switch (how_) {
      case routing::round_robin:
        return set_->next_in_turn();
      case routing::random:
        return set_->pick_random();
      case routing::consistent_hash:
        if constexpr (keyed_message<std::remove_cvref_t<M>>) {
          return set_->pick_by_key(routing_key(m.routing_key()));
        } else {
          return {};
        }
      case routing::broadcast:
        break;
    }
    return {};
  }

  template <class M>
  auto ask_impl(M&& m, std::optional<duration> timeout) const {
    using reply = reply_of_t<std::remove_cvref_t<M>>;
    if (how_ == routing::broadcast) return first_response(m, timeout);
    ref_ptr<actor_handle> h = pick(m);
    if (!h) return detail::failed_response<reply>(errc::no_route);
    return endpoint<A>(std::move(h)).ask(std::forward<M>(m), timeout_or_default(timeout));
  }

  template <class Out, class M>
  response<Out> fan_out(detail::fan_in_count::mode mode, std::size_t needed, const M& m,
                        duration timeout) const {
    using msg = std::remove_cvref_t<M>;
    using reply = reply_of_t<msg>;
    static_assert(std::is_copy_constructible_v<msg>,
                  "troupe: a message sent to several members must be copyable");
    std::vector<ref_ptr<actor_handle>> members = set_->snapshot();
    if (members.empty()) return detail::failed_response<Out>(errc::no_route);
    if (needed > members.size()) {
      return detail::failed_response<Out>(
          {errc::quorum_failed, "needed " + std::to_string(needed) + " replies from " +
                                    std::to_string(members.size()) + " member(s)"});
    }
    auto out = make_ref<detail::reply_state<Out>>();
    auto sink = make_ref<detail::fan_in<reply, Out>>(mode, members.size(), needed, out);
    for (ref_ptr<actor_handle>& h : members) {
      const actor_id who = h->id();
      response<reply> r = endpoint<A>(std::move(h)).ask(msg(m), timeout);
      detail::forward_reply(std::move(r), who, sink);
    }
    return response<Out>(std::move(out), &set_->core());
  }

  [[nodiscard]] duration timeout_or_default(std::optional<duration> t) const noexcept {
    return t.value_or(set_->core().default_ask_timeout);
  }

  std::shared_ptr<detail::member_set> set_;
  routing how_;
};

}  // namespace troupe
