#pragma once

// Small actors shared by the discovery tests (registry, receptionist,
// process groups).

#include <stdexcept>
#include <string_view>

#include "troupe/core/actor.hpp"

namespace troupe::testing {

struct crash {
  static constexpr std::string_view type_name = "test.crash";
};
struct quit {
  static constexpr std::string_view type_name = "test.quit";
};
struct ping {
  using reply = int;
  static constexpr std::string_view type_name = "test.ping";
};

/// Crashes, quits or answers 1 on request.
class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<crash, quit, ping>;
  void handle(crash) { throw std::runtime_error("crashed"); }
  void handle(quit) { stop(); }
  int handle(ping) { return 1; }
};

/// Answers 2: an actor of another type.
class other : public troupe::actor<other> {
 public:
  using handles = troupe::handles<ping>;
  int handle(ping) { return 2; }
};

}  // namespace troupe::testing
