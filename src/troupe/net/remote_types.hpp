#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "troupe/codec/message_registry.hpp"
#include "troupe/codec/value_codec.hpp"
#include "troupe/core/discovery.hpp"
#include "troupe/core/envelopes.hpp"
#include "troupe/core/system.hpp"

namespace troupe::net {

/// Completes the answer to an ask that came from another node: the node
/// gives one to each remote ask and the reply is sent back through it.
class responder {
 public:
  virtual ~responder() = default;
  /// Sends the reply `value` (nullptr for a void reply), written by `encode`.
  virtual void send_value(void (*encode)(codec::binary_writer&, const void*),
                          const void* value) noexcept = 0;
  /// Sends the error the ask ended with.
  virtual void send_error(const error& e) noexcept = 0;
};

/// How a node delivers one message type to one actor type.
struct message_dispatch {
  const codec::message_info* info = nullptr;
  /// Wraps the decoded message `m` (a new M, taken over) in a tell envelope.
  envelope* (*make_tell)(void* m) = nullptr;
  /// Wraps `m` in an ask envelope whose reply goes to `to` (taken over) and
  /// ends by `deadline` on `clock` at the latest. Null for tell-only messages.
  envelope* (*make_ask)(void* m, responder* to, clock& c, time_point deadline) = nullptr;
};

/// Everything a node knows of one actor type: the messages it handles, by
/// type id, and how to spawn one for another node (if it may be).
struct actor_dispatch {
  actor_type type;
  std::unordered_map<codec::type_id, message_dispatch> messages;
  /// Spawns an actor from encoded constructor arguments; null unless the type
  /// was added with add_spawnable().
  result<ref_ptr<actor_handle>> (*spawn)(system& sys, const spawn_options& opts,
                                         codec::binary_reader& args) = nullptr;
};

namespace detail {

template <class A, class M>
envelope* make_tell(void* m) {
  std::unique_ptr<M> owned(static_cast<M*>(m));
  return new troupe::detail::tell_envelope<A, M>(std::move(*owned));
}

template <class R>
void send_reply(troupe::detail::reply_base& done, void* context) noexcept {
  std::unique_ptr<responder> to(static_cast<responder*>(context));
  result<R> r = static_cast<troupe::detail::reply_state<R>&>(done).take();
  if (!r) {
    to->send_error(r.error());
  } else if constexpr (std::is_void_v<R>) {
    to->send_value(nullptr, nullptr);
  } else {
    to->send_value(
        [](codec::binary_writer& w, const void* v) { codec::encode(w, *static_cast<const R*>(v)); },
        &*r);
  }
}

template <class A, class M>
envelope* make_ask(void* m, responder* to, clock& c, time_point deadline) {
  using R = reply_of_t<M>;
  std::unique_ptr<M> owned(static_cast<M*>(m));
  auto st = make_ref<troupe::detail::reply_state<R>>();
  st->arm_deadline(c, deadline);
  st->on_complete(&send_reply<R>, to);
  return new troupe::detail::ask_envelope<A, M>(std::move(*owned), std::move(st));
}

template <class A, class... Args>
result<ref_ptr<actor_handle>> spawn_from(system& sys, const spawn_options& opts,
                                         codec::binary_reader& r) {
  std::tuple<std::decay_t<Args>...> args;
  codec::decode(r, args);
  if (r.ok() && !r.done()) r.fail("bytes left after the spawn arguments");
  if (!r.ok()) return r.failure();
  auto ep = std::apply([&](auto&... a) { return sys.spawn_with<A>(opts, std::move(a)...); }, args);
  if (!ep) return ep.error();
  return ref_ptr<actor_handle>(ep->handle());
}

}  // namespace detail

/// The actor types a node serves and talks to, with the messages they
/// handle: what it can decode from the network, deliver, and spawn.
///
/// Both ends list every actor type they exchange messages with; a message
/// type travels under its wire name (docs/protocol.md). Clashing names or ids
/// are refused with errc::name_taken when a type is added, so a mismatch
/// shows at start-up.
///
/// Build it before starting the node; afterwards it is read-only (any
/// thread).
class remote_types {
 public:
  /// Returns the types `A...`, none of them spawnable from another node.
  template <class... A>
  static result<remote_types> of() {
    remote_types t;
    result<void> r;
    ((r = r ? t.add<A>() : r), ...);
    if (!r) return r.error();
    return t;
  }

  /// Adds actor type A and every message in `A::handles`.
  template <class A>
  result<void> add() {
    if (result<void> r = messages_.add_handled_by<A>(); !r) return r;
    actor_type type = actor_type::of<A>();
    auto [it, fresh] = by_tag_.try_emplace(type.tag);
    actor_dispatch& d = it->second;
    if (!fresh) return {};
    d.type = type;
    fill<A>(d, static_cast<typename A::handles*>(nullptr));
    auto [named, unique] = by_name_.try_emplace(std::string(type.name), &d);
    if (!unique && named->second != &d) {
      by_tag_.erase(it);
      return error(errc::name_taken,
                   "two actor types share the name \"" + std::string(type.name) + "\"");
    }
    return {};
  }

  /// Adds A (like add()) and lets other nodes spawn it with
  /// `spawn_on<A>(node, label, args...)`, the arguments of type Args
  /// encoded on the wire.
  template <class A, class... Args>
  result<void> add_spawnable() {
    static_assert(std::is_constructible_v<A, std::decay_t<Args>&&...>,
                  "troupe: the actor cannot be constructed from these argument types");
    if (result<void> r = add<A>(); !r) return r;
    by_tag_.at(actor_type::of<A>().tag).spawn = &detail::spawn_from<A, Args...>;
    return {};
  }

  /// Returns the type with `tag` (actor_type::tag), or nullptr.
  [[nodiscard]] const actor_dispatch* find(const void* tag) const noexcept {
    auto it = by_tag_.find(tag);
    return it == by_tag_.end() ? nullptr : &it->second;
  }
  /// Returns the type named `name`, or nullptr.
  [[nodiscard]] const actor_dispatch* find(std::string_view name) const noexcept {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : it->second;
  }
  /// Returns every message type of every actor type added.
  [[nodiscard]] const codec::message_registry& messages() const noexcept { return messages_; }

  remote_types() = default;
  remote_types(remote_types&&) noexcept = default;
  remote_types& operator=(remote_types&&) noexcept = default;

 private:
  template <class A, class... Ms>
  void fill(actor_dispatch& d, handles<Ms...>*) {
    auto one = [&]<class M>(M*) {
      const codec::message_info* info = messages_.find<M>();
      message_dispatch& md = d.messages[info->id];
      md.info = info;
      md.make_tell = &detail::make_tell<A, M>;
      md.make_ask = &detail::make_ask<A, M>;
    };
    (one(static_cast<Ms*>(nullptr)), ...);
  }

  codec::message_registry messages_;
  // actor_dispatch lives in a node-based map: by_name_ points into it.
  std::unordered_map<const void*, actor_dispatch> by_tag_;
  std::unordered_map<std::string, const actor_dispatch*> by_name_;
};

}  // namespace troupe::net
