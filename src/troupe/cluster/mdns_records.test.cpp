#include "troupe/cluster/mdns_records.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

// mDNS without sockets: the responder's answers, announcements and
// goodbyes, and the browser's cache, on a hand-driven clock. Every message
// goes through the codec both ways, as it would on the wire.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;

mdns_service service(std::string name = "node-a", std::uint32_t ip = 0x0A520001) {
  mdns_service s;
  s.instance = std::move(name);
  s.host = mdns_host_label(s.instance) + ".local";
  s.ipv4 = ip;
  s.port = 7000;
  s.txt = {{"node", s.instance}, {"incarnation", "42"}, {"cluster", "blue"}};
  return s;
}

dns_message wire(const dns_message& m) {
  auto bytes = encode_dns(m);
  EXPECT_TRUE(bytes) << bytes.error().message();
  auto back = decode_dns(*bytes);
  EXPECT_TRUE(back) << back.error().message();
  return *back;
}

dns_message question(std::string_view name, std::uint16_t type, bool qu = false) {
  dns_message m;
  dns_question q;
  q.name = dns_name::parse(name).value();
  q.type = type;
  q.unicast_response = qu;
  m.questions.push_back(q);
  return m;
}

const dns_record* find(const std::vector<dns_record>& rs, std::uint16_t type) {
  for (const auto& r : rs)
    if (r.type == type) return &r;
  return nullptr;
}

TEST(mdns_responder, answers_a_ptr_query_with_the_whole_instance) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r) << r.error().message();
  const time_point t0{};
  auto replies = r->answer(wire(question("_troupe._tcp.local", dns_type::ptr)), 5353, t0);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_FALSE(replies[0].unicast);
  const dns_message m = wire(replies[0].message);
  EXPECT_TRUE(m.is_response());
  EXPECT_EQ(m.id, 0);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].target.to_string(), "node-a._troupe._tcp.local");
  EXPECT_FALSE(m.answers[0].cache_flush) << "a PTR is shared";
  const dns_record* srv = find(m.additionals, dns_type::srv);
  const dns_record* txt = find(m.additionals, dns_type::txt);
  const dns_record* a = find(m.additionals, dns_type::a);
  ASSERT_TRUE(srv && txt && a);
  EXPECT_EQ(srv->port, 7000);
  EXPECT_EQ(srv->target.to_string(), "node-a.local");
  EXPECT_TRUE(srv->cache_flush);
  EXPECT_EQ(txt->txt, (std::vector<std::string>{"node=node-a", "incarnation=42", "cluster=blue"}));
  EXPECT_EQ(a->a, 0x0A520001u);
  EXPECT_EQ(a->name.to_string(), "node-a.local");
  EXPECT_EQ(srv->ttl, 120u);
}

TEST(mdns_responder, answers_srv_txt_and_a_questions_and_nothing_else) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  time_point t{};
  auto srv = r->answer(wire(question("node-a._troupe._tcp.local", dns_type::srv)), 5353, t);
  ASSERT_EQ(srv.size(), 1u);
  EXPECT_EQ(srv[0].message.answers.at(0).type, dns_type::srv);
  ASSERT_TRUE(find(srv[0].message.additionals, dns_type::a));
  auto a = r->answer(wire(question("NODE-A.local", dns_type::a)), 5353, t);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].message.answers.at(0).a, 0x0A520001u);
  auto any = r->answer(wire(question("node-a._troupe._tcp.local", dns_type::any)), 5353, t + 2s);
  ASSERT_EQ(any.size(), 1u);
  EXPECT_EQ(any[0].message.answers.size(), 2u) << "SRV and TXT";
  auto meta = r->answer(wire(question("_services._dns-sd._udp.local", dns_type::ptr)), 5353, t);
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_EQ(meta[0].message.answers.at(0).target.to_string(), "_troupe._tcp.local");
  EXPECT_TRUE(r->answer(question("_http._tcp.local", dns_type::ptr), 5353, t).empty());
  EXPECT_TRUE(r->answer(question("node-b._troupe._tcp.local", dns_type::srv), 5353, t).empty());
  EXPECT_TRUE(r->answer(question("node-a.local", dns_type::aaaa), 5353, t).empty());
  dns_message response = question("_troupe._tcp.local", dns_type::ptr);
  response.flags = dns_message::flag_response;
  EXPECT_TRUE(r->answer(response, 5353, t).empty()) << "a response is no query";
}

TEST(mdns_responder, multicasts_a_record_at_most_once_a_second) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  const time_point t0{};
  auto q = question("_troupe._tcp.local", dns_type::ptr);
  EXPECT_EQ(r->answer(q, 5353, t0).size(), 1u);
  EXPECT_TRUE(r->answer(q, 5353, t0 + 500ms).empty());
  EXPECT_EQ(r->answer(q, 5353, t0 + 1s).size(), 1u);
  // After an announcement too.
  (void)r->announcement(false, t0 + 10s);
  EXPECT_TRUE(r->answer(q, 5353, t0 + 10500ms).empty());
  // A unicast-response question within the window gets a unicast reply.
  auto qu = r->answer(question("_troupe._tcp.local", dns_type::ptr, true), 5353, t0 + 10500ms);
  ASSERT_EQ(qu.size(), 1u);
  EXPECT_TRUE(qu[0].unicast);
}

TEST(mdns_responder, suppresses_answers_the_querier_knows) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  dns_message q = question("_troupe._tcp.local", dns_type::ptr);
  dns_record known;
  known.name = dns_name::parse("_troupe._tcp.local").value();
  known.type = dns_type::ptr;
  known.target = dns_name::parse("node-a._troupe._tcp.local").value();
  known.ttl = 100;
  q.answers.push_back(known);
  EXPECT_TRUE(r->answer(wire(q), 5353, time_point{}).empty());
  q.answers[0].ttl = 30;  // under half the TTL: refresh it
  EXPECT_EQ(r->answer(wire(q), 5353, time_point{}).size(), 1u);
  q.answers[0].ttl = 100;
  q.answers[0].target = dns_name::parse("node-b._troupe._tcp.local").value();
  EXPECT_EQ(r->answer(wire(q), 5353, time_point{} + 5s).size(), 1u) << "another instance";
}

TEST(mdns_responder, answers_a_legacy_resolver_by_unicast_with_short_ttls) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  dns_message q = question("node-a.local", dns_type::a);
  q.id = 0xBEEF;
  auto replies = r->answer(wire(q), 40000, time_point{});
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_TRUE(replies[0].unicast);
  const dns_message m = wire(replies[0].message);
  EXPECT_EQ(m.id, 0xBEEF);
  ASSERT_EQ(m.questions.size(), 1u);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_LE(m.answers[0].ttl, 10u);
  EXPECT_FALSE(m.answers[0].cache_flush);
  EXPECT_EQ(r->answer(wire(q), 40000, time_point{}).size(), 1u) << "not rate-limited";
}

TEST(mdns_responder, announces_and_says_goodbye) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  const dns_message hello = wire(r->announcement(false, time_point{}));
  EXPECT_TRUE(hello.is_response());
  EXPECT_TRUE(find(hello.answers, dns_type::ptr) && find(hello.answers, dns_type::srv) &&
              find(hello.answers, dns_type::txt) && find(hello.answers, dns_type::a));
  for (const auto& rec : hello.answers) EXPECT_EQ(rec.ttl, 120u);
  const dns_message bye = wire(r->announcement(true, time_point{}));
  for (const auto& rec : bye.answers) EXPECT_EQ(rec.ttl, 0u);
}

TEST(mdns_responder, refuses_bad_services) {
  auto long_name = service(std::string(64, 'n'));
  auto r = mdns_responder::make(long_name);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_name);
  auto bad_host = service();
  bad_host.host = "a..local";
  EXPECT_EQ(mdns_responder::make(bad_host).error().code(), errc::invalid_name);
  auto no_port = service();
  no_port.port = 0;
  EXPECT_EQ(mdns_responder::make(no_port).error().code(), errc::invalid_argument);
  auto bad_txt = service();
  bad_txt.txt.emplace_back("x", std::string(300, 'v'));
  EXPECT_EQ(mdns_responder::make(bad_txt).error().code(), errc::invalid_argument);
  auto eq_key = service();
  eq_key.txt.emplace_back("a=b", "c");
  EXPECT_EQ(mdns_responder::make(eq_key).error().code(), errc::invalid_argument);
}

// ------------------------------------------------------------- the browser

TEST(mdns_browser, finds_an_instance_from_an_announcement) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  mdns_browser b("node-z", "", 30s);
  const time_point t0{};
  auto events = b.on_response(wire(r->announcement(false, t0)), t0);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].what, mdns_event::kind::found);
  const mdns_instance& i = events[0].instance;
  EXPECT_EQ(i.name, "node-a");
  EXPECT_EQ(i.host, "node-a.local");
  EXPECT_EQ(i.address, "10.82.0.1:7000");
  EXPECT_EQ(i.txt.at("node"), "node-a");
  EXPECT_EQ(i.txt.at("incarnation"), "42");
  EXPECT_TRUE(b.on_response(wire(r->announcement(false, t0)), t0 + 1s).empty())
      << "unchanged and heard within refresh_report: not reported again";
  EXPECT_EQ(b.on_response(wire(r->announcement(false, t0)), t0 + 31s).size(), 1u)
      << "heard again after refresh_report: reported again";
  ASSERT_EQ(b.instances(t0 + 31s).size(), 1u);
}

TEST(mdns_browser, ignores_itself_and_other_clusters) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  const auto hello = wire(r->announcement(false, time_point{}));
  mdns_browser self("NODE-A", "", 30s);
  EXPECT_TRUE(self.on_response(hello, time_point{}).empty());
  mdns_browser red("node-z", "red", 30s);
  EXPECT_TRUE(red.on_response(hello, time_point{}).empty());
  mdns_browser blue("node-z", "blue", 30s);
  EXPECT_EQ(blue.on_response(hello, time_point{}).size(), 1u);
}

TEST(mdns_browser, reports_gone_after_a_goodbye_or_when_records_expire) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  mdns_browser b("node-z", "", 30s);
  const time_point t0{};
  ASSERT_EQ(b.on_response(wire(r->announcement(false, t0)), t0).size(), 1u);
  EXPECT_TRUE(b.expire(t0 + 60s).empty());
  EXPECT_TRUE(b.on_response(wire(r->announcement(true, t0 + 61s)), t0 + 61s).empty());
  auto gone = b.expire(t0 + 61s);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].what, mdns_event::kind::gone);
  EXPECT_EQ(gone[0].instance.name, "node-a");
  EXPECT_TRUE(b.instances(t0 + 61s).empty());

  ASSERT_EQ(b.on_response(wire(r->announcement(false, t0 + 100s)), t0 + 100s).size(), 1u);
  EXPECT_TRUE(b.expire(t0 + 219s).empty());
  EXPECT_EQ(b.expire(t0 + 220s).size(), 1u) << "TTL 120 s ran out";
}

TEST(mdns_browser, a_changed_address_is_reported) {
  auto r1 = mdns_responder::make(service());
  auto r2 = mdns_responder::make(service("node-a", 0x0A520009));
  ASSERT_TRUE(r1 && r2);
  mdns_browser b("node-z", "", 30s);
  ASSERT_EQ(b.on_response(wire(r1->announcement(false, time_point{})), time_point{}).size(), 1u);
  auto moved = b.on_response(wire(r2->announcement(false, time_point{})), time_point{} + 1s);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].instance.address, "10.82.0.9:7000");
}

TEST(mdns_browser, queries_carry_known_answers_and_ask_for_what_is_missing) {
  auto r = mdns_responder::make(service());
  ASSERT_TRUE(r);
  mdns_browser b("node-z", "", 30s);
  const time_point t0{};
  auto q = wire(b.query(t0));
  ASSERT_EQ(q.questions.size(), 1u);
  EXPECT_EQ(q.questions[0].type, dns_type::ptr);
  EXPECT_TRUE(q.answers.empty());
  EXPECT_FALSE(b.resolve_query(t0));
  // The querying loop: the responder answers the browser's query.
  auto replies = r->answer(q, 5353, t0);
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(b.on_response(wire(replies[0].message), t0).size(), 1u);
  auto again = wire(b.query(t0 + 10s));
  ASSERT_EQ(again.answers.size(), 1u) << "the PTR is a known answer";
  EXPECT_TRUE(r->answer(again, 5353, t0 + 10s).empty()) << "and suppresses the answer";
  EXPECT_TRUE(wire(b.query(t0 + 61s)).answers.empty()) << "half its TTL is gone";

  // A PTR alone: the browser asks for SRV and TXT, then for the A.
  mdns_browser c("node-z", "", 30s);
  dns_message ptr_only = r->announcement(false, t0);
  ptr_only.answers.resize(1);
  EXPECT_TRUE(c.on_response(wire(ptr_only), t0).empty());
  auto ask = c.resolve_query(t0);
  ASSERT_TRUE(ask);
  ASSERT_EQ(ask->questions.size(), 2u);
  EXPECT_EQ(ask->questions[0].type, dns_type::srv);
  EXPECT_EQ(ask->questions[1].type, dns_type::txt);
  auto srv_txt = r->answer(wire(*ask), 5353, t0 + 2s);
  ASSERT_EQ(srv_txt.size(), 1u);
  EXPECT_EQ(c.on_response(wire(srv_txt[0].message), t0 + 2s).size(), 1u)
      << "the SRV answer carries the A as an additional record";
}

TEST(mdns_browser, a_flood_of_instances_is_bounded) {
  mdns_browser b("node-z", "", 30s);
  std::size_t found = 0;
  for (std::size_t i = 0; i < mdns_browser::max_entries + 100; ++i) {
    auto r = mdns_responder::make(service("n" + std::to_string(i)));
    ASSERT_TRUE(r);
    found += b.on_response(r->announcement(false, time_point{}), time_point{}).size();
  }
  EXPECT_EQ(found, mdns_browser::max_entries);
  EXPECT_EQ(b.instances(time_point{}).size(), mdns_browser::max_entries);
}

TEST(mdns_host_label, keeps_host_names_and_makes_others_valid_and_distinct) {
  EXPECT_EQ(mdns_host_label("node-1"), "node-1");
  EXPECT_EQ(mdns_host_label("Node-1"), "node-1");
  const std::string a = mdns_host_label("a.b");
  const std::string b = mdns_host_label("a_b");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.rfind("a-b-", 0), 0u) << a;
  EXPECT_LE(mdns_host_label(std::string(200, 'x')).size(), 63u);
  EXPECT_TRUE(dns_name::parse(mdns_host_label("é !") + ".local"));
}

}  // namespace
}  // namespace troupe::cluster
