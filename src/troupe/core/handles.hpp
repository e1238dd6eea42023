#pragma once

#include <type_traits>

namespace troupe {

/// Lists the message types an actor handles: `using handles = troupe::handles<a, b>;`.
template <class... Ms>
struct handles {};

namespace detail {

template <class List, class M>
struct list_contains : std::false_type {};
template <class... Ms, class M>
struct list_contains<handles<Ms...>, M> : std::bool_constant<(std::is_same_v<Ms, M> || ...)> {};

/// Never defined: naming it is how troupe reports, at compile time, that an
/// actor was sent a message it does not handle. The compiler's error names
/// the actor and the message as the two template arguments.
template <class Actor, class Message>
struct actor_does_not_handle_message;

}  // namespace detail

/// True when actor A lists message M in its `handles`.
template <class A, class M>
inline constexpr bool handles_v = detail::list_contains<typename A::handles, M>::value;

/// The reply type of message M (void when M declares none: tell only).
template <class M, class = void>
struct reply_of {
  using type = void;
};
template <class M>
struct reply_of<M, std::void_t<typename M::reply>> {
  using type = typename M::reply;
};
template <class M>
using reply_of_t = typename reply_of<M>::type;

}  // namespace troupe
