#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/discovery.hpp"
#include "troupe/core/endpoint.hpp"

namespace troupe {

/// One entry of a registry, as find() and entries() report it.
struct registry_entry {
  std::string name;
  actor_id id = 0;
  actor_type type;
  entry_stamp stamp;  ///< origin and version of the registration
  ref_ptr<actor_handle> actor;
};

/// The named registry of one system (ractor's registry, Erlang's
/// `register`): unique names for actors, typed lookup, entries that go away
/// by themselves when their actor ends.
///
/// - A name names one actor at a time: registering a taken name fails with
///   name_taken. An actor may have several names.
/// - lookup<A>(name) returns an empty endpoint when the name is unknown or
///   names an actor of another type.
/// - When the actor ends (stop, kill, failure, shutdown), its names are
///   removed. Every entry carries a stamp (origin, version): a removal names
///   the stamp it removes, so the late removal of an old registration never
///   evicts a newer actor that took the name in the meantime.
///
/// Get it with `sys.registry()`; inside an actor with
/// `self().handle()->core().registry()`.
///
/// Thread safety: every member may be called from any thread, also from
/// inside actors; no user code runs under the registry's lock.
class registry {
 public:
  explicit registry(system_core& core) noexcept : core_(core) {}
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;
  ~registry();

  /// Registers `ep` under `name`. Fails with invalid_name (a malformed
  /// name: see validate_name), name_taken, actor_not_found (an empty
  /// endpoint, or an actor that has already ended) or invalid_argument (an
  /// actor of another system). Returns the stamp of the new entry.
  template <class A>
  result<entry_stamp> add(std::string_view name, const endpoint<A>& ep) {
    return add_handle(name, ep.handle(), actor_type::of<A>());
  }

  /// Returns the actor registered under `name` if it is an A; an empty
  /// endpoint when the name is unknown or the actor has another type.
  template <class A>
  [[nodiscard]] endpoint<A> lookup(std::string_view name) const {
    return endpoint<A>(find_handle(name, actor_type::of<A>()));
  }

  /// Removes `name`; returns false when it was not registered.
  bool remove(std::string_view name);
  /// Removes `name` only if its entry still has `stamp` (a newer
  /// registration under the same name is left alone); returns whether it
  /// removed something.
  bool remove(std::string_view name, entry_stamp stamp);

  /// Returns the entry under `name`, if any.
  [[nodiscard]] std::optional<registry_entry> find(std::string_view name) const;
  /// Returns true when `name` is registered.
  [[nodiscard]] bool contains(std::string_view name) const;
  /// Returns the registered names, sorted.
  [[nodiscard]] std::vector<std::string> names() const;
  /// Returns every entry, sorted by name.
  [[nodiscard]] std::vector<registry_entry> entries() const;
  /// Returns the number of entries.
  [[nodiscard]] std::size_t size() const;

  /// The untyped core of add(): `type` is the actor's type identity.
  result<entry_stamp> add_handle(std::string_view name, ref_ptr<actor_handle> actor,
                                 actor_type type);
  /// The untyped core of lookup(): null when unknown or of another type.
  [[nodiscard]] ref_ptr<actor_handle> find_handle(std::string_view name, actor_type type) const;
  /// Removes every entry (the system calls it at the end of its shutdown).
  void clear() noexcept;

 private:
  class retire_watch;
  struct slot {
    ref_ptr<actor_handle> actor;
    actor_type type;
    entry_stamp stamp;
    std::uint64_t watch = 0;  // token of the watch that removes the entry
  };
  bool remove_if(std::string_view name, const std::optional<entry_stamp>& stamp) noexcept;

  system_core& core_;
  mutable std::mutex mu_;
  std::map<std::string, slot, std::less<>> entries_;  // guarded by mu_
  std::uint64_t version_ = 0;                         // guarded by mu_
};

}  // namespace troupe
