#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/discovery.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/listing.hpp"
#include "troupe/core/local_log.hpp"

namespace troupe {

/// One visible entry of a receptionist, as find() and entries() report it.
struct reception_entry {
  std::string label;
  std::string key;  ///< the reception key's name; empty when checked in without one
  actor_id id = 0;
  actor_type type;
  visibility vis = visibility::public_;
  entry_stamp stamp;  ///< origin and version of the check-in
  ref_ptr<actor_handle> actor;
};

/// One change to a receptionist, local or from another node: the unit the
/// cluster layer replicates. Local check-ins and check-outs go
/// through the same path as ops applied with receptionist::apply().
struct reception_op {
  enum class kind : std::uint8_t {
    add,     ///< check in `actor` under `label` (with `key`, `type`, `vis`)
    remove,  ///< check out the entry of `label` whose version is `removes`
    skip,    ///< nothing: keeps the place of a change that may not leave its node
  };
  kind what = kind::add;
  entry_stamp stamp;  ///< the op's origin and its place in that origin's sequence
  std::string label;
  std::string key;
  actor_type type;
  visibility vis = visibility::public_;
  ref_ptr<actor_handle> actor;
  std::uint64_t removes = 0;  ///< remove: the version of the add it undoes
};

/// A run of one origin's changes, as the cluster layer carries them between
/// nodes: everything the origin changed after version `base`, bringing a
/// receiver that has `base` up to `top`. The ops are what is left of those
/// changes now (an entry added and removed again since `base` appears only
/// as its removal), in version order.
struct reception_changes {
  origin_id origin = local_origin;
  std::uint64_t base = 0;
  std::uint64_t top = 0;
  /// The ops are the origin's whole state at `top`: a receiver drops the
  /// origin's entries that are not among them (sent when the origin no
  /// longer keeps the removals a receiver is missing).
  bool reset = false;
  std::vector<reception_op> ops;
};

/// An entry of this node that lost its label to another node's entry by
/// the conflict rule: it stays checked in, hidden, and becomes visible again
/// if the winner goes.
struct reception_conflict {
  std::string label;
  entry_stamp loser;   ///< this node's entry (with this node's origin)
  entry_stamp winner;  ///< the entry every node now shows
};

/// Murmer's receptionist: actors check in under path-like labels
/// ("cache/user/7"), optionally grouped by a typed reception key; anyone
/// looks them up by label with their type, lists a key's members, or
/// subscribes to a key to follow its members as they come and go.
///
/// - Labels and key names follow validate_label(); a malformed one fails
///   with invalid_name, a taken label with name_taken.
/// - lookup<A>() and the members of a reception_key<A> only ever yield
///   actors of type A.
/// - An entry goes away when its actor ends, or by check_out(). Every entry
///   carries its visibility and a stamp (origin, version); removals name the
///   version they remove, so a late removal never evicts a newer entry.
/// - A subscription first delivers one `added` per current member, then one
///   `added` per check-in and exactly one `removed` per entry that goes
///   (an actor checked in under one label: one `removed` when it dies), in
///   the order the receptionist applied them.
/// - Two nodes may check in the same label at once: every candidate is kept
///   and the one with the lowest stamp (origin, then version) is visible, on
///   every node alike. Locally a label has one candidate.
///
/// Get it with `sys.receptionist()`; inside an actor with
/// `self().handle()->core().receptionist()`.
///
/// Thread safety: every member may be called from any thread, also from
/// inside actors. Events reach an actor's mailbox (as a notice: never
/// refused by a bounded mailbox) or a listing's buffer under the
/// receptionist's lock; no user code runs under it.
class receptionist {
 public:
  explicit receptionist(system_core& core) noexcept : core_(core) {}
  receptionist(const receptionist&) = delete;
  receptionist& operator=(const receptionist&) = delete;
  ~receptionist();

  /// Checks `ep` in under `label`, with no key. Fails with invalid_name,
  /// name_taken, actor_not_found (an empty endpoint or an actor that has
  /// already ended) or invalid_argument (an actor of another system).
  template <class A>
  result<entry_stamp> check_in(std::string_view label, const endpoint<A>& ep,
                               visibility vis = visibility::public_) {
    return check_in_handle(label, ep.handle(), actor_type::of<A>(), {}, vis);
  }
  /// Checks `ep` in under `label` as a member of `key`.
  template <class A>
  result<entry_stamp> check_in(std::string_view label, const endpoint<A>& ep,
                               const reception_key<A>& key, visibility vis = visibility::public_) {
    return check_in_handle(label, ep.handle(), actor_type::of<A>(), key.name, vis);
  }

  /// Removes the local entry of `label`; false when there is none.
  bool check_out(std::string_view label);
  /// Removes the entry of `label` only if it still has `stamp`.
  bool check_out(std::string_view label, entry_stamp stamp);

  /// Returns the actor checked in under `label` if it is an A, else empty.
  template <class A>
  [[nodiscard]] endpoint<A> lookup(std::string_view label) const {
    return endpoint<A>(find_handle(label, actor_type::of<A>()));
  }
  /// Returns the current members of `key`, sorted by label.
  template <class A>
  [[nodiscard]] std::vector<endpoint<A>> members(const reception_key<A>& key) const {
    std::vector<endpoint<A>> out;
    for (auto& h : member_handles(key.name, actor_type::of<A>())) out.emplace_back(std::move(h));
    return out;
  }

  /// Follows `key`: returns a listing to read events from (`co_await
  /// l.next(timeout)` in a handler coroutine, `l.next().get()` elsewhere).
  /// The listing's subscription ends when the listing is destroyed. Fails
  /// with invalid_name.
  template <class A>
  result<listing<A>> subscribe(const reception_key<A>& key) {
    auto stream = make_ref<detail::listing_stream<A>>();
    result<std::uint64_t> id = add_sink(key.name, actor_type::of<A>(), stream, {});
    if (!id) return id.error();
    return listing<A>(ref_ptr<system_core>(&core_), std::move(stream), *id);
  }
  /// Follows `key` for actor `subscriber`, which receives each event as a
  /// troupe::listing_event<A> message (list it in its `handles`). The
  /// subscription ends with the subscriber, or by cancel(). Fails with
  /// invalid_name, actor_not_found (an empty endpoint, or a subscriber that
  /// has already ended) or invalid_argument (an actor of another system).
  template <class A, class S>
  result<subscription> subscribe(const reception_key<A>& key, const endpoint<S>& subscriber) {
    static_assert(handles_v<S, listing_event<A>>,
                  "troupe: a listing's subscriber must handle troupe::listing_event<A>");
    if (!subscriber) return error(errc::actor_not_found, "empty subscriber");
    auto sink = make_ref<detail::listing_to_actor<S, A>>(subscriber.handle());
    result<std::uint64_t> id =
        add_sink(key.name, actor_type::of<A>(), std::move(sink), subscriber.handle());
    if (!id) return id.error();
    return subscription(ref_ptr<system_core>(&core_), subscription::source::receptionist, *id);
  }

  /// Returns the visible entry of `label`, if any.
  [[nodiscard]] std::optional<reception_entry> find(std::string_view label) const;
  /// Returns every visible entry, sorted by label.
  [[nodiscard]] std::vector<reception_entry> entries() const;
  /// Returns the number of labels with a visible entry.
  [[nodiscard]] std::size_t size() const;
  /// Returns the number of live subscriptions (listings and actors).
  [[nodiscard]] std::size_t subscriptions() const;

  // ---- the replication seam (for the cluster layer) ----

  /// Applies a change from another node. Ops of one origin must come in
  /// version order; see apply_status. Remote entries are not watched: their
  /// node sends the removal (or is dropped with drop_origin()).
  apply_status apply(const reception_op& op);
  /// Returns the version vector: for each origin (this node's included), the
  /// version of the last op applied.
  [[nodiscard]] std::vector<entry_stamp> versions() const;
  /// Removes every entry of `origin` (a node that died) and forgets its
  /// version; returns the number of entries removed. Not for local_origin.
  std::size_t drop_origin(origin_id origin);

  /// Sets the origin id this node's entries have on other nodes (the cluster
  /// layer's id of this node's life). Entries made here rank by it against
  /// other nodes' entries, so every node picks the same visible entry.
  void set_origin(origin_id self);
  /// Returns the id set by set_origin() (local_origin until then).
  [[nodiscard]] origin_id origin() const;
  /// Returns this node's changes since version `since` for another node
  /// (stamped with origin()): private entries never appear. When the
  /// removals after `since` are no longer kept (at most max_tombstones are),
  /// or `since` is ahead of this node, the whole state with reset set.
  [[nodiscard]] reception_changes local_changes(std::uint64_t since) const;
  /// Applies another node's changes: `applied` when they took effect (or
  /// the part of them that was new), `duplicate` when nothing in them was
  /// new, `gap` when the receiver lacks changes before `base` (send the
  /// origin this node's version of it, see versions(), to get them),
  /// `refused` for a malformed batch or one that claims this node's origin.
  apply_status apply_changes(const reception_changes& changes);
  /// Returns a hash of the visible entries that may leave this node (label,
  /// key, type name, visibility, stamp with this node's entries under
  /// origin()): equal on two nodes that show the same entries.
  [[nodiscard]] std::uint64_t digest() const;
  /// Calls `fn` after every change made on this node (a check-in or a
  /// check-out), outside the receptionist's lock, on the thread that made
  /// it. One function; an empty one clears it.
  void on_local_change(std::function<void()> fn);
  /// Calls `fn` when an entry of this node loses its label to another
  /// node's (see reception_conflict), outside the lock, on the thread that
  /// applied the other's change. One function; an empty one clears it.
  void on_conflict(std::function<void(const reception_conflict&)> fn);

  /// The removals of this node's entries kept for local_changes().
  static constexpr std::size_t max_tombstones = 4096;

  // ---- untyped cores of the templates above ----

  result<entry_stamp> check_in_handle(std::string_view label, ref_ptr<actor_handle> actor,
                                      actor_type type, std::string_view key, visibility vis);
  [[nodiscard]] ref_ptr<actor_handle> find_handle(std::string_view label, actor_type type) const;
  [[nodiscard]] std::vector<ref_ptr<actor_handle>> member_handles(std::string_view key,
                                                                  actor_type type) const;
  /// Adds a sink for `key`'s events and gives it the current members; when
  /// `subscriber` is set, the sink goes when that actor ends.
  result<std::uint64_t> add_sink(std::string_view key, actor_type type,
                                 ref_ptr<detail::listing_sink> sink,
                                 ref_ptr<actor_handle> subscriber);
  /// Removes the sink with `id` (no effect when it is gone).
  void remove_sink(std::uint64_t id) noexcept;
  /// Removes every entry and subscription, without events (the system calls
  /// it at the end of its shutdown).
  void clear() noexcept;

 private:
  class retire_watch;
  class unsubscribe_watch;
  struct candidate {
    std::string key;
    actor_type type;
    visibility vis = visibility::public_;
    entry_stamp stamp;
    ref_ptr<actor_handle> actor;
    std::uint64_t watch = 0;  // local entries: the watch that retires them
  };
  struct sink_record {
    std::uint64_t id = 0;
    std::string key;
    actor_type type;
    ref_ptr<detail::listing_sink> sink;
    ref_ptr<actor_handle> subscriber;
    std::uint64_t watch = 0;
  };
  // Candidates of one label, sorted by stamp: front() is the visible one.
  using candidates = std::vector<candidate>;

  bool retire(std::string_view label, const std::optional<entry_stamp>& stamp) noexcept;
  // The rank of a stamp in the conflict rule: this node's entries as origin().
  [[nodiscard]] entry_stamp rank(entry_stamp s) const noexcept {
    if (s.origin == local_origin) s.origin = self_;
    return s;
  }
  apply_status check_remote(const reception_op& op, origin_id origin) const;
  reception_op intern(const reception_op& op);
  void apply_locked(const reception_op& op);
  void local_changed() noexcept;
  void report_conflicts() noexcept;
  void erase_locked(const std::string& label, candidates& cs, std::size_t i);
  void show(const std::string& label, const candidate& c);
  void hide(const std::string& label, const candidate& c);
  void announce(listing_change what, const std::string& label, const candidate& c);
  reception_entry entry_of(const std::string& label, const candidate& c) const;

  system_core& core_;
  mutable std::mutex mu_;
  // Guarded by mu_:
  std::map<std::string, candidates, std::less<>> labels_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> by_key_;  // visible only
  std::vector<sink_record> sinks_;
  std::map<origin_id, std::uint64_t> applied_;  // remote origins
  std::uint64_t version_ = 0;                   // this node's
  std::uint64_t next_sink_ = 1;
  origin_id self_ = local_origin;
  // This node's entries that may leave it, and their removals.
  detail::local_log<std::string> log_{max_tombstones};
  // Names of remote entries' types (their actor_type views point here).
  std::set<std::string, std::less<>> type_names_;
  std::vector<reception_conflict> conflicts_;  // to report once unlocked
  detail::table_hook<> on_local_change_;
  detail::table_hook<reception_conflict> on_conflict_;
};

}  // namespace troupe
