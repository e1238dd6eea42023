#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <utility>

#include "troupe/core/cell.hpp"
#include "troupe/core/result.hpp"

namespace troupe::detail {

cell* exchange_current_cell(cell* c) noexcept;
cell* exchange_constructing_cell(cell* c) noexcept;

/// Selects the typed_cell constructor that builds the actor with a factory.
struct from_factory_t {};
inline constexpr from_factory_t from_factory{};

/// A cell that stores an actor of type A in place.
template <class A>
class typed_cell final : public cell {
 public:
  /// Builds the actor from `args`.
  template <class... Args>
  typed_cell(ref_ptr<system_core> core, executor& ex, const mailbox_options& mbox, Args&&... args)
      : typed_cell(from_factory, std::move(core), ex, mbox,
                   [&](void* mem) { ::new (mem) A(std::forward<Args>(args)...); }) {}

  /// Builds the actor with `construct(storage)` (placement into the cell).
  template <class F>
  typed_cell(from_factory_t, ref_ptr<system_core> core, executor& ex, const mailbox_options& mbox,
             F&& construct)
      : cell(std::move(core), ex, A::reentrant, mbox) {
    cell* prev = exchange_constructing_cell(this);
    try {
      construct(static_cast<void*>(storage_));
    } catch (...) {
      exchange_constructing_cell(prev);
      abandon();  // cancels timers the constructor armed: they point at this cell
      throw;
    }
    exchange_constructing_cell(prev);
    constructed_ = true;
  }

  /// Remembers how to build the actor again, for restarts by a supervisor.
  void set_factory(std::function<void(void*)> factory) {
    factory_ = std::make_unique<std::function<void(void*)>>(std::move(factory));
  }

  [[nodiscard]] const void* actor_type_tag() const noexcept override {
    return &detail::actor_type_tag<A>;
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
  using cell::claim;
  using cell::discard_claimed;
  using cell::use_own_executor;

 protected:
  [[nodiscard]] bool has_actor() const noexcept override { return constructed_; }
  result<void> rebuild() noexcept override {
    if (!factory_) return error(errc::start_failed, "no factory to rebuild the actor");
    cell* prev = exchange_constructing_cell(this);
    try {
      (*factory_)(static_cast<void*>(storage_));
    } catch (const std::exception& ex) {
      exchange_constructing_cell(prev);
      return error(errc::start_failed, ex.what());
    } catch (...) {
      exchange_constructing_cell(prev);
      return error(errc::start_failed, "unknown exception");
    }
    exchange_constructing_cell(prev);
    constructed_ = true;
    result<void> r = start();
    if (!r) destroy_actor();
    return r;
  }
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
  std::unique_ptr<std::function<void(void*)>> factory_;  // only when supervised
};

/// Returns the actor of type A inside cell `c`.
template <class A>
A& actor_of(cell& c) noexcept {
  return static_cast<typed_cell<A>&>(c).actor();
}

}  // namespace troupe::detail
