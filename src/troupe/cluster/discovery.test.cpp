#include "troupe/cluster/discovery.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "troupe/cluster/testing/fake_dns.hpp"

// discovery, the part of cluster_config that finds members while running:
// its checks, DNS names against a scripted DNS server on 127.0.0.1 (what is
// found is joined after every lookup and told once per change), and an mDNS
// that cannot start. mDNS itself runs in the network namespaces of the
// system tests (tests/system/mdns_netns.test.cpp), never on this machine's
// network.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::a_record;
using testing::fake_dns;
using testing::reply;
using testing::srv_record;

constexpr const char* self_address = "127.0.0.1:7000";

// What a running discovery did: its joins and its events.
struct recorder {
  std::mutex mu;
  std::vector<std::vector<std::string>> joins;
  std::vector<discovery_event> events;
  result<void> refuse;  // what join returns
  discovery::join_fn join() {
    return [this](const std::vector<std::string>& a) {
      std::lock_guard lock(mu);
      joins.push_back(a);
      return refuse;
    };
  }
  std::function<void(const discovery_event&)> on_event() {
    return [this](const discovery_event& e) {
      std::lock_guard lock(mu);
      events.push_back(e);
    };
  }
  std::size_t join_count() {
    std::lock_guard lock(mu);
    return joins.size();
  }
  std::vector<discovery_event> told() {
    std::lock_guard lock(mu);
    return events;
  }
};

// Waits (at most 5 s) for `pred`.
template <class Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(discovery, check_refuses_bad_settings_with_typed_errors) {
  // The error's code (timeout, which check() never returns, when it passed).
  const auto code = [](const discovery_config& c) {
    auto r = discovery::check(c, self_address);
    if (r) {
      ADD_FAILURE() << "check() passed";
      return errc::timeout;
    }
    EXPECT_EQ(r.error().detail().rfind("discovery: ", 0), 0u) << r.error().detail();
    return r.error().code();
  };
  discovery_config off;
  EXPECT_TRUE(discovery::check(off, self_address)) << "nothing asked for: nothing to refuse";
  discovery_config dns;
  dns.dns_names = {"troupe.test"};
  dns.srv_names = {"_troupe._tcp.troupe.test"};
  dns.dns_server = "127.0.0.1:53";
  EXPECT_TRUE(discovery::check(dns, self_address));

  auto no_refresh = dns;
  no_refresh.refresh = 0s;
  EXPECT_EQ(code(no_refresh), errc::invalid_argument);
  auto sub_ms = dns;
  sub_ms.refresh = 999us;
  EXPECT_EQ(code(sub_ms), errc::invalid_argument);
  auto no_timeout = dns;
  no_timeout.dns_timeout = -1s;
  EXPECT_EQ(code(no_timeout), errc::invalid_argument);
  discovery_config server_alone;
  server_alone.mdns = true;
  server_alone.dns_server = "127.0.0.1";
  EXPECT_EQ(code(server_alone), errc::invalid_argument);
  auto bad_server = dns;
  bad_server.dns_server = "dns.example";
  EXPECT_EQ(code(bad_server), errc::invalid_argument);
  auto bad_name = dns;
  bad_name.dns_names = {"troupe.test", "a..b"};
  EXPECT_EQ(code(bad_name), errc::invalid_name);
  auto bad_srv = dns;
  bad_srv.srv_names = {std::string(70, 'x') + ".test"};
  EXPECT_EQ(code(bad_srv), errc::invalid_name);
  for (int field = 0; field < 3; ++field) {
    discovery_config identity;
    identity.mdns = true;
    if (field == 0) identity.mdns_options.instance = "other";
    if (field == 1) identity.mdns_options.incarnation = 7;
    if (field == 2) identity.mdns_options.address = "10.0.0.1:7000";
    EXPECT_EQ(code(identity), errc::invalid_argument) << "field " << field;
  }
  // start() checks the same way before anything runs.
  recorder r;
  auto started = discovery::start(no_refresh, "a", 1, self_address, r.join());
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code(), errc::invalid_argument);
}

// troupe.test has three A records until `moved`, then one.
struct zone {
  std::atomic<bool> moved{false};
  fake_dns::answer_fn answer() {
    return [this](const dns_message& q) {
      const std::string n = q.questions.at(0).name.to_string();
      if (q.questions[0].type == dns_type::a && n == "troupe.test") {
        if (moved) return std::vector<std::vector<std::byte>>{reply(q, {a_record(n, 0x7F000109)})};
        return std::vector<std::vector<std::byte>>{
            reply(q, {a_record(n, 0x7F000101), a_record(n, 0x7F000102), a_record(n, 0x7F000103)})};
      }
      if (q.questions[0].type == dns_type::srv && n == "_troupe._tcp.troupe.test")
        return std::vector<std::vector<std::byte>>{reply(q, {srv_record(n, "n1.troupe.test", 7100)},
                                                         {a_record("n1.troupe.test", 0x7F000201)})};
      return std::vector<std::vector<std::byte>>{reply(q, {}, {}, 3)};  // NXDOMAIN
    };
  }
};

TEST(discovery, dns_names_are_joined_after_every_lookup_and_told_once_per_change) {
  zone z;
  fake_dns server(z.answer());
  recorder r;
  discovery_config c;
  c.dns_names = {"troupe.test"};
  c.srv_names = {"_troupe._tcp.troupe.test"};
  c.dns_server = server.address();
  c.refresh = 20ms;
  c.on_event = r.on_event();
  auto d = discovery::start(c, "a", 1, self_address, r.join());
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_TRUE(eventually([&] { return r.join_count() >= 3; })) << "joined after each lookup";
  {
    std::lock_guard lock(r.mu);
    EXPECT_EQ(r.joins[0], (std::vector<std::string>{"127.0.1.1:7000", "127.0.1.2:7000",
                                                    "127.0.1.3:7000", "127.0.2.1:7100"}))
        << "A records at this node's port, SRV targets at theirs";
  }
  auto told = r.told();
  ASSERT_EQ(told.size(), 1u) << "the same outcome is told once";
  EXPECT_EQ(told[0].what, discovery_event::kind::found);
  EXPECT_EQ(told[0].source, discovery_source::dns);
  EXPECT_EQ(told[0].addresses.size(), 4u);

  z.moved = true;
  ASSERT_TRUE(eventually([&] { return r.told().size() >= 2; })) << "a change is told";
  told = r.told();
  EXPECT_EQ(told[1].addresses, (std::vector<std::string>{"127.0.1.9:7000", "127.0.2.1:7100"}));

  (*d)->stop();
  const std::size_t lookups = (*d)->dns_lookups();
  const int queries = server.queries();
  std::this_thread::sleep_for(100ms);  // five refresh periods: nothing may happen
  EXPECT_EQ(server.queries(), queries) << "no query after stop()";
  EXPECT_EQ((*d)->dns_lookups(), lookups);
  (*d)->stop();  // again: nothing
}

TEST(discovery, failed_lookups_and_refused_joins_are_told) {
  fake_dns silent([](const dns_message&) { return std::vector<std::vector<std::byte>>{}; });
  recorder r;
  discovery_config c;
  c.dns_names = {"troupe.test"};
  c.dns_server = silent.address();
  c.refresh = 10ms;
  c.dns_timeout = 30ms;
  c.on_event = r.on_event();
  auto d = discovery::start(c, "a", 1, self_address, r.join());
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_TRUE(eventually([&] { return (*d)->dns_lookups() >= 3; }));
  (*d)->stop();
  auto told = r.told();
  ASSERT_EQ(told.size(), 1u) << "one failure told once";
  EXPECT_EQ(told[0].what, discovery_event::kind::failed);
  EXPECT_EQ(told[0].failure.code(), errc::timeout);
  EXPECT_EQ(r.join_count(), 0u) << "nothing found, nothing joined";

  zone z;
  fake_dns server(z.answer());
  recorder refused;
  refused.refuse = error(errc::shutting_down, "membership stopped");
  c.dns_server = server.address();
  c.on_event = refused.on_event();
  auto d2 = discovery::start(c, "a", 1, self_address, refused.join());
  ASSERT_TRUE(d2) << d2.error().message();
  ASSERT_TRUE(eventually([&] { return !refused.told().empty(); }));
  (*d2)->stop();
  told = refused.told();
  EXPECT_EQ(told[0].what, discovery_event::kind::failed);
  EXPECT_EQ(told[0].failure.code(), errc::shutting_down);
}

TEST(discovery, an_mdns_that_cannot_start_fails_start_and_nothing_runs) {
  zone z;
  fake_dns server(z.answer());
  recorder r;
  discovery_config c;
  c.mdns = true;
  c.mdns_options.interface_address = "192.0.2.1";  // TEST-NET-1: on no interface here
  c.dns_names = {"troupe.test"};
  c.dns_server = server.address();
  c.on_event = r.on_event();
  auto d = discovery::start(c, "a", 1, self_address, r.join());
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), errc::invalid_argument);
  EXPECT_EQ(d.error().detail().rfind("discovery: ", 0), 0u) << d.error().detail();
  EXPECT_NE(d.error().detail().find("192.0.2.1"), std::string::npos) << d.error().detail();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server.queries(), 0) << "DNS did not start";
  EXPECT_TRUE(r.told().empty());
  // A bad mDNS instance name (the node's) is refused the same way.
  c.mdns_options.interface_address.clear();
  auto long_name = discovery::start(c, std::string(64, 'n'), 1, self_address, r.join());
  ASSERT_FALSE(long_name);
  EXPECT_EQ(long_name.error().code(), errc::invalid_name);
}

}  // namespace
}  // namespace troupe::cluster
