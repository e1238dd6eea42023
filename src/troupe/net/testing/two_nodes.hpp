#pragma once

// The actors and the two-node fixture shared by the node tests
// (node.test.cpp, node_resources.test.cpp): two nodes on one simulated
// network.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/core/receptionist.hpp"
#include "troupe/net/node.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

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
  EXPECT_TRUE((t.add_spawnable<counter, int>()));
  EXPECT_TRUE(t.add<forwarder>());
  return t;
}

// Two nodes, "a" and "b", on one simulated network; a connects to b. A
// derived fixture may set `tweak` before SetUp() to change both configs.
class two_nodes : public ::testing::Test {
 protected:
  void SetUp() override {
    sys_a = std::make_unique<system>(rt.config());
    sys_b = std::make_unique<system>(rt.config());
    node_b = start_node(*sys_b, "b", "secret");
    node_a = start_node(*sys_a, "a", "secret");
  }
  void TearDown() override {
    node_a.reset();
    node_b.reset();
    sys_a->shutdown(1s);
    sys_b->shutdown(1s);
  }

  std::unique_ptr<node> start_node(system& sys, const std::string& name, std::string cookie,
                                   std::uint64_t incarnation = 0) {
    node_config cfg;
    cfg.name = name;
    cfg.listen = name + ":7000";
    cfg.cookie = std::move(cookie);
    cfg.incarnation = incarnation;
    if (tweak) tweak(cfg);
    cfg.log = [this, name](std::string_view line) {
      logs.push_back(name + ": " + std::string(line));
    };
    auto n = node::start(sys, cfg, test_types(), net.host(name));
    EXPECT_TRUE(n) << (n ? "" : n.error().message());
    return n ? std::move(*n) : nullptr;
  }

  void connect() {
    auto r = node_a->connect("b:7000").get();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*r, "b");
  }

  endpoint<counter> spawn_counter_on_b(const std::string& label,
                                       visibility vis = visibility::public_) {
    auto c = sys_b->spawn<counter>();
    EXPECT_TRUE(c);
    EXPECT_TRUE(sys_b->receptionist().check_in(label, *c, vis));
    return *c;
  }

  sim::runtime rt{7};
  sim::network net{rt};
  std::unique_ptr<system> sys_a, sys_b;
  std::unique_ptr<node> node_a, node_b;
  std::vector<std::string> logs;
  std::function<void(node_config&)> tweak;
};

}  // namespace troupe::net::node_testing
