#pragma once

#include <cstddef>
#include <new>
#include <typeinfo>

#include "troupe/core/envelope_pool.hpp"
#include "troupe/core/error.hpp"
#include "troupe/core/mpsc_queue.hpp"

namespace troupe {

class cell;
namespace detail {
class reply_base;
}

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
  // Envelopes come from per-thread pools: they are usually freed on another
  // thread than the one that made them.
  static void* operator new(std::size_t size) { return detail::envelope_pool::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept {
    detail::envelope_pool::deallocate(p, size);
  }
  static void* operator new(std::size_t size, std::align_val_t al) {
    return ::operator new(size, al);
  }
  static void operator delete(void* p, std::size_t size, std::align_val_t al) noexcept {
    (void)size;
    ::operator delete(p, al);
  }

  /// Returns true for tells, whose rejection counts as a dead letter.
  [[nodiscard]] virtual bool is_tell() const noexcept { return false; }

  // What a handle that is not a local cell (a remote actor's proxy) needs to
  // send the envelope elsewhere: the user message, type-erased, and for an
  // ask the reply it must complete. Signals and resumptions carry neither.

  /// Returns the user message, or nullptr.
  [[nodiscard]] virtual const void* message() const noexcept { return nullptr; }
  /// Returns the user message's type, or nullptr.
  [[nodiscard]] virtual const std::type_info* message_type() const noexcept { return nullptr; }
  /// Returns the reply an ask completes (nullptr for a tell).
  [[nodiscard]] virtual detail::reply_base* reply() const noexcept { return nullptr; }

 protected:
  virtual ~envelope() = default;
};

}  // namespace troupe
