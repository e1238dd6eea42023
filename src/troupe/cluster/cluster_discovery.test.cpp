#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/cluster/host_port.hpp"
#include "troupe/cluster/testing/fake_dns.hpp"
#include "troupe/core/random.hpp"
#include "troupe/net/tcp_transport.hpp"
#include "troupe/net/testing/test_actors.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

// cluster_config::discovery: cluster::start refuses bad settings before
// anything runs, and a member with only an SRV name (answered by a scripted
// DNS server on 127.0.0.1) finds and joins another on loopback, with real
// sockets and threads; leave() and stop() end the lookups.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;

TEST(cluster_discovery, start_refuses_bad_discovery_settings_and_leaves_nothing_running) {
  sim::runtime rt;
  sim::network net(rt);
  system sys(rt.config());
  net::node_config cfg;
  cfg.name = "d0";
  cfg.listen = "d0:7000";
  cfg.cookie = "cluster-secret";
  cfg.log = [](std::string_view) {};
  auto host = net.host("d0");
  auto nd = net::node::start(sys, cfg, net::node_testing::test_types(), host);
  ASSERT_TRUE(nd) << nd.error().message();
  std::vector<cluster_config> bad(5);
  bad[0].discovery.dns_names = {"troupe.test"};
  bad[0].discovery.dns_server = "127.0.0.1";
  bad[0].discovery.refresh = 0s;
  bad[1].discovery.dns_server = "127.0.0.1";  // and no names
  bad[2].discovery.srv_names = {"a..b"};
  bad[2].discovery.dns_server = "127.0.0.1";
  bad[3].discovery.mdns = true;
  bad[3].discovery.mdns_options.instance = "someone-else";
  bad[4].discovery.dns_names = {"troupe.test"};
  bad[4].discovery.dns_server = "not an address";
  const errc expected[] = {errc::invalid_argument, errc::invalid_argument, errc::invalid_name,
                           errc::invalid_argument, errc::invalid_argument};
  for (std::size_t i = 0; i < bad.size(); ++i) {
    auto c = cluster::start(rt.clock(), rt.random(), *host, **nd, bad[i]);
    ASSERT_FALSE(c) << "config " << i;
    EXPECT_EQ(c.error().code(), expected[i]) << "config " << i << ": " << c.error().message();
    EXPECT_EQ(c.error().detail().rfind("discovery: ", 0), 0u) << c.error().detail();
  }
  // Nothing was left bound: a member starts on the same address.
  auto good = cluster::start(rt.clock(), rt.random(), *host, **nd, {});
  ASSERT_TRUE(good) << good.error().message();
  (*good)->stop();
  (*nd)->stop();
  sys.shutdown(1s);
}

// A node on 127.0.0.1 (port picked by the kernel) that is a cluster member.
struct real_member {
  real_member(const std::string& name, cluster_config cc) {
    net::node_config nc;
    nc.name = name;
    nc.listen = "127.0.0.1:0";
    nc.cookie = "cluster-secret";
    nc.log = [](std::string_view) {};
    // Membership binds UDP on the node's TCP port, which may be taken.
    for (int attempt = 0; attempt < 8 && !member; ++attempt) {
      auto n = net::node::start(sys, nc, net::node_testing::test_types());
      if (!n) continue;
      auto c = cluster::start(sys.time(), random, **udp, **n, cc);
      if (!c) {
        why = c.error().message();
        (*n)->stop();
        continue;
      }
      node = std::move(*n);
      member = std::move(*c);
    }
  }
  ~real_member() {
    if (member) member->stop();
    if (node) node->stop();
    (*udp)->stop();
    sys.shutdown(2s);
  }
  [[nodiscard]] bool sees_alive(const real_member& other) const {
    auto m = member->members().find(member_key{other.node->name(), other.node->incarnation()});
    return m && m->state == member_state::alive;
  }
  system sys;
  system_random random;
  result<std::unique_ptr<net::tcp_transport>> udp = net::tcp_transport::make({});
  std::unique_ptr<net::node> node;
  std::unique_ptr<cluster> member;
  std::string why;
};

template <class Pred>
bool within(std::chrono::milliseconds limit, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(cluster_discovery, a_member_finds_another_through_an_srv_name_and_leave_ends_the_lookups) {
  cluster_config plain;
  plain.swim = swim_config::local();
  real_member a("da", plain);
  ASSERT_TRUE(a.member) << a.why;
  const std::uint16_t a_port = parse_host_port(a.node->address()).value().port;
  // _troupe._tcp.troupe.test -> da.troupe.test (127.0.0.1) at a's port.
  testing::fake_dns dns([a_port](const dns_message& q) {
    const std::string n = q.questions.at(0).name.to_string();
    if (q.questions[0].type == dns_type::srv && n == "_troupe._tcp.troupe.test")
      return std::vector<std::vector<std::byte>>{
          testing::reply(q, {testing::srv_record(n, "da.troupe.test", a_port)},
                         {testing::a_record("da.troupe.test", 0x7F000001)})};
    return std::vector<std::vector<std::byte>>{testing::reply(q, {}, {}, 3)};
  });

  std::mutex mu;
  std::vector<discovery_event> events;
  cluster_config found = plain;  // no seeds
  found.discovery.srv_names = {"_troupe._tcp.troupe.test"};
  found.discovery.dns_server = dns.address();
  found.discovery.refresh = 50ms;
  found.discovery.on_event = [&](const discovery_event& e) {
    std::lock_guard lock(mu);
    events.push_back(e);
  };
  real_member b("db", found);
  ASSERT_TRUE(b.member) << b.why;
  EXPECT_TRUE(within(10s, [&] { return a.sees_alive(b) && b.sees_alive(a); }))
      << "db did not join da through the SRV name";
  {
    std::lock_guard lock(mu);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events[0].what, discovery_event::kind::found);
    EXPECT_EQ(events[0].source, discovery_source::dns);
    EXPECT_EQ(events[0].addresses, std::vector<std::string>{a.node->address()});
  }
  ASSERT_TRUE(within(5s, [&] { return dns.queries() >= 3; })) << "looked up every refresh";

  b.member->leave();
  const int queries = dns.queries();
  std::this_thread::sleep_for(200ms);  // four refresh periods: no lookup may run
  EXPECT_EQ(dns.queries(), queries) << "discovery runs after leave()";
  b.member->stop();  // stops it again: nothing
}

}  // namespace
}  // namespace troupe::cluster
