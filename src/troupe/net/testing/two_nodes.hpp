#pragma once

// The two-node fixture shared by the node tests (node.test.cpp,
// node_resources.test.cpp, ...): two nodes on one simulated network, with
// the actors of test_actors.hpp.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/core/receptionist.hpp"
#include "troupe/net/node.hpp"
#include "troupe/net/testing/test_actors.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::net::node_testing {

using namespace std::chrono_literals;

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
