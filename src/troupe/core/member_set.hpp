#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "troupe/core/actor_handle.hpp"
#include "troupe/core/hash_ring.hpp"
#include "troupe/core/listing.hpp"
#include "troupe/core/system_core.hpp"
#include "troupe/core/watch.hpp"

namespace troupe::detail {

/// Something that wants to hear when a watched actor ends, without keeping
/// itself alive through the watch: the watch holds a weak reference only.
class down_listener {
 public:
  virtual ~down_listener() = default;
  /// Reports that actor `who` ended. Runs on the thread that ends it; must be
  /// short and must not throw.
  virtual void member_down(actor_id who) noexcept = 0;
};

/// Returns a watch entry that tells `l` (if it still lives) when its actor ends.
ref_ptr<watch_entry> make_down_forwarder(std::weak_ptr<down_listener> l);

/// The members of a router: a list of actor handles in the order they were
/// added, each watched so that it leaves the list when its actor ends.
/// Picks a member round-robin, at random (from the system's random seam) or
/// by a consistent hash of a key.
///
/// Thread safety: every member function may be called from any thread (one
/// internal lock, never held while calling into an actor or a watcher).
class member_set final : public down_listener, public std::enable_shared_from_this<member_set> {
 public:
  /// Makes an empty set whose random picks draw from `core`'s random seam.
  static std::shared_ptr<member_set> make(ref_ptr<system_core> core);
  explicit member_set(ref_ptr<system_core> core) : core_(std::move(core)) {}
  member_set(const member_set&) = delete;
  member_set& operator=(const member_set&) = delete;
  /// Cancels the watches on the members that remain.
  ~member_set() override;

  /// Adds `h` and watches it. Returns false when it is empty, already a
  /// member, or already gone (then it is not added).
  bool add(ref_ptr<actor_handle> h);
  /// Removes the member with id `id`; returns whether there was one.
  bool remove(actor_id id);
  /// Returns the members, in the order they were added.
  [[nodiscard]] std::vector<ref_ptr<actor_handle>> snapshot() const;
  [[nodiscard]] std::size_t size() const;
  /// Returns the next member in turn (nullptr when there is none).
  ref_ptr<actor_handle> next_in_turn();
  /// Returns a member drawn uniformly from the random seam (nullptr when none).
  ref_ptr<actor_handle> pick_random();
  /// Returns the member owning `key` on the consistent-hash ring (nullptr
  /// when none).
  ref_ptr<actor_handle> pick_by_key(const routing_key& key);
  [[nodiscard]] system_core& core() const noexcept { return *core_; }
  [[nodiscard]] const ref_ptr<system_core>& core_ref() const noexcept { return core_; }

  void member_down(actor_id who) noexcept override { remove(who); }

 private:
  struct member {
    ref_ptr<actor_handle> h;
    std::uint64_t token = 0;  // the watch on it; 0 while being added
  };
  std::optional<std::size_t> find(actor_id id) const noexcept;

  ref_ptr<system_core> core_;
  mutable std::mutex mu_;
  std::vector<member> members_;  // guarded by mu_
  std::size_t next_ = 0;         // guarded by mu_: the next member in turn
  hash_ring ring_;               // guarded by mu_, rebuilt when dirty
  bool ring_dirty_ = true;       // guarded by mu_
};

/// Keeps a member set equal to a reception key's members (router::follow).
class listing_to_members final : public listing_sink {
 public:
  explicit listing_to_members(std::weak_ptr<member_set> set) : set_(std::move(set)) {}
  void push(listing_change what, const ref_ptr<actor_handle>& actor, const std::string&,
            entry_stamp) noexcept override;

 private:
  std::weak_ptr<member_set> set_;
};

}  // namespace troupe::detail
