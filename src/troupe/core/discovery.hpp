#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "troupe/core/actor_handle.hpp"
#include "troupe/core/ref_counted.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system_core.hpp"

namespace troupe {

/// Identifies the node an entry of the registry, the receptionist or a
/// process group comes from. Entries made in this process carry
/// `local_origin`; the cluster layer will give remote entries the id of
/// their node (one id per node incarnation).
using origin_id = std::uint64_t;

/// The origin of every entry made in this process.
inline constexpr origin_id local_origin = 0;

/// Says where an entry comes from and which change made it: `version` grows
/// by one with every change its origin makes (checking in, checking out).
/// Two entries with the same stamp are the same entry.
struct entry_stamp {
  origin_id origin = local_origin;
  std::uint64_t version = 0;

  friend bool operator==(const entry_stamp&, const entry_stamp&) = default;
  /// Orders by origin, then version (the receptionist's conflict rule).
  friend auto operator<=>(const entry_stamp&, const entry_stamp&) = default;
};

/// What applying another node's change to a replicated table (the
/// receptionist, the process groups) did.
enum class apply_status : std::uint8_t {
  applied,    ///< the change was new and took effect
  duplicate,  ///< its origin's version already includes it: ignored
  gap,        ///< an earlier change of its origin is missing: ignored (sync first)
  refused,    ///< malformed, or claims to come from this node: ignored
};

/// Says how far a receptionist entry may travel once there are nodes:
/// `public_` everywhere (other nodes and external clients), `internal` to the
/// nodes of the cluster, `private_` never off this node. Stored with every
/// entry; the local runtime records it and the cluster layer will obey it.
enum class visibility : std::uint8_t { public_ = 0, internal = 1, private_ = 2 };

/// Returns "public", "internal" or "private".
std::string_view to_string(visibility v) noexcept;

/// The identity of an actor type, stored with every entry so that a typed
/// lookup of the wrong type finds nothing. Locally two types are the same
/// when their tags are; an entry from another node (no tag) matches by name.
struct actor_type {
  const void* tag = nullptr;  ///< unique per type within the process
  std::string_view name;      ///< A::type_name if A has one, else the RTTI name

  /// Returns the identity of actor type A.
  template <class A>
  static actor_type of() noexcept;

  /// Returns true when both name the same type.
  [[nodiscard]] bool matches(const actor_type& o) const noexcept {
    if (tag != nullptr && o.tag != nullptr) return tag == o.tag;
    return !name.empty() && name == o.name;
  }
};

namespace detail {

template <class A, class = void>
struct has_type_name : std::false_type {};
template <class A>
struct has_type_name<A, std::void_t<decltype(A::type_name)>> : std::true_type {};

}  // namespace detail

template <class A>
actor_type actor_type::of() noexcept {
  if constexpr (detail::has_type_name<A>::value) {
    return {&detail::actor_type_tag<A>, std::string_view(A::type_name)};
  } else {
    return {&detail::actor_type_tag<A>, std::string_view(typeid(A).name())};
  }
}

/// The longest name, label, key, scope or group accepted (in bytes).
inline constexpr std::size_t max_name_length = 255;

/// Checks a registry name, a process group or scope name: 1 to 255 bytes,
/// no control characters. Returns invalid_name (with the reason) otherwise.
result<void> validate_name(std::string_view name);

/// Checks a receptionist label or reception key: segments of letters,
/// digits, '.', '-', '_' or ':' separated by single '/' ("cache/user/7"),
/// no empty segment, no leading or trailing '/', 1 to 255 bytes. Returns
/// invalid_name (with the reason) otherwise.
result<void> validate_label(std::string_view label);

/// Refers to one subscription that delivers to an actor: a receptionist
/// listing (receptionist::subscribe(key, actor)) or a process group monitor
/// (process_groups::monitor(scope, group, actor)). Dropping the handle keeps
/// the subscription: it ends with its subscribing actor, by cancel(), or at
/// system shutdown. No event is delivered after cancel() returns, except
/// one already on its way (in a mailbox, or in a callback running on
/// another thread).
///
/// Thread safety: a handle is a plain value (one thread at a time); the
/// subscription behind it may be cancelled from any thread.
class subscription {
 public:
  enum class source : std::uint8_t { receptionist, groups };

  subscription() = default;
  subscription(ref_ptr<system_core> core, source from, std::uint64_t id) noexcept
      : core_(std::move(core)), from_(from), id_(id) {}
  subscription(const subscription&) = default;
  subscription& operator=(const subscription&) = default;
  subscription(subscription&& o) noexcept
      : core_(std::move(o.core_)), from_(o.from_), id_(std::exchange(o.id_, 0)) {}
  subscription& operator=(subscription&& o) noexcept {
    core_ = std::move(o.core_);
    from_ = o.from_;
    id_ = std::exchange(o.id_, 0);
    return *this;
  }
  ~subscription() = default;

  /// Ends the subscription. Safe to call more than once.
  void cancel() noexcept;
  /// Returns false for an empty handle or once cancel() was called.
  [[nodiscard]] bool active() const noexcept { return id_ != 0; }
  /// Returns the subscription's id (unique within its system and source).
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

 private:
  ref_ptr<system_core> core_;
  source from_ = source::receptionist;
  std::uint64_t id_ = 0;
};

/// Owns a subscription that delivers to a callback (process_groups'
/// callback monitors): destroying the handle cancels it, so the callback
/// never outlives what it refers to.
///
/// Thread safety: as subscription.
class scoped_subscription {
 public:
  scoped_subscription() = default;
  explicit scoped_subscription(subscription s) noexcept : s_(std::move(s)) {}
  scoped_subscription(scoped_subscription&&) noexcept = default;
  scoped_subscription& operator=(scoped_subscription&& o) noexcept {
    if (this != &o) {
      s_.cancel();
      s_ = std::move(o.s_);
    }
    return *this;
  }
  scoped_subscription(const scoped_subscription&) = delete;
  scoped_subscription& operator=(const scoped_subscription&) = delete;
  ~scoped_subscription() { s_.cancel(); }

  /// Ends the subscription now. Safe to call more than once.
  void cancel() noexcept { s_.cancel(); }
  /// Gives the subscription up without ending it (it then lasts until
  /// cancelled or system shutdown).
  subscription release() noexcept { return std::move(s_); }
  /// Returns false for an empty handle or once cancelled or released.
  [[nodiscard]] bool active() const noexcept { return s_.active(); }

 private:
  subscription s_;
};

namespace detail {

/// Registers a freshly spawned actor under `name` in the registry and under
/// `label` at the receptionist (either may be empty): what spawn_options'
/// `name` and `label` do.
result<void> register_spawned(system_core& core, std::string_view name, std::string_view label,
                              const ref_ptr<actor_handle>& actor, actor_type type);

}  // namespace detail

}  // namespace troupe
