#pragma once

// A counting actor that records its hooks, shared by the lifecycle and
// termination tests.

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/actor.hpp"

namespace troupe::testing {

/// What happened to the actors of one test, in order.
struct trace {
  std::vector<std::string> events;
  int constructed = 0;
  int destroyed = 0;
  int post_stops = 0;
};

struct inc {
  static constexpr std::string_view type_name = "test.lifecycle.inc";
};
struct get {
  using reply = int;
  static constexpr std::string_view type_name = "test.lifecycle.get";
};
struct fail_now {
  using reply = int;
  static constexpr std::string_view type_name = "test.lifecycle.fail_now";
};
struct stop_via_endpoint {
  static constexpr std::string_view type_name = "test.lifecycle.stop_via_endpoint";
};
struct stop_self {
  static constexpr std::string_view type_name = "test.lifecycle.stop_self";
};

/// Counts incs and records its hooks.
class counter : public troupe::actor<counter> {
 public:
  using handles = troupe::handles<inc, get, fail_now, stop_via_endpoint, stop_self>;
  explicit counter(trace* t) : t_(t) { ++t_->constructed; }
  ~counter() { ++t_->destroyed; }

  void post_start() { t_->events.push_back("post_start"); }
  void post_stop(const exit_reason& why) {
    ++t_->post_stops;
    t_->events.push_back("post_stop " + why.to_string());
  }

  void handle(inc) { t_->events.push_back("inc " + std::to_string(++n_)); }
  int handle(get) { return n_; }
  int handle(fail_now) { throw std::runtime_error("handler gave up"); }
  void handle(stop_via_endpoint) {
    t_->events.push_back("stopping");
    self().stop();
  }
  void handle(stop_self) {
    t_->events.push_back("stopping");
    stop();
  }

 private:
  trace* t_;
  int n_ = 0;
};

}  // namespace troupe::testing
