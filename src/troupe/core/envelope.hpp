#pragma once

#include "troupe/core/error.hpp"
#include "troupe/core/mpsc_queue.hpp"

namespace troupe {

class cell;

/// One queued item of a mailbox: a user message (tell or ask), a signal, or
/// the resumption of a suspended handler.
///
/// Exactly one of deliver() or reject() is called, by the thread that owns the
/// mailbox at that moment, and then dispose().
class envelope : public mpsc_node {
 public:
  envelope() = default;
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;

  /// Hands the item to the actor of `c`. May throw (a handler failed).
  virtual void deliver(cell& c) = 0;
  /// Says the item will never be delivered, and why (e.g. actor_not_found,
  /// mailbox_full): an ask completes with that error, a tell becomes a dead
  /// letter.
  virtual void reject(errc why) noexcept = 0;
  /// Frees the item; the default deletes it.
  virtual void dispose() noexcept { delete this; }
  /// Returns true for tells, whose rejection counts as a dead letter.
  [[nodiscard]] virtual bool is_tell() const noexcept { return false; }

 protected:
  virtual ~envelope() = default;
};

}  // namespace troupe
