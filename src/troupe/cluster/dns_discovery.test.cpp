#include "troupe/cluster/dns_discovery.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "troupe/cluster/dns_message.hpp"
#include "troupe/cluster/testing/fake_dns.hpp"

// DNS discovery against a small scripted DNS server on 127.0.0.1 (a UDP
// socket in this process): A and SRV answers, missing additional records,
// errors, silence, stray answers, and the periodic loop. The system test
// (tests/system/discovery_netns.test.cpp) runs it against dnsmasq.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::a_record;
using testing::fake_dns;
using testing::reply;
using testing::srv_record;

dns_name name(std::string_view s) { return dns_name::parse(s).value(); }

// A small zone: troupe.test has three A records; the SRV name has two
// targets, one with its A in the additional section and one without.
std::vector<std::vector<std::byte>> zone(const dns_message& q) {
  const dns_question& question = q.questions.at(0);
  const std::string n = question.name.to_string();
  if (question.type == dns_type::a && n == "troupe.test")
    return {reply(q, {a_record("troupe.test", 0x7F000103), a_record("troupe.test", 0x7F000101),
                      a_record("troupe.test", 0x7F000102)})};
  if (question.type == dns_type::a && n == "n2.troupe.test")
    return {reply(q, {a_record("n2.troupe.test", 0x7F000202)})};
  if (question.type == dns_type::srv && n == "_troupe._tcp.troupe.test")
    return {reply(q,
                  {srv_record(n, "n1.troupe.test", 7001, 1), srv_record(n, "n2.troupe.test", 7002)},
                  {a_record("n1.troupe.test", 0x7F000201)})};
  return {reply(q, {}, {}, 3)};  // NXDOMAIN
}

TEST(dns_discovery, query_a_returns_every_address_sorted) {
  fake_dns server(zone);
  auto found = query_a("troupe.test", 7000, server.address(), 2000ms);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(*found,
            (std::vector<std::string>{"127.0.1.1:7000", "127.0.1.2:7000", "127.0.1.3:7000"}));
  auto none = query_a("nobody.test", 7000, server.address(), 2000ms);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_TRUE(none->empty()) << "NXDOMAIN: no members yet, not an error";
}

TEST(dns_discovery, query_srv_uses_additional_records_and_asks_for_the_rest) {
  fake_dns server(zone);
  auto found = query_srv("_troupe._tcp.troupe.test", server.address(), 2000ms);
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].host, "n2.troupe.test") << "priority 0 first";
  EXPECT_EQ((*found)[0].addresses, std::vector<std::string>{"127.0.2.2:7002"});
  EXPECT_EQ((*found)[1].host, "n1.troupe.test");
  EXPECT_EQ((*found)[1].port, 7001);
  EXPECT_EQ((*found)[1].addresses, std::vector<std::string>{"127.0.2.1:7001"});
  EXPECT_EQ(server.queries(), 2) << "one SRV query and one A query for the target left out";
}

TEST(dns_discovery, a_lookup_joins_names_and_srv_targets) {
  fake_dns server(zone);
  dns_discovery_config c;
  c.names = {"troupe.test"};
  c.port = 7000;
  c.srv_names = {"_troupe._tcp.troupe.test"};
  c.server = server.address();
  auto found = dns_lookup(c);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->size(), 5u);
  // Several of each, one of them unknown (no members yet): the union.
  c.names = {"troupe.test", "n2.troupe.test", "nobody.test"};
  c.srv_names = {"_troupe._tcp.troupe.test", "_troupe._tcp.nobody.test"};
  auto all = dns_lookup(c);
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(*all, (std::vector<std::string>{"127.0.1.1:7000", "127.0.1.2:7000", "127.0.1.3:7000",
                                            "127.0.2.1:7001", "127.0.2.2:7000", "127.0.2.2:7002"}));
}

TEST(dns_discovery, failures_are_typed_and_bounded) {
  fake_dns silent([](const dns_message&) { return std::vector<std::vector<std::byte>>{}; });
  const auto t0 = std::chrono::steady_clock::now();
  auto quiet = query_a("troupe.test", 7000, silent.address(), 300ms);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(quiet);
  EXPECT_EQ(quiet.error().code(), errc::timeout);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(silent.queries(), 3) << "sent three times within the timeout";

  fake_dns failing([](const dns_message& q) {
    return std::vector<std::vector<std::byte>>{reply(q, {}, {}, 2)};  // SERVFAIL
  });
  auto servfail = query_srv("_troupe._tcp.troupe.test", failing.address(), 2000ms);
  ASSERT_FALSE(servfail);
  EXPECT_EQ(servfail.error().code(), errc::node_down);

  fake_dns garbage([](const dns_message&) {
    return std::vector<std::vector<std::byte>>{{std::byte{1}, std::byte{2}, std::byte{3}}};
  });
  auto bad = query_a("troupe.test", 7000, garbage.address(), 300ms);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), errc::decode_error);

  EXPECT_EQ(query_a("a..b", 7000, "127.0.0.1", 100ms).error().code(), errc::invalid_name);
  EXPECT_EQ(query_a("a.b", 7000, "dns.example", 100ms).error().code(), errc::invalid_argument);
  EXPECT_EQ(query_a("a.b", 7000, "127.0.0.1:99999", 100ms).error().code(), errc::invalid_argument);
}

TEST(dns_discovery, stray_and_mismatched_answers_are_ignored) {
  fake_dns server([](const dns_message& q) {
    dns_message wrong_id = decode_dns(reply(q, {a_record("troupe.test", 0x7F000109)})).value();
    wrong_id.id = static_cast<std::uint16_t>(q.id + 1);
    dns_message other_question = wrong_id;
    other_question.id = q.id;
    other_question.questions[0].name = name("other.test");
    return std::vector<std::vector<std::byte>>{encode_dns(wrong_id).value(),
                                               encode_dns(other_question).value(),
                                               reply(q, {a_record("troupe.test", 0x7F000101)})};
  });
  auto found = query_a("troupe.test", 7000, server.address(), 2000ms);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(*found, std::vector<std::string>{"127.0.1.1:7000"});
}

TEST(dns_discovery, first_nameserver_reads_resolv_conf) {
  char path[] = "/tmp/troupe-resolv-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text =
      "# a comment\nsearch example\nnameserver 10.96.0.10\nnameserver 1.1.1.1\n";
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  auto ns = first_nameserver(path);
  ASSERT_TRUE(ns) << ns.error().message();
  EXPECT_EQ(*ns, "10.96.0.10:53");
  std::FILE* f = std::fopen(path, "w");
  std::fputs("nameserver fe80::1%eth0\nnameserver ::1\n", f);
  std::fclose(f);
  EXPECT_EQ(first_nameserver(path).value(), "[::1]:53");
  f = std::fopen(path, "w");
  std::fputs("search only\n", f);
  std::fclose(f);
  EXPECT_EQ(first_nameserver(path).error().code(), errc::invalid_argument);
  ::unlink(path);
}

TEST(dns_discovery, the_system_resolver_finds_localhost) {
  auto found = resolve_system("localhost", 7000);
  ASSERT_TRUE(found) << found.error().message();
  bool v4 = false;
  for (const auto& a : *found) v4 = v4 || a == "127.0.0.1:7000";
  EXPECT_TRUE(v4) << "from /etc/hosts";
}

TEST(dns_discovery, start_refuses_bad_configurations) {
  auto report = [](const result<std::vector<std::string>>&) {};
  dns_discovery_config none;
  EXPECT_EQ(dns_discovery::start(none, report).error().code(), errc::invalid_argument);
  dns_discovery_config no_port;
  no_port.names = {"troupe.test"};
  EXPECT_EQ(dns_discovery::start(no_port, report).error().code(), errc::invalid_argument);
  dns_discovery_config bad_name;
  bad_name.srv_names = {std::string(70, 'x') + ".test"};
  bad_name.server = "127.0.0.1";
  EXPECT_EQ(dns_discovery::start(bad_name, report).error().code(), errc::invalid_name);
  dns_discovery_config second_bad = bad_name;
  second_bad.srv_names = {"_troupe._tcp.test", "a..b"};
  EXPECT_EQ(dns_discovery::check(second_bad).error().code(), errc::invalid_name);
  dns_discovery_config bad_server;
  bad_server.srv_names = {"_troupe._tcp.test"};
  bad_server.server = "not a server";
  EXPECT_EQ(dns_discovery::start(bad_server, report).error().code(), errc::invalid_argument);
  dns_discovery_config bad_interval;
  bad_interval.srv_names = {"_troupe._tcp.test"};
  bad_interval.server = "127.0.0.1:53";
  bad_interval.interval = 0ms;
  EXPECT_EQ(dns_discovery::start(bad_interval, report).error().code(), errc::invalid_argument);
}

TEST(dns_discovery, resolves_periodically_until_stopped) {
  fake_dns server(zone);
  dns_discovery_config c;
  c.names = {"troupe.test"};
  c.port = 7000;
  c.server = server.address();
  c.interval = 50ms;
  std::mutex mu;
  std::vector<std::vector<std::string>> reports;
  auto d = dns_discovery::start(c, [&](const result<std::vector<std::string>>& r) {
    std::lock_guard lock(mu);
    reports.push_back(r ? *r : std::vector<std::string>{"error: " + r.error().message()});
  });
  ASSERT_TRUE(d) << d.error().message();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((*d)->lookups() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  (*d)->stop();
  std::lock_guard lock(mu);
  ASSERT_GE(reports.size(), 3u);
  for (const auto& r : reports) EXPECT_EQ(r.size(), 3u) << (r.empty() ? "" : r[0]);
  const std::size_t seen = reports.size();
  std::this_thread::sleep_for(120ms);
  EXPECT_EQ(reports.size(), seen) << "nothing after stop()";
}

}  // namespace
}  // namespace troupe::cluster
