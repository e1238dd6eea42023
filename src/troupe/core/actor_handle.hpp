#pragma once

#include <cstdint>

#include "troupe/core/envelope.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/ref_counted.hpp"
#include "troupe/core/send_result.hpp"

namespace troupe {

class system_core;

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
  /// Returns the system the actor belongs to.
  [[nodiscard]] virtual system_core& core() const noexcept = 0;
};

}  // namespace troupe
