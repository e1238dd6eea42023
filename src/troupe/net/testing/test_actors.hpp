#pragma once

// The actors the node and cluster tests (and the cluster benchmarks) use on
// simulated nodes, and the remote_types that serve them.

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/task.hpp"
#include "troupe/net/remote_types.hpp"

namespace troupe::net::node_testing {

using namespace std::chrono_literals;

struct add {
  static constexpr std::string_view type_name = "test.add";
  int n = 0;
};
struct total {
  using reply = std::vector<int>;
  static constexpr std::string_view type_name = "test.total";
};
struct echo {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.echo";
  std::string text;
};
struct nap {
  using reply = int;
  static constexpr std::string_view type_name = "test.nap";
  int ms = 0;
};
struct fail_now {
  using reply = int;
  static constexpr std::string_view type_name = "test.fail_now";
};
/// A tell with a payload of any size; the counter records its seq.
struct blob {
  static constexpr std::string_view type_name = "test.blob";
  int seq = 0;
  std::string bytes;
};

class counter : public actor<counter> {
 public:
  static constexpr std::string_view type_name = "test.counter";
  using handles = troupe::handles<add, total, echo, nap, fail_now, blob>;
  counter() = default;
  explicit counter(int start) { seen_.push_back(start); }
  void handle(const add& m) { seen_.push_back(m.n); }
  void handle(const blob& m) { seen_.push_back(m.seq); }
  std::vector<int> handle(const total&) { return seen_; }
  std::string handle(const echo& m) { return "echo: " + m.text; }
  int handle(const fail_now&) { throw std::runtime_error("asked to fail"); }
  task<int> handle(nap m) {
    co_await sleep_for(std::chrono::milliseconds(m.ms));
    co_return m.ms;
  }

 private:
  std::vector<int> seen_;
};

// Receives an endpoint inside a message and uses it.
struct introduce {
  using reply = int;
  static constexpr std::string_view type_name = "test.introduce";
  endpoint<counter> target;
  int n = 0;
};

class forwarder : public actor<forwarder> {
 public:
  static constexpr std::string_view type_name = "test.forwarder";
  using handles = troupe::handles<introduce>;
  int handle(const introduce& m) {
    for (int i = 0; i < m.n; ++i) (void)m.target.tell(add{i});
    return m.n;
  }
};

inline remote_types test_types() {
  remote_types t;
  if (!t.add_spawnable<counter, int>() || !t.add<forwarder>())
    throw std::logic_error("the test actor types do not register");
  return t;
}

}  // namespace troupe::net::node_testing
