#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "troupe/core/discovery.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/envelopes.hpp"
#include "troupe/core/local_log.hpp"

namespace troupe {

/// Says whether a group event announces a join or a leave.
enum class group_change : std::uint8_t { joined, left };

/// One member of a process group, as members() reports it untyped.
struct group_member {
  actor_id id = 0;
  actor_type type;
  entry_stamp stamp;  ///< origin and version of the join
  ref_ptr<actor_handle> actor;

  /// Returns the member as an endpoint<A>; empty when it is not an A.
  template <class A>
  [[nodiscard]] endpoint<A> as() const {
    return type.matches(actor_type::of<A>()) ? endpoint<A>(actor) : endpoint<A>();
  }
};

/// Tells a monitor that an actor joined or left a group (leaving includes
/// ending: members leave every group when they stop). Delivered to a
/// monitoring actor as a message (list troupe::group_event in its
/// `handles`) or to a callback.
struct group_event {
  static constexpr std::string_view type_name = "troupe.group_event";
  group_change what = group_change::joined;
  std::string scope;
  std::string group;
  group_member member;
};

/// One change to the process groups: the unit the cluster layer replicates
/// between nodes (every node is the only writer of its own memberships).
struct group_op {
  enum class kind : std::uint8_t {
    join,   ///< `actor` (of `type`) joins `group` of `scope`
    leave,  ///< the membership of `group` of `scope` with version `removes` ends
  };
  kind what = kind::join;
  entry_stamp stamp;  ///< the op's origin and its place in that origin's sequence
  std::string scope;
  std::string group;
  actor_type type;              ///< join
  ref_ptr<actor_handle> actor;  ///< join
  std::uint64_t removes = 0;    ///< leave: the version of the join it undoes
};

/// A run of one origin's changes to its memberships, as the cluster layer
/// carries them between nodes: everything the origin changed after version
/// `base`, bringing a receiver that has `base` up to `top`. The ops are what
/// is left of those changes now (a membership that began and ended since
/// `base` appears only as its leave), in version order.
struct group_changes {
  origin_id origin = local_origin;
  std::uint64_t base = 0;
  std::uint64_t top = 0;
  /// The ops are the origin's whole state at `top`: a receiver drops the
  /// origin's memberships that are not among them.
  bool reset = false;
  std::vector<group_op> ops;
};

namespace detail {

/// Receives group events, in order, under the groups' lock: must be short,
/// must not throw and must not call back into the groups.
class group_sink : public ref_counted {
 public:
  virtual void push(const group_event& e) noexcept = 0;
  bool closed = false;  ///< set when its monitor is removed (guarded by the groups' lock)
};

/// Hands group events to actor S as notices.
template <class S>
class group_to_actor final : public group_sink {
 public:
  explicit group_to_actor(ref_ptr<actor_handle> s) : s_(std::move(s)) {}
  void push(const group_event& e) noexcept override {
    try {
      s_->enqueue_notice(new tell_envelope<S, group_event>(e));
    } catch (...) {  // out of memory: nothing else can be done here
    }
  }

 private:
  ref_ptr<actor_handle> s_;
};

}  // namespace detail

/// Process groups (ractor's `pg`, Erlang's `pg`): named groups of actors,
/// within scopes that keep unrelated uses apart.
///
/// - An actor may join many groups, in many scopes; joining a group it is
///   already in changes nothing. Members leave every group when they stop.
/// - members<A>() yields the members of type A; member_list() all of them.
///   local_members() keeps those of this node. Every membership carries a
///   stamp (origin, version).
/// - In a cluster the groups span every member (the cluster layer applies
///   other nodes' memberships through the replication seam below): members()
///   lists actors of every node, and a node's memberships leave everywhere
///   when it is declared dead or leaves. leave() and groups_of() concern
///   this node's memberships only (only a node changes its own).
/// - A monitor of one group, or of a whole scope, first receives one
///   `joined` per current member, then every join and leave in the order
///   they happened: as group_event messages to an actor (until it ends) or
///   as callbacks (until the returned scoped_subscription goes).
///
/// Get it with `sys.groups()`; inside an actor with
/// `self().handle()->core().groups()`.
///
/// Thread safety: every member may be called from any thread, also from
/// inside actors and callbacks. Events reach an actor's mailbox under the
/// groups' lock (as notices: never refused by a bounded mailbox). Callbacks
/// run one at a time, in event order, never under the lock, on a thread
/// that changed the groups (the one that joined, left, or ended the
/// member); they may call back into the groups and must not block.
class process_groups {
 public:
  /// The scope of the overloads that take none.
  static constexpr std::string_view default_scope = "default";
  using callback = std::function<void(const group_event&)>;

  explicit process_groups(system_core& core) noexcept : core_(core) {}
  process_groups(const process_groups&) = delete;
  process_groups& operator=(const process_groups&) = delete;
  ~process_groups();

  /// Adds `ep` to `group` of `scope`. Fails with invalid_name (see
  /// validate_name), actor_not_found (an empty endpoint or an actor that has
  /// already ended) or invalid_argument (an actor of another system).
  template <class A>
  result<void> join(std::string_view scope, std::string_view group, const endpoint<A>& ep) {
    return join_handle(scope, group, ep.handle(), actor_type::of<A>());
  }
  /// Adds `ep` to `group` of the default scope.
  template <class A>
  result<void> join(std::string_view group, const endpoint<A>& ep) {
    return join(default_scope, group, ep);
  }

  /// Removes `ep` from `group` of `scope`; false when it was not a member
  /// (through this node).
  template <class A>
  bool leave(std::string_view scope, std::string_view group, const endpoint<A>& ep) {
    return leave_id(scope, group, ep.id());
  }
  /// Removes `ep` from `group` of the default scope.
  template <class A>
  bool leave(std::string_view group, const endpoint<A>& ep) {
    return leave(default_scope, group, ep);
  }

  /// Returns the members of `group` of `scope` that are A's, in join order.
  template <class A>
  [[nodiscard]] std::vector<endpoint<A>> members(std::string_view scope,
                                                 std::string_view group) const {
    return typed<A>(member_list(scope, group));
  }
  /// Returns the members of `group` of the default scope that are A's.
  template <class A>
  [[nodiscard]] std::vector<endpoint<A>> members(std::string_view group) const {
    return members<A>(default_scope, group);
  }
  /// Returns the members of this node only.
  template <class A>
  [[nodiscard]] std::vector<endpoint<A>> local_members(std::string_view scope,
                                                       std::string_view group) const {
    return typed<A>(member_list(scope, group, true));
  }

  /// Returns every member of `group` of `scope` (of any type), in join
  /// order; only this node's with `local_only`.
  [[nodiscard]] std::vector<group_member> member_list(std::string_view scope,
                                                      std::string_view group,
                                                      bool local_only = false) const;
  /// Returns the groups of `scope` that have members, sorted.
  [[nodiscard]] std::vector<std::string> groups(std::string_view scope = default_scope) const;
  /// Returns the scopes that have members, sorted.
  [[nodiscard]] std::vector<std::string> scopes() const;
  /// Returns the (scope, group) pairs actor `id` joined on this node, sorted.
  [[nodiscard]] std::vector<std::pair<std::string, std::string>> groups_of(actor_id id) const;

  /// Sends `monitor` a group_event for each join and leave of `group` of
  /// `scope`, starting with one `joined` per current member. Ends with the
  /// monitoring actor, or by cancel(). Fails with invalid_name,
  /// actor_not_found (an empty endpoint, or an actor that has already
  /// ended) or invalid_argument (an actor of another system).
  template <class S>
  result<subscription> monitor(std::string_view scope, std::string_view group,
                               const endpoint<S>& monitor) {
    return monitor_actor(scope, group, false, monitor);
  }
  /// Like monitor(), for every group of `scope`.
  template <class S>
  result<subscription> monitor_scope(std::string_view scope, const endpoint<S>& monitor) {
    return monitor_actor(scope, {}, true, monitor);
  }
  /// Calls `fn` for each join and leave of `group` of `scope`, starting with
  /// one `joined` per current member (on this thread, before this returns,
  /// unless another thread is running callbacks: then on that one). Ends
  /// when the returned handle is destroyed or cancelled (or at shutdown).
  /// Fails with invalid_name, or invalid_argument for an empty `fn`.
  result<scoped_subscription> monitor(std::string_view scope, std::string_view group, callback fn);
  /// Like monitor(scope, group, fn), for every group of `scope`.
  result<scoped_subscription> monitor_scope(std::string_view scope, callback fn);

  // ---- the replication seam (for the cluster layer) ----

  /// Sets the origin id this node's memberships have on other nodes (the
  /// cluster layer's id of this node's life).
  void set_origin(origin_id self);
  /// Returns the id set by set_origin() (local_origin until then).
  [[nodiscard]] origin_id origin() const;
  /// Returns this node's changes since version `since` for another node,
  /// stamped with origin(). When the leaves after `since` are no longer kept
  /// (at most max_tombstones are), or `since` is ahead of this node, the
  /// whole state with reset set.
  [[nodiscard]] group_changes local_changes(std::uint64_t since) const;
  /// Applies another node's changes (each join and leave is announced to
  /// monitors like a local one): `applied` when they took effect (or the
  /// part of them that was new), `duplicate` when nothing in them was new,
  /// `gap` when the receiver lacks changes before `base`, `refused` for a
  /// malformed batch or one that claims this node's origin.
  apply_status apply_changes(const group_changes& changes);
  /// Returns the version vector: for each origin (this node's first, as
  /// local_origin), the version of its last change applied here.
  [[nodiscard]] std::vector<entry_stamp> versions() const;
  /// Ends every membership of `origin` (a node that died or left), with a
  /// `left` event each, and forgets its version; returns how many ended.
  /// Not for local_origin.
  std::size_t drop_origin(origin_id origin);
  /// Returns a hash of every membership (scope, group, type name, stamp with
  /// this node's under origin()), independent of join order: equal on two
  /// nodes that hold the same memberships.
  [[nodiscard]] std::uint64_t digest() const;
  /// Calls `fn` after every change of this node's memberships, outside the
  /// groups' lock, on the thread that made it. One function; an empty one
  /// clears it.
  void on_local_change(std::function<void()> fn);

  /// The leaves of this node's memberships kept for local_changes().
  static constexpr std::size_t max_tombstones = 4096;

  // ---- untyped cores of the templates above ----

  result<void> join_handle(std::string_view scope, std::string_view group,
                           ref_ptr<actor_handle> actor, actor_type type);
  bool leave_id(std::string_view scope, std::string_view group, actor_id id);
  /// Adds a sink for `group` (or, with `whole_scope`, every group) of
  /// `scope` and gives it the current members; when `subscriber` is set, the
  /// sink goes when that actor ends.
  result<std::uint64_t> add_monitor(std::string_view scope, std::string_view group,
                                    bool whole_scope, ref_ptr<detail::group_sink> sink,
                                    ref_ptr<actor_handle> subscriber);
  /// Removes the monitor with `id` (no effect when it is gone).
  void remove_monitor(std::uint64_t id) noexcept;
  /// Removes every membership and monitor, without events (the system calls
  /// it at the end of its shutdown).
  void clear() noexcept;

 private:
  class leave_watch;
  class unmonitor_watch;
  class callback_sink;
  struct member_rec {
    group_member m;
    std::uint64_t watch = 0;  // local members: the watch that removes them
  };
  using group_map = std::map<std::string, std::vector<member_rec>, std::less<>>;

  struct monitor_rec {
    std::uint64_t id = 0;
    std::string scope;
    std::string group;
    bool whole_scope = false;
    ref_ptr<detail::group_sink> sink;
    ref_ptr<actor_handle> subscriber;
    std::uint64_t watch = 0;
  };
  struct pending_call {
    ref_ptr<detail::group_sink> sink;  // skipped once closed
    std::shared_ptr<callback> fn;
    group_event event;
  };

  template <class A>
  static std::vector<endpoint<A>> typed(const std::vector<group_member>& all) {
    std::vector<endpoint<A>> out;
    const actor_type want = actor_type::of<A>();
    for (const group_member& m : all)
      if (m.type.matches(want)) out.emplace_back(m.actor);
    return out;
  }
  template <class S>
  result<subscription> monitor_actor(std::string_view scope, std::string_view group,
                                     bool whole_scope, const endpoint<S>& m) {
    static_assert(handles_v<S, group_event>,
                  "troupe: a group monitor must handle troupe::group_event");
    if (!m) return error(errc::actor_not_found, "empty monitor");
    result<std::uint64_t> id = add_monitor(
        scope, group, whole_scope, make_ref<detail::group_to_actor<S>>(m.handle()), m.handle());
    if (!id) return id.error();
    return subscription(ref_ptr<system_core>(&core_), subscription::source::groups, *id);
  }
  result<scoped_subscription> monitor_callback(std::string_view scope, std::string_view group,
                                               bool whole_scope, callback fn);
  bool remove_member(std::string_view scope, std::string_view group, actor_id id,
                     const entry_stamp* stamp) noexcept;
  // Ends membership `i` of `g` (of scope `s`) under the lock: announces the
  // leave, records a local one for the replication seam, and drops the group
  // and scope when they empty. Returns the record.
  member_rec erase_locked(std::map<std::string, group_map, std::less<>>::iterator s,
                          group_map::iterator g, std::size_t i);
  void apply_locked(const group_op& op);
  // Ends the memberships of other nodes whose stamp `which` picks; returns
  // how many.
  std::size_t end_memberships_locked(const std::function<bool(const entry_stamp&)>& which);
  group_op intern(const group_op& op);
  void local_changed() noexcept;
  void announce(group_change what, const std::string& scope, const std::string& group,
                const group_member& m);
  void run_callbacks() noexcept;

  system_core& core_;
  mutable std::mutex mu_;
  // Guarded by mu_:
  std::map<std::string, group_map, std::less<>> scopes_;
  std::vector<monitor_rec> monitors_;
  std::deque<pending_call> pending_;  // callbacks to run, in order
  bool running_callbacks_ = false;
  std::uint64_t version_ = 0;  // this node's memberships
  std::uint64_t next_monitor_ = 1;
  // The replication seam's state (see process_groups_replication.cpp):
  // remote origins' versions, this node's id, its joins and leaves (a
  // place is a scope and a group).
  std::map<origin_id, std::uint64_t> applied_;
  origin_id self_ = local_origin;
  detail::local_log<std::pair<std::string, std::string>> log_{max_tombstones};
  std::set<std::string, std::less<>> type_names_;  // remote members' type names
  detail::table_hook<> on_local_change_;
};

}  // namespace troupe
