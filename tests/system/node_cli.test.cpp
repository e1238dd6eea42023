#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "member_process.hpp"

// `troupe node`'s flags and commands on loopback: bad flags (discovery's and
// --entries) end it with status 2 and a message before it starts; --entries
// and the register / unregister / digest commands check actors in and out
// and show the replicated receptionist; a bad command prints a typed error
// line and the node runs on. Every process is ended by its pid.

namespace system_test {
namespace {

using namespace std::chrono_literals;

TEST(node_cli, bad_discovery_and_entries_flags_exit_2_before_starting) {
  struct bad_case {
    std::string name;
    std::vector<std::string> flags;
    std::string says;  // on standard error
  };
  const std::vector<bad_case> cases = {
      {"m0", {"--entries", "-1"}, "--entries takes a count"},
      {"m0", {"--entries", "abc"}, "--entries takes a count"},
      {"m0", {"--entries", "100001"}, "--entries takes a count"},
      {"m0", {"--entries", ""}, "--entries takes a count"},
      {"m%0", {"--entries", "2"}, "--entries: the node's name makes a bad label"},
      {"m0", {"--dns-interval", "5"}, "--dns-interval goes with --dns or --dns-srv"},
      {"m0", {"--dns", "x.test", "--dns-interval", "0"}, "--dns-interval takes whole seconds"},
      {"m0", {"--mdns-interface", "10.0.0.1"}, "--mdns-interface goes with --mdns"},
      {"m0", {"--dns", ","}, "--dns takes NAME"},
      {"m0", {"--dns-srv", ""}, "--dns-srv takes NAME"},
      {"m0", {"--dns-server", "127.0.0.1"}, "discovery: dns_server '127.0.0.1' is set without"},
      {"m0", {"--dns", "a..b", "--dns-server", "127.0.0.1"}, "discovery: a bad DNS name 'a..b'"},
      {"m0", {"--dns-srv", "_t._tcp.x", "--dns-server", "dns.example"}, "discovery: a DNS server"},
      {"m0", {"--mdns", "--mdns-interface", "192.0.2.1"}, "192.0.2.1"},
  };
  for (const bad_case& c : cases) {
    member_process p(c.name, "127.0.0.1:0", "", {}, c.flags);
    EXPECT_EQ(p.wait_exit(10s), 2) << c.says;
    p.kill_now();  // joins the reader: the transcript is complete
    const std::string said = p.transcript();
    EXPECT_NE(said.find(c.says), std::string::npos) << said;
    EXPECT_EQ(said.find("\"started\""), std::string::npos) << said;
  }
}

// Asks every node for its digest until all are equal and show `entries`
// entries (at most `limit`); returns the last digest lines seen.
bool registries_agree(std::vector<std::unique_ptr<member_process>>& nodes, std::size_t entries,
                      std::chrono::seconds limit, std::string& seen) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (int round = 0; round < 1000; ++round) {
    seen.clear();
    std::string first;
    bool equal = true;
    for (auto& n : nodes) {
      const std::string line = n->ask("digest", "digest", 5s);
      seen += line + "\n";
      const std::string d = json_field(line, "digest");
      if (first.empty()) first = d;
      equal = equal && !d.empty() && d == first &&
              json_field(line, "entries") == std::to_string(entries);
    }
    if (equal) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(node_cli, entries_replicate_and_register_unregister_and_digest_show_it) {
  std::vector<std::unique_ptr<member_process>> nodes;
  nodes.push_back(std::make_unique<member_process>("m0", "127.0.0.1:0", "",
                                                   std::vector<std::string>{},
                                                   std::vector<std::string>{"--entries", "3"}));
  const std::string started = nodes[0]->wait_for("started", "m0", 10s);
  ASSERT_FALSE(started.empty()) << nodes[0]->transcript();
  EXPECT_EQ(json_field(started, "entries"), "3") << started;
  const std::string seed = json_field(started, "address");
  nodes.push_back(std::make_unique<member_process>("m1", "127.0.0.1:0", seed,
                                                   std::vector<std::string>{},
                                                   std::vector<std::string>{"--entries", "2"}));
  auto report = [&] {
    return "--- m0 printed:\n" + nodes[0]->transcript() + "--- m1 printed:\n" +
           nodes[1]->transcript();
  };
  ASSERT_FALSE(nodes[1]->wait_for("joined", "m0", 15s).empty()) << report();
  std::string seen;
  ASSERT_TRUE(registries_agree(nodes, 5, 15s, seen)) << "3 + 2 entries everywhere:\n"
                                                     << seen << report();
  const std::string before = json_field(nodes[0]->ask("digest", "digest", 5s), "digest");

  // A new entry on m1 reaches m0, and its removal too.
  const std::string added = nodes[1]->ask("register m1/extra/one", "registered", 5s);
  ASSERT_FALSE(added.empty()) << report();
  EXPECT_EQ(json_field(added, "label"), "m1/extra/one");
  ASSERT_TRUE(registries_agree(nodes, 6, 15s, seen)) << seen << report();
  EXPECT_NE(json_field(nodes[0]->ask("digest", "digest", 5s), "digest"), before);
  EXPECT_FALSE(nodes[1]->ask("unregister m1/extra/one", "unregistered", 5s).empty()) << report();
  ASSERT_TRUE(registries_agree(nodes, 5, 15s, seen)) << seen << report();
  // So does the removal of one that --entries made, on m0.
  EXPECT_FALSE(nodes[0]->ask("unregister m0/e1", "unregistered", 5s).empty()) << report();
  ASSERT_TRUE(registries_agree(nodes, 4, 15s, seen)) << seen << report();

  // Bad commands: a typed error line each, and the node runs on.
  struct bad_command {
    std::string line;
    std::string error;
  };
  const std::vector<bad_command> bad = {
      {"register bad label", "invalid_name"},
      {"register", "invalid_name"},
      {"register m1//x", "invalid_name"},
      {"register m1/e0", "name_taken"},
      {"unregister m1/never", "actor_not_found"},
      {"unregister m0/e0", "actor_not_found"},  // another node's entry
      {"unregister", "invalid_name"},
      {"shout", "invalid_argument"},
  };
  for (const bad_command& b : bad) {
    const std::string line = nodes[1]->ask(b.line, "command_failed", 5s);
    ASSERT_FALSE(line.empty()) << b.line << "\n" << report();
    EXPECT_EQ(json_field(line, "error"), b.error) << line;
    EXPECT_FALSE(json_field(line, "reason").empty()) << line;
  }
  ASSERT_TRUE(registries_agree(nodes, 4, 5s, seen)) << "the bad commands changed nothing\n"
                                                    << seen << report();
  EXPECT_FALSE(nodes[1]->ask("register m1/after", "registered", 5s).empty()) << report();
  for (auto& n : nodes) n->kill_now();
}

}  // namespace
}  // namespace system_test
