#pragma once

#include <cstddef>
#include <new>
#include <utility>

#include "troupe/core/cell.hpp"
#include "troupe/core/result.hpp"

namespace troupe::detail {

cell* exchange_current_cell(cell* c) noexcept;
cell* exchange_constructing_cell(cell* c) noexcept;

/// A cell that stores an actor of type A in place.
template <class A>
class typed_cell final : public cell {
 public:
  template <class... Args>
  typed_cell(ref_ptr<system_core> core, executor& ex, const mailbox_options& mbox, Args&&... args)
      : cell(std::move(core), ex, A::reentrant, mbox) {
    cell* prev = exchange_constructing_cell(this);
    try {
      ::new (static_cast<void*>(storage_)) A(std::forward<Args>(args)...);
    } catch (...) {
      exchange_constructing_cell(prev);
      abandon();  // cancels timers the constructor armed: they point at this cell
      throw;
    }
    exchange_constructing_cell(prev);
    constructed_ = true;
  }

  /// Returns the actor. Only inside its turn, while it lives.
  A& actor() noexcept { return *std::launder(reinterpret_cast<A*>(storage_)); }

  /// Runs on_start in the calling thread; an exception or an error result
  /// refuses the start.
  result<void> start() noexcept {
    cell* prev = exchange_current_cell(this);
    result<void> r;
    try {
      if constexpr (std::is_same_v<decltype(actor().on_start()), result<void>>) {
        r = actor().on_start();
      } else if constexpr (std::is_same_v<decltype(actor().on_start()), bool>) {
        if (!actor().on_start()) r = error(errc::start_failed, "on_start returned false");
      } else {
        actor().on_start();
      }
    } catch (const std::exception& ex) {
      r = error(errc::start_failed, ex.what());
    } catch (...) {
      r = error(errc::start_failed, "unknown exception");
    }
    exchange_current_cell(prev);
    if (!r && r.error().code() != errc::start_failed)
      r = error(errc::start_failed, r.error().message());
    return r;
  }

  using cell::abandon;
  using cell::activate;
  using cell::use_own_executor;

 protected:
  void call_post_start() override { actor().post_start(); }
  void call_post_stop(const exit_reason& why) noexcept override {
    try {
      actor().post_stop(why);
    } catch (...) {  // post_stop may not veto or change the exit
    }
  }
  void destroy_actor() noexcept override {
    if (constructed_) {
      constructed_ = false;
      actor().~A();
    }
  }

 private:
  ~typed_cell() override { destroy_actor(); }

  alignas(A) std::byte storage_[sizeof(A)];
  bool constructed_ = false;
};

/// Returns the actor of type A inside cell `c`.
template <class A>
A& actor_of(cell& c) noexcept {
  return static_cast<typed_cell<A>&>(c).actor();
}

}  // namespace troupe::detail
