#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "discovery_support.hpp"
#include "member_process.hpp"

// mDNS discovery between network namespaces on a bridge, made and removed by
// the test: a real mDNS client that troupe did not write (Debian's
// python3-zeroconf) finds a `troupe node --mdns` with its address, port and
// TXT, and sees its goodbye; nodes with mDNS and no seeds become one cluster.

namespace system_test {
namespace {

using namespace std::chrono_literals;

std::string skip_reason() {
  if (geteuid() != 0) return "needs root (network namespaces)";
  if (quiet("ip netns list") != 0) return "needs iproute2 (ip netns)";
  return "";
}

TEST(mdns_netns, a_real_mdns_client_finds_a_node_with_its_address_port_and_txt) {
  if (const auto why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  if (!executable("/usr/bin/python3") || quiet("/usr/bin/python3 -c 'import zeroconf'") != 0)
    GTEST_SKIP() << "needs /usr/bin/python3 with python3-zeroconf (scripts/install-deps)";
  bridged_namespaces hosts(2, "10.83.0", "md");
  ASSERT_TRUE(hosts.ok()) << "could not make the namespaces";
  member_process node("zc-node", hosts.ip(0) + ":7000", "", hosts.exec(0), {"--mdns"});
  const std::string started = node.wait_for("started", "zc-node", 10s);
  ASSERT_FALSE(started.empty()) << node.transcript();
  const std::string generation = json_field(started, "generation");
  ASSERT_FALSE(node.wait_for("mdns_started", "", 10s).empty()) << node.transcript();

  std::vector<std::string> args = hosts.exec(1);
  for (const char* a : {"/usr/bin/python3", TROUPE_ZEROCONF_BROWSE}) args.emplace_back(a);
  args.push_back(hosts.ip(1));
  args.emplace_back("20");  // seconds: the script ends by itself
  line_process browser(args);
  ASSERT_TRUE(browser.started());
  auto about = [](const std::string& event) {
    return [event](const std::string& l) {
      return json_field(l, "event") == event && json_field(l, "instance") == "zc-node";
    };
  };
  const std::string found = browser.wait_for(about("found"), 15s);
  ASSERT_FALSE(found.empty()) << "zeroconf did not find the node; it printed:\n"
                              << browser.transcript() << "the node printed:\n"
                              << node.transcript();
  EXPECT_NE(found.find("\"addresses\":[\"10.83.0.1\"]"), std::string::npos) << found;
  EXPECT_EQ(json_field(found, "port"), "7000") << found;
  EXPECT_EQ(json_field(found, "server"), "zc-node.local.") << found;
  EXPECT_EQ(json_field(found, "node"), "zc-node") << "TXT node=: " << found;
  EXPECT_EQ(json_field(found, "incarnation"), generation) << "TXT incarnation=: " << found;

  // The node's goodbye (TTL 0) reaches the client when it leaves.
  node.say("leave");
  const std::string removed = browser.wait_for(about("removed"), 10s);
  EXPECT_FALSE(removed.empty()) << "no goodbye seen; zeroconf printed:\n" << browser.transcript();
  EXPECT_EQ(node.wait_exit(10s), 0);
  browser.kill_now();
}

TEST(mdns_netns, nodes_without_seeds_find_each_other_and_become_one_cluster) {
  if (const auto why = skip_reason(); !why.empty()) GTEST_SKIP() << why;
  bridged_namespaces hosts(2, "10.85.0", "mn");
  ASSERT_TRUE(hosts.ok()) << "could not make the namespaces";
  // Two on one host (sharing port 5353 there) and one on another; no seeds,
  // so whoever joins was found by mDNS (by one side or the other).
  const std::vector<std::string> names = {"ma", "mb", "mc"};
  std::vector<std::unique_ptr<member_process>> nodes;
  nodes.push_back(std::make_unique<member_process>("ma", hosts.ip(0) + ":7000", "", hosts.exec(0),
                                                   std::vector<std::string>{"--mdns"}));
  nodes.push_back(std::make_unique<member_process>("mb", hosts.ip(0) + ":7001", "", hosts.exec(0),
                                                   std::vector<std::string>{"--mdns"}));
  nodes.push_back(std::make_unique<member_process>("mc", hosts.ip(1) + ":7000", "", hosts.exec(1),
                                                   std::vector<std::string>{"--mdns"}));
  auto report = [&] {
    std::string all;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      all += "--- " + names[i] + " printed:\n" + nodes[i]->transcript();
    return all;
  };
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (std::size_t j = 0; j < nodes.size(); ++j) {
      if (i == j) continue;
      ASSERT_FALSE(nodes[i]->wait_for("joined", names[j], 15s).empty())
          << names[i] << " did not see " << names[j] << " join\n"
          << report();
      EXPECT_FALSE(nodes[i]->wait_for("discovered", names[j], 10s).empty())
          << names[i] << " did not find " << names[j] << " by mDNS\n"
          << report();
    }
  EXPECT_FALSE(nodes[0]->wait_for("session_up", "", 10s).empty()) << report();

  // One leaves: the others see it left, and its mDNS goodbye.
  nodes[2]->say("leave");
  for (std::size_t i : {0, 1}) {
    EXPECT_FALSE(nodes[i]->wait_for("left", "mc", 10s).empty()) << report();
    EXPECT_FALSE(nodes[i]->wait_for("discovery_gone", "mc", 10s).empty()) << report();
  }
  EXPECT_EQ(nodes[2]->wait_exit(10s), 0);
  for (auto& n : nodes) n->kill_now();
}

}  // namespace
}  // namespace system_test
