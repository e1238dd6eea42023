#pragma once

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "troupe/core/error.hpp"

namespace troupe {

/// Thrown only by result<T>::value() on a result that holds an error; never
/// thrown across an actor boundary by troupe itself.
class bad_result_access : public std::runtime_error {
 public:
  explicit bad_result_access(troupe::error e)
      : std::runtime_error(e.message()), error_(std::move(e)) {}
  /// Returns the error the result held.
  [[nodiscard]] const troupe::error& error() const noexcept { return error_; }

 private:
  troupe::error error_;
};

/// Holds either a value of type T or an error (an `expected`-style result).
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;

  result(T v) : v_(std::in_place_index<0>, std::move(v)) {}              // NOLINT
  result(troupe::error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT
  result(errc e) : v_(std::in_place_index<1>, troupe::error(e)) {}       // NOLINT

  /// Returns true when a value is held.
  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// Returns the value; throws bad_result_access when an error is held.
  T& value() & {
    check();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check();
    return std::get<0>(v_);
  }
  /// On an rvalue result, moves the value out (returns it by value, so that
  /// `for (auto& x : f().value())` never dangles).
  T value() && {
    check();
    return std::get<0>(std::move(v_));
  }
  /// Returns the value or `fallback` when an error is held.
  T value_or(T fallback) const& { return has_value() ? std::get<0>(v_) : std::move(fallback); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Returns the error; only valid when !has_value().
  [[nodiscard]] const troupe::error& error() const& { return std::get<1>(v_); }

 private:
  void check() const {
    if (!has_value()) throw bad_result_access(std::get<1>(v_));
  }
  std::variant<T, troupe::error> v_;
};

/// Holds success or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;

  result() = default;
  result(troupe::error e) : err_(std::move(e)), ok_(false) {}  // NOLINT
  result(errc e) : err_(e), ok_(false) {}                      // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  /// Throws bad_result_access when an error is held.
  void value() const {
    if (!ok_) throw bad_result_access(err_);
  }
  [[nodiscard]] const troupe::error& error() const& { return err_; }

 private:
  troupe::error err_;
  bool ok_ = true;
};

template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};

}  // namespace troupe
