// Actors shared by the multi-process remoting tests and their peer program.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "troupe/net/remote_types.hpp"
#include "troupe/troupe.hpp"

namespace remote_test {

struct add {
  static constexpr std::string_view type_name = "remote_test.add";
  int n = 0;
};
struct sum {
  using reply = long;
  static constexpr std::string_view type_name = "remote_test.sum";
};
struct whoami {
  using reply = std::string;
  static constexpr std::string_view type_name = "remote_test.whoami";
};
/// Answers after `ms` milliseconds (blocks its worker: a slow handler).
struct slow {
  using reply = int;
  static constexpr std::string_view type_name = "remote_test.slow";
  int ms = 0;
};

class counter : public troupe::actor<counter> {
 public:
  static constexpr std::string_view type_name = "remote_test.counter";
  using handles = troupe::handles<add, sum, whoami, slow>;
  explicit counter(std::string owner = {}) : owner_(std::move(owner)) {}
  void handle(const add& m) { total_ += m.n; }
  long handle(const sum&) const { return total_; }
  std::string handle(const whoami&) const { return owner_; }
  int handle(const slow& m) {
    std::this_thread::sleep_for(std::chrono::milliseconds(m.ms));
    return m.ms;
  }

 private:
  std::string owner_;
  long total_ = 0;
};

inline troupe::net::remote_types types() {
  troupe::net::remote_types t;
  (void)t.add_spawnable<counter, std::string>();
  return t;
}

}  // namespace remote_test
