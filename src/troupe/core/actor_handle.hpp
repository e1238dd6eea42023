#pragma once

#include <cstdint>

#include "troupe/core/envelope.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/ref_counted.hpp"
#include "troupe/core/send_result.hpp"

namespace troupe {

class system_core;
class watch_entry;

namespace detail {
/// One per actor type: its address identifies the type (actor_type::tag).
template <class A>
inline constexpr char actor_type_tag = 0;
}  // namespace detail

/// Identifies an actor within its system.
using actor_id = std::uint64_t;

/// What an endpoint points at: something that accepts envelopes. A local
/// actor cell is one implementation; a remote proxy is another.
///
/// Thread safety: every member may be called from any thread.
class actor_handle : public ref_counted {
 public:
  /// Queues a user message. On refusal the envelope has already been
  /// rejected (and disposed) with the returned reason.
  virtual send_result enqueue(envelope* e) noexcept = 0;
  /// Queues a system-lane item (signals, resumptions), read before user
  /// messages. On a dead actor the item is rejected.
  virtual void enqueue_system(envelope* e) noexcept = 0;
  /// Returns the actor's id.
  [[nodiscard]] virtual actor_id id() const noexcept = 0;
  /// Asks the actor to stop after its current message.
  virtual void stop(exit_reason why) noexcept = 0;
  /// Ends the actor at once; a suspended handler is destroyed, not resumed.
  virtual void kill() noexcept = 0;
  /// Refuses new messages, handles the queued ones, then stops.
  virtual void drain() noexcept = 0;
  /// Ends the actor with `why` because an actor linked to it ended.
  virtual void exit(exit_reason why) noexcept = 0;
  /// Queues a notice (down, exit_signal) on the user lane: never refused by a
  /// bounded mailbox; rejected only when the actor is gone.
  virtual void enqueue_notice(envelope* e) noexcept = 0;
  /// Adds a watch; returns its token, or 0 when the actor is already gone,
  /// in which case `e` has been notified at once.
  virtual std::uint64_t add_watch(ref_ptr<watch_entry> e) = 0;
  /// Removes the watch with `token` (no effect if it is gone).
  virtual void remove_watch(std::uint64_t token) noexcept = 0;
  /// Returns the system the actor belongs to.
  [[nodiscard]] virtual system_core& core() const noexcept = 0;
  /// Returns a tag unique to the actor's C++ type within the process (the
  /// `actor_type::of<A>().tag` of a local actor); nullptr when unknown (an
  /// actor on another node).
  [[nodiscard]] virtual const void* actor_type_tag() const noexcept { return nullptr; }
};

}  // namespace troupe
