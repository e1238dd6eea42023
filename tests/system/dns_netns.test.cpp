#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "discovery_support.hpp"
#include "member_process.hpp"

// DNS discovery against dnsmasq (Debian's) serving, on the bridge of network
// namespaces made by the test, a name with three A records (as a Kubernetes
// headless service gives) and an SRV name with four targets: troupe's
// resolver returns all of them, through its own queries to a named server
// and through the system resolver with the namespace's resolv.conf, and the
// nodes found that way become one cluster.

namespace system_test {
namespace {

using namespace std::chrono_literals;

constexpr const char* dnsmasq = "/usr/sbin/dnsmasq";

TEST(dns_netns, nodes_found_through_a_and_srv_records_become_one_cluster) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
  if (quiet("ip netns list") != 0) GTEST_SKIP() << "needs iproute2 (ip netns)";
  if (!executable(dnsmasq)) GTEST_SKIP() << "needs dnsmasq (dnsmasq-base; scripts/install-deps)";
  bridged_namespaces hosts(3, "10.84.0", "dn");
  ASSERT_TRUE(hosts.ok()) << "could not make the namespaces";
  const std::string server = hosts.bridge_ip();

  // The zone: troupe.test -> the three hosts; _troupe._tcp.troupe.test ->
  // d0..d2 on 7000, `extra` (host 2) on 7100, and `ghost`, a target without
  // an address (its A query finds nothing).
  std::vector<std::string> args = hosts.exec_bridge();
  for (const std::string& a :
       {std::string(dnsmasq), std::string("--keep-in-foreground"),
        std::string("--conf-file=/dev/null"), std::string("--no-resolv"), std::string("--no-hosts"),
        std::string("--bind-interfaces"), "--listen-address=" + server, std::string("--port=53"),
        std::string("--user=root"), std::string("--pid-file="), std::string("--log-facility=-"),
        std::string("--log-queries")})
    args.push_back(a);
  for (std::size_t i = 0; i < 3; ++i) {
    args.push_back("--host-record=troupe.test," + hosts.ip(i));
    args.push_back("--host-record=d" + std::to_string(i) + ".troupe.test," + hosts.ip(i));
    args.push_back("--srv-host=_troupe._tcp.troupe.test,d" + std::to_string(i) +
                   ".troupe.test,7000");
  }
  args.push_back("--host-record=extra.troupe.test," + hosts.ip(2));
  args.emplace_back("--srv-host=_troupe._tcp.troupe.test,extra.troupe.test,7100");
  args.emplace_back("--srv-host=_troupe._tcp.troupe.test,ghost.troupe.test,7200");
  line_process dns(args);
  ASSERT_TRUE(dns.started());
  ASSERT_FALSE(
      dns.wait_for([](const std::string& l) { return l.find("started") != std::string::npos; }, 10s)
          .empty())
      << "dnsmasq did not start:\n"
      << dns.transcript();
  // Host 2 resolves through the system resolver: its resolv.conf names dnsmasq.
  ASSERT_TRUE(hosts.set_resolv_conf(2, "nameserver " + server + "\n"));

  const std::vector<std::string> names = {"d0", "d1", "d2"};
  std::vector<std::unique_ptr<member_process>> nodes;
  nodes.push_back(std::make_unique<member_process>(
      "d0", hosts.ip(0) + ":7000", "", hosts.exec(0),
      std::vector<std::string>{"--dns", "troupe.test", "--dns-server", server}));
  nodes.push_back(std::make_unique<member_process>(
      "d1", hosts.ip(1) + ":7000", "", hosts.exec(1),
      std::vector<std::string>{"--dns-srv", "_troupe._tcp.troupe.test", "--dns-server",
                               server + ":53"}));
  nodes.push_back(std::make_unique<member_process>(
      "d2", hosts.ip(2) + ":7000", "", hosts.exec(2),
      std::vector<std::string>{"--dns", "troupe.test", "--dns-srv", "_troupe._tcp.troupe.test"}));
  auto report = [&] {
    std::string all;
    for (std::size_t i = 0; i < nodes.size(); ++i)
      all += "--- " + names[i] + " printed:\n" + nodes[i]->transcript();
    return all + "--- dnsmasq printed:\n" + dns.transcript();
  };

  const std::string a_records =
      "\"addresses\":[\"10.84.0.1:7000\",\"10.84.0.2:7000\","
      "\"10.84.0.3:7000\"]";
  const std::string srv_records =
      "\"addresses\":[\"10.84.0.1:7000\",\"10.84.0.2:7000\","
      "\"10.84.0.3:7000\",\"10.84.0.3:7100\"]";
  const std::string expected[] = {a_records, srv_records, srv_records};
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::string found = nodes[i]->wait_for("discovered", "", 10s);
    ASSERT_FALSE(found.empty()) << names[i] << " found nothing\n" << report();
    EXPECT_NE(found.find(expected[i]), std::string::npos)
        << names[i] << " found " << found << "\nnot " << expected[i];
  }
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (std::size_t j = 0; j < nodes.size(); ++j)
      if (i != j) {
        ASSERT_FALSE(nodes[i]->wait_for("joined", names[j], 15s).empty())
            << names[i] << " did not see " << names[j] << " join\n"
            << report();
      }
  for (auto& n : nodes) n->kill_now();
  dns.kill_now();
}

}  // namespace
}  // namespace system_test
