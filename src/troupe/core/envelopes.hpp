#pragma once

#include <exception>
#include <type_traits>
#include <utility>

#include "troupe/core/handles.hpp"
#include "troupe/core/response.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/typed_cell.hpp"

namespace troupe::detail {

/// Calls A's handler for M and returns what it returns.
template <class A, class M>
decltype(auto) invoke_handler(A& a, M& m) {
  return a.handle(std::move(m));
}

template <class A, class M>
using handler_result_t = decltype(std::declval<A&>().handle(std::declval<M&&>()));

/// Hands a tell's message to A's handler: a handler coroutine is started
/// and then owns `e` (the envelope holding `m`), a plain handler just runs.
template <class A, class M>
void deliver_tell(cell& c, M& m, envelope* e) {
  using ret = handler_result_t<A, M>;
  if constexpr (is_task<ret>::value) {
    auto h = invoke_handler(actor_of<A>(c), m).release();
    c.start_task(h, h.promise(), e);
  } else {
    (void)invoke_handler(actor_of<A>(c), m);
  }
}

/// A tell: a message with no reply.
template <class A, class M>
class tell_envelope final : public envelope {
 public:
  template <class T>
  explicit tell_envelope(T&& m) : msg_(std::forward<T>(m)) {}

  void deliver(cell& c) override { deliver_tell<A>(c, msg_, this); }
  void reject(errc) noexcept override {}
  [[nodiscard]] bool is_tell() const noexcept override { return true; }
  [[nodiscard]] const void* message() const noexcept override { return &msg_; }
  [[nodiscard]] const std::type_info* message_type() const noexcept override { return &typeid(M); }

 private:
  M msg_;
};

/// An ask: a message plus the state its reply completes.
template <class A, class M>
class ask_envelope final : public envelope {
 public:
  using reply_type = reply_of_t<M>;

  template <class T>
  ask_envelope(T&& m, ref_ptr<reply_state<reply_type>> r)
      : msg_(std::forward<T>(m)), reply_(std::move(r)) {}

  void deliver(cell& c) override {
    using ret = handler_result_t<A, M>;
    A& a = actor_of<A>(c);
    if constexpr (is_task<ret>::value) {
      static_assert(std::is_same_v<typename is_task<ret>::value_type, reply_type>,
                    "troupe: a handler coroutine must return task<M::reply>");
      auto h = invoke_handler(a, msg_).release();
      h.promise().reply = std::move(reply_);
      h.promise().complete = &ret::promise_type::complete_reply;
      c.start_task(h, h.promise(), this);
    } else {
      try {
        if constexpr (std::is_void_v<reply_type>) {
          invoke_handler(a, msg_);
          reply_->complete(result<void>{});
        } else {
          reply_->complete(result<reply_type>(invoke_handler(a, msg_)));
        }
      } catch (...) {
        reply_->complete(error(errc::handler_failed, exception_text(std::current_exception())));
        throw;
      }
    }
  }
  void reject(errc why) noexcept override { reply_->complete(why); }
  [[nodiscard]] const void* message() const noexcept override { return &msg_; }
  [[nodiscard]] const std::type_info* message_type() const noexcept override { return &typeid(M); }
  [[nodiscard]] reply_base* reply() const noexcept override { return reply_.get(); }

 private:
  M msg_;
  ref_ptr<reply_state<reply_type>> reply_;
};

}  // namespace troupe::detail
