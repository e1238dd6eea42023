#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "troupe/core/actor_handle.hpp"
#include "troupe/core/response.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/typed_cell.hpp"

namespace troupe {

/// One member's successful reply to a fanned-out ask.
template <class R>
struct member_reply {
  actor_id from = 0;
  R value;
};
template <>
struct member_reply<void> {
  actor_id from = 0;
};

/// One member's failed ask (timeout, actor_not_found, handler_failed, ...).
struct member_error {
  actor_id from = 0;
  troupe::error error;
};

/// What scatter_gather collected: the replies that came before the deadline
/// (in arrival order) and the members that failed or did not answer in time
/// (with errc::timeout).
template <class R>
struct gathered {
  std::vector<member_reply<R>> replies;
  std::vector<member_error> failures;
  std::size_t asked = 0;  ///< how many members were asked

  /// Returns true when every member asked replied.
  [[nodiscard]] bool complete() const noexcept { return replies.size() == asked; }
};

namespace detail {

/// A coroutine that starts at once and frees itself when it ends.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

/// Awaits a response as if outside any actor: the awaiting coroutine resumes
/// on the thread that completes the reply (the replying actor's, or the
/// clock's on a deadline), even when it was started inside an actor's turn.
template <class R>
struct outside_cell_awaiter {
  typename response<R>::awaiter inner;
  bool await_ready() const noexcept { return inner.await_ready(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    cell* prev = exchange_current_cell(nullptr);
    const bool suspended = inner.await_suspend(h);
    exchange_current_cell(prev);
    return suspended;
  }
  result<R> await_resume() noexcept { return inner.await_resume(); }
};

/// Calls `sink->on_reply(from, outcome)` when `r` ends, on the thread that
/// ends it (at once, on this thread, when it already has).
template <class R, class Sink>
detached forward_reply(response<R> r, actor_id from, ref_ptr<Sink> sink) {
  outside_cell_awaiter<R> aw{std::move(r).operator co_await()};
  result<R> outcome = co_await aw;
  sink->on_reply(from, std::move(outcome));
}

/// Returns a response that has already ended with `e`.
template <class R>
response<R> failed_response(troupe::error e) {
  auto st = make_ref<reply_state<R>>();
  st->complete(std::move(e));
  return response<R>(std::move(st), nullptr);
}

/// Counts the outcomes of a fan-out and says when it is decided. Not
/// synchronized: the fan_in that owns it locks around it.
class fan_in_count {
 public:
  enum class mode : std::uint8_t { quorum, scatter, first };
  enum class verdict : std::uint8_t { pending, succeed, fail };

  fan_in_count(mode m, std::size_t asked, std::size_t needed) noexcept
      : mode_(m), asked_(asked), needed_(needed) {}

  /// Counts one outcome; returns the decision it leads to (once: later
  /// outcomes return pending and must be ignored, see decided()).
  verdict count(bool ok) noexcept;
  [[nodiscard]] bool decided() const noexcept { return decided_; }
  /// Describes a failed quorum or an all-failed first_response.
  [[nodiscard]] troupe::error failure(const troupe::error& last) const;

 private:
  mode mode_;
  std::size_t asked_;
  std::size_t needed_;
  std::size_t ok_ = 0;
  std::size_t failed_ = 0;
  bool decided_ = false;
};

/// Moves the decided outcome out of `g`: all of it (scatter), the replies
/// (quorum) or the first reply's value (first).
template <class R, class Out>
Out take_outcome(gathered<R>& g) {
  if constexpr (std::is_same_v<Out, gathered<R>>) {
    return std::move(g);
  } else if constexpr (std::is_same_v<Out, std::vector<member_reply<R>>>) {
    return std::move(g.replies);
  } else {
    return std::move(g.replies.front().value);
  }
}

/// Collects the outcomes of one fan-out and ends `out` once they decide it:
/// quorum (Out = vector of replies), scatter (Out = gathered<R>) or first
/// (Out = R).
///
/// Thread safety: on_reply() may be called from any thread.
template <class R, class Out>
class fan_in final : public ref_counted {
 public:
  fan_in(fan_in_count::mode m, std::size_t asked, std::size_t needed, ref_ptr<reply_state<Out>> out)
      : mode_(m), count_(m, asked, needed), out_(std::move(out)) {
    acc_.asked = asked;
  }

  void on_reply(actor_id from, result<R> v) noexcept {
    std::unique_lock lock(mu_);
    if (count_.decided()) return;
    bool ok = v.has_value();
    try {
      if (ok) {
        if constexpr (std::is_void_v<R>) {
          acc_.replies.push_back(member_reply<void>{from});
        } else {
          acc_.replies.push_back(member_reply<R>{from, std::move(v).value()});
        }
      } else {
        last_error_ = v.error();
        if (mode_ == fan_in_count::mode::scatter) acc_.failures.push_back({from, v.error()});
      }
    } catch (...) {  // out of memory: count it as a failure
      ok = false;
    }
    switch (count_.count(ok)) {
      case fan_in_count::verdict::pending:
        return;
      case fan_in_count::verdict::succeed: {
        if constexpr (std::is_void_v<Out>) {
          lock.unlock();
          out_->complete(result<void>{});
        } else {
          Out o = take_outcome<R, Out>(acc_);
          lock.unlock();
          out_->complete(std::move(o));
        }
        return;
      }
      case fan_in_count::verdict::fail: {
        troupe::error e = count_.failure(last_error_);
        lock.unlock();
        out_->complete(std::move(e));
        return;
      }
    }
  }

 private:
  std::mutex mu_;
  fan_in_count::mode mode_;
  fan_in_count count_;                        // guarded by mu_
  gathered<R> acc_;                           // guarded by mu_
  troupe::error last_error_{errc::no_route};  // guarded by mu_
  ref_ptr<reply_state<Out>> out_;
};

}  // namespace detail
}  // namespace troupe
