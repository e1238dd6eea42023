#pragma once

#include <atomic>
#include <coroutine>
#include <optional>
#include <type_traits>
#include <typeinfo>

#include "troupe/core/actor_handle.hpp"
#include "troupe/core/clock.hpp"
#include "troupe/core/envelope.hpp"
#include "troupe/core/ref_counted.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system_core.hpp"

namespace troupe {

class cell;
cell* current_cell() noexcept;

namespace detail {

actor_handle* handle_of(cell* c) noexcept;

/// The shared state of one ask: claimed once by whoever completes it (the
/// replying handler, the deadline, or a rejection), then handed to one waiter
/// (a blocked thread or a suspended coroutine).
class reply_base : public ref_counted, public envelope, public timer_node {
 public:
  /// Returns true once a result is available.
  [[nodiscard]] bool done() const noexcept {
    return wait_.load(std::memory_order_acquire) == w_done;
  }

  /// Returns the ask's deadline (set by arm_deadline).
  [[nodiscard]] time_point deadline() const noexcept { return due; }
  /// Returns the type of the reply value (void for asks without a reply).
  [[nodiscard]] virtual const std::type_info& reply_type() const noexcept = 0;
  /// Completes the ask with a reply value of reply_type(), moved from
  /// `*value` (ignored for void); false when the ask had already ended.
  /// For handles that receive replies type-erased (from another node).
  virtual bool complete_erased(void* value) noexcept = 0;
  /// Completes the ask with an error; false when it had already ended.
  virtual bool complete_error(error e) noexcept = 0;

  /// Arms the deadline on `c`; when it passes the ask ends with timeout.
  void arm_deadline(clock& c, time_point deadline) {
    clock_ = &c;
    due = deadline;
    add_ref();  // held by the clock while armed
    c.arm(*this);
  }

  /// Blocks the calling thread until done().
  void wait_blocking() noexcept {
    std::uint8_t s = w_none;
    if (!wait_.compare_exchange_strong(s, w_thread, std::memory_order_acq_rel)) return;
    while (wait_.load(std::memory_order_acquire) != w_done) wait_.wait(w_thread);
  }

  /// Registers coroutine `h` to resume when done; false when already done (do
  /// not suspend). Inside an actor, `h` resumes in that actor's turn; outside,
  /// on the completing thread.
  bool await_suspend_on(std::coroutine_handle<> h) noexcept {
    handle_ = h;
    if (cell* c = current_cell()) waiter_cell_ = ref_ptr<actor_handle>(handle_of(c));
    std::uint8_t s = w_none;
    return wait_.compare_exchange_strong(s, w_coro, std::memory_order_acq_rel);
  }

  /// What a completion callback receives: the completed ask (take its
  /// result with reply_state<R>::take()) and the context it was given.
  using completion_fn = void (*)(reply_base& done, void* context) noexcept;

  /// Calls `fn(*this, context)` once the ask completes, on the completing
  /// thread (at once, on this thread, when it already has). For replies that
  /// go somewhere other than a waiting thread or coroutine: the answer to an
  /// ask from another node is encoded and sent this way. One waiter per ask:
  /// not together with get() or co_await.
  void on_complete(completion_fn fn, void* context) noexcept {
    callback_ = fn;
    callback_context_ = context;
    std::uint8_t s = w_none;
    if (!wait_.compare_exchange_strong(s, w_callback, std::memory_order_acq_rel)) {
      fn(*this, context);  // already done
    }
  }

  // The reply_state doubles as the resumption message of its awaiting actor.
  void deliver(cell&) override { handle_.resume(); }
  void reject(errc) noexcept override {}
  void dispose() noexcept override { release(); }

  // The reply_state doubles as its own deadline timer.
  void fire() noexcept override {
    on_deadline();
    release();
  }

 protected:
  virtual void on_deadline() noexcept = 0;

  bool claim() noexcept { return !claimed_.exchange(true, std::memory_order_acq_rel); }

  /// Makes the stored result visible and wakes the waiter.
  void publish() noexcept {
    if (clock_ != nullptr && clock_->cancel(*this)) release();
    std::uint8_t prev = wait_.exchange(w_done, std::memory_order_acq_rel);
    if (prev == w_thread) {
      wait_.notify_all();
    } else if (prev == w_callback) {
      callback_(*this, callback_context_);
    } else if (prev == w_coro) {
      if (waiter_cell_) {
        add_ref();
        auto target = std::move(waiter_cell_);
        target->enqueue_system(this);
      } else {
        handle_.resume();
      }
    }
  }

 private:
  enum : std::uint8_t { w_none, w_thread, w_coro, w_callback, w_done };
  std::atomic<std::uint8_t> wait_{w_none};
  std::atomic<bool> claimed_{false};
  clock* clock_ = nullptr;
  ref_ptr<actor_handle> waiter_cell_;
  std::coroutine_handle<> handle_;
  completion_fn callback_ = nullptr;
  void* callback_context_ = nullptr;
};

/// The typed state of an ask whose reply has type R.
template <class R>
class reply_state final : public reply_base {
 public:
  /// Completes the ask once; later calls return false and change nothing.
  bool complete(result<R> v) noexcept {
    if (!claim()) return false;
    value_.emplace(std::move(v));
    publish();
    return true;
  }
  /// Moves the result out; only after done().
  result<R> take() noexcept { return std::move(*value_); }

  [[nodiscard]] const std::type_info& reply_type() const noexcept override { return typeid(R); }
  bool complete_erased(void* value) noexcept override {
    if constexpr (std::is_void_v<R>) {
      (void)value;
      return complete(result<void>{});
    } else {
      return complete(result<R>(std::move(*static_cast<R*>(value))));
    }
  }
  bool complete_error(error e) noexcept override { return complete(std::move(e)); }

 private:
  void on_deadline() noexcept override { complete(errc::timeout); }
  std::optional<result<R>> value_;
};

bool drive_done(void* state) noexcept;

}  // namespace detail

/// The pending reply of an ask. Every response ends: with the handler's reply
/// or with a typed error (timeout, actor_not_found, mailbox_full,
/// handler_failed, ...).
///
/// Use it once: get() from a plain thread, or `co_await` inside a handler
/// coroutine (the coroutine resumes in its own actor's turn). A response is
/// not thread-safe; the ask behind it is.
template <class R>
class [[nodiscard]] response {
 public:
  response(ref_ptr<detail::reply_state<R>> st, system_core* core)
      : st_(std::move(st)), core_(core) {}

  /// Returns true once the reply (or error) is available.
  [[nodiscard]] bool ready() const noexcept { return st_->done(); }

  /// Waits for the outcome and returns it. On a real executor the thread
  /// blocks; on a deterministic executor the call runs it (and its clock)
  /// until the outcome is known. Do not call from inside an actor: use
  /// co_await there.
  result<R> get() {
    if (!st_->done()) {
      if (core_ == nullptr ||
          !core_->exec().drive_until(&detail::drive_done,
                                     static_cast<detail::reply_base*>(st_.get()))) {
        st_->wait_blocking();
      }
    }
    if (!st_->done()) return error(errc::timeout, "the executor stopped before the reply came");
    return st_->take();
  }

  struct awaiter {
    ref_ptr<detail::reply_state<R>> st;
    bool await_ready() const noexcept { return st->done(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept { return st->await_suspend_on(h); }
    result<R> await_resume() noexcept { return st->take(); }
  };
  /// Suspends the calling coroutine until the outcome is known.
  awaiter operator co_await() && noexcept { return awaiter{std::move(st_)}; }
  awaiter operator co_await() & noexcept { return awaiter{st_}; }

 private:
  ref_ptr<detail::reply_state<R>> st_;
  system_core* core_;
};

}  // namespace troupe
