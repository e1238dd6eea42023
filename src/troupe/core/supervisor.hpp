#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/dedicated_thread.hpp"
#include "troupe/core/system.hpp"
#include "troupe/core/typed_cell.hpp"

namespace troupe {

/// When a supervisor restarts a child that exited.
enum class restart_policy : std::uint8_t {
  temporary,  ///< never
  transient,  ///< only after an abnormal exit (failed, killed, ...)
  permanent,  ///< always
};

/// Which children a supervisor restarts when one exits.
enum class supervision_strategy : std::uint8_t {
  one_for_one,   ///< only the one that exited
  one_for_all,   ///< all of them (the others are stopped first, last to first)
  rest_for_one,  ///< the one that exited and those started after it
};

/// Spaces restarts out: initial, then multiplied by `multiplier` up to `cap`;
/// back to `initial` once the child has run for `reset_after` without exiting.
/// An initial delay of zero restarts at once, every time.
struct backoff_options {
  duration initial = std::chrono::milliseconds(100);
  double multiplier = 2.0;
  duration cap = std::chrono::seconds(30);
  duration reset_after = std::chrono::seconds(60);
};

/// At most `max_restarts` restarts within `window`; one more and the
/// supervisor gives up, stops its children and fails with restart_limit.
struct restart_intensity {
  std::size_t max_restarts = 5;
  duration window = std::chrono::seconds(60);
};

/// Describes one child of a supervisor: how to build it (and build it again),
/// its label and its restart policy.
struct child_spec {
  std::string label;
  restart_policy policy = restart_policy::permanent;
  spawn_options options{};
  /// Builds, starts (on_start) and activates the child under `hook`.
  std::function<result<ref_ptr<cell>>(const ref_ptr<system_core>&, ref_ptr<supervision_hook>,
                                      const spawn_options&)>
      start;
  actor_type type{};

  /// Returns the spec of a child of type A built from copies of `args`.
  template <class A, class... Args>
  static child_spec of(std::string label, restart_policy policy, Args... args);
};

/// Something that happened to a supervisor's child.
struct supervision_event {
  enum class kind : std::uint8_t {
    started,    ///< first start
    exited,     ///< the child exited (reason says how)
    restarted,  ///< rebuilt after an exit
    stopped,    ///< ended for good (its policy does not restart it)
    gave_up,    ///< restart intensity exceeded: the supervisor fails
  };
  kind what = kind::started;
  std::string label;
  actor_id child = 0;
  exit_reason reason{};
  std::size_t restarts = 0;  ///< restarts of this child so far
  duration delay{};          ///< for exited: the backoff before the restart
};

/// Configures a supervisor.
struct supervisor_spec {
  supervision_strategy strategy = supervision_strategy::one_for_one;
  restart_intensity intensity{};
  backoff_options backoff{};
  std::vector<child_spec> children;
  /// Called in the supervisor's turn for each event (to log, or to tell an
  /// observing actor). Must not throw.
  std::function<void(const supervision_event&)> on_event;
};

/// Asks a supervisor for its children.
struct which_children {
  struct child {
    std::string label;
    actor_id id = 0;
    bool running = false;
    std::size_t restarts = 0;
    ref_ptr<actor_handle> handle;
    actor_type type{};
  };
  using reply = std::vector<child>;
  static constexpr std::string_view type_name = "troupe.which_children";
};

/// Returns the typed endpoint of a child of type A, or an empty endpoint when
/// the child is of another type.
template <class A>
endpoint<A> child_endpoint(const which_children::child& c) {
  if (!c.type.matches(actor_type::of<A>())) return {};
  return endpoint<A>(c.handle);
}

namespace detail {
struct child_exit_notice {
  static constexpr std::string_view type_name = "troupe.child_exit";
  std::size_t index;
  actor_id who;
  exit_reason why;
};
struct restart_due {
  static constexpr std::string_view type_name = "troupe.restart_due";
  std::vector<std::size_t> indices;
  std::uint64_t generation;
};
}  // namespace detail

/// Starts children in order, watches their exits, and restarts them by their
/// policy, the strategy, the restart intensity and an exponential backoff.
/// Children keep their endpoints across restarts: messages sent meanwhile
/// wait in the mailbox and reach the new instance; the ask that was being
/// handled when a child failed ends with handler_failed. A supervisor is an
/// actor: nest one as another's child to build a tree; when it gives up it
/// fails with restart_limit, and its own supervisor decides.
class supervisor : public actor<supervisor> {
 public:
  using handles = troupe::handles<detail::child_exit_notice, detail::restart_due, which_children>;

  explicit supervisor(supervisor_spec spec);

  result<void> on_start();
  void post_stop(const exit_reason& why);

  task<void> handle(detail::child_exit_notice n);
  task<void> handle(detail::restart_due r);
  which_children::reply handle(which_children);

 private:
  struct child_state {
    child_spec spec;
    ref_ptr<cell> c;
    bool running = false;
    bool pending_restart = false;
    std::size_t restarts = 0;
    duration next_delay{};
    time_point last_start{};
  };

  void emit(supervision_event::kind k, const child_state& ch, const exit_reason& why,
            duration delay = {});
  std::vector<std::size_t> affected(std::size_t failed) const;
  bool over_intensity();
  duration backoff_for(child_state& ch);
  ref_ptr<detail::reply_state<void>> new_ack();
  task<bool> await_ack(ref_ptr<detail::reply_state<void>> ack);

  /// How long a child may take to obey a stop or restart order.
  static constexpr duration ack_timeout = std::chrono::seconds(5);
  task<void> give_up(exit_reason why);

  supervisor_spec spec_;
  std::vector<child_state> children_;
  std::deque<time_point> restart_times_;
  std::uint64_t generation_ = 0;
  bool giving_up_ = false;
};

namespace detail {

/// Passes a supervised child's exits to its supervisor as messages.
class child_hook final : public supervision_hook {
 public:
  child_hook(ref_ptr<actor_handle> sup, std::size_t index) : sup_(std::move(sup)), index_(index) {}
  void child_exited(actor_id who, const exit_reason& why) noexcept override;

 private:
  ref_ptr<actor_handle> sup_;
  std::size_t index_;
};

/// Builds, starts and activates a supervised actor of type A.
template <class A>
result<ref_ptr<cell>> spawn_supervised(const ref_ptr<system_core>& core, const spawn_options& opts,
                                       ref_ptr<supervision_hook> hook,
                                       std::function<void(void*)> factory) {
  auto c = make_held_cell<A>(core, opts, factory);
  if (!c) return c.error();
  (*c)->set_factory(std::move(factory));
  (*c)->set_supervisor(std::move(hook));
  if (result<void> r = launch(**c); !r) return r.error();
  return ref_ptr<cell>(std::move(*c));
}

}  // namespace detail

template <class A, class... Args>
child_spec child_spec::of(std::string label, restart_policy policy, Args... args) {
  child_spec s;
  s.label = std::move(label);
  s.policy = policy;
  s.type = actor_type::of<A>();
  s.start = [args...](const ref_ptr<system_core>& core, ref_ptr<supervision_hook> hook,
                      const spawn_options& opts) {
    std::function<void(void*)> factory = [args...](void* mem) { ::new (mem) A(args...); };
    return detail::spawn_supervised<A>(core, opts, std::move(hook), std::move(factory));
  };
  return s;
}

}  // namespace troupe
