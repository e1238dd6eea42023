#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "troupe/core/response.hpp"
#include "troupe/core/result.hpp"

namespace troupe {

class cell;

namespace detail {

/// The untyped part of a task's promise. For a handler coroutine the cell
/// owns (a "top-level" task), `owner` is set and `complete` hands its outcome
/// to the ask that started it.
struct task_promise_base {
  std::coroutine_handle<> continuation{};
  std::exception_ptr exception{};
  cell* owner = nullptr;
  // Hands the outcome to the ask; `abandoned` is null on completion, else
  // the error the ask ends with.
  void (*complete)(task_promise_base&, const errc* abandoned) noexcept = nullptr;
  std::coroutine_handle<> self{};
  envelope* keep = nullptr;  // the message the handler was called with

  /// Ends a suspended top-level task without resuming it (its actor died or
  /// failed): its ask ends with `why`, then the frame is destroyed.
  void abandon(errc why) noexcept;
};

std::string exception_text(const std::exception_ptr& e);
void finish_top_level(task_promise_base& p) noexcept;

struct final_awaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    task_promise_base& p = h.promise();
    if (p.continuation) return p.continuation;
    if (p.owner != nullptr) finish_top_level(p);  // destroys the frame
    return std::noop_coroutine();
  }
  void await_resume() const noexcept {}
};

template <class R>
struct task_value {
  std::optional<R> value;
  template <class V>
  void return_value(V&& v) {
    value.emplace(std::forward<V>(v));
  }
  R take() { return std::move(*value); }
};

template <>
struct task_value<void> {
  void return_void() noexcept {}
  void take() noexcept {}
};

}  // namespace detail

/// The return type of a handler (or helper) coroutine that produces an R.
///
/// A handler returning task<R> may `co_await` asks to other actors, timers
/// (`sleep_for`) and other tasks. It starts when its message is handled and
/// runs only inside its actor's turns. Unless the actor opts into reentrancy,
/// no other user message is handled while it is suspended (system messages
/// still are); kill() destroys it without resuming it.
template <class R = void>
class [[nodiscard]] task {
 public:
  struct promise_type : detail::task_promise_base, detail::task_value<R> {
    ref_ptr<detail::reply_state<R>> reply;

    task get_return_object() noexcept {
      auto h = std::coroutine_handle<promise_type>::from_promise(*this);
      self = h;
      return task(h);
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    detail::final_awaiter final_suspend() const noexcept { return {}; }
    void unhandled_exception() noexcept { exception = std::current_exception(); }

    static void complete_reply(detail::task_promise_base& base, const errc* abandoned) noexcept {
      auto& p = static_cast<promise_type&>(base);
      if (!p.reply) return;
      if (abandoned != nullptr) {
        p.reply->complete(*abandoned);
      } else if (p.exception) {
        p.reply->complete(error(errc::handler_failed, detail::exception_text(p.exception)));
      } else if constexpr (std::is_void_v<R>) {
        p.reply->complete(result<void>{});
      } else {
        p.reply->complete(p.take());
      }
    }
  };
  using handle_type = std::coroutine_handle<promise_type>;

  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~task() {
    if (h_) h_.destroy();
  }

  /// Gives up ownership of the coroutine (the cell takes it).
  handle_type release() noexcept { return std::exchange(h_, {}); }

  // Awaiting a task from another task runs it to completion first.
  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> caller) noexcept {
    h_.promise().continuation = caller;
    return h_;
  }
  R await_resume() {
    auto& p = h_.promise();
    if (p.exception) std::rethrow_exception(p.exception);
    return p.take();
  }

 private:
  explicit task(handle_type h) noexcept : h_(h) {}
  handle_type h_;
};

template <class T>
struct is_task : std::false_type {};
template <class R>
struct is_task<task<R>> : std::true_type {
  using value_type = R;
};

}  // namespace troupe
