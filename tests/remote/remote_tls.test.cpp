// Nodes over mutual TLS between real processes: the peer program and the
// nodes of this process start from their configs alone, with certificates
// made at test time by the `openssl` command.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "peer_process.hpp"
#include "remote_actors.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/net/node.hpp"
#include "troupe/net/testing/test_certs.hpp"

namespace {

using namespace std::chrono_literals;
using remote_test::local_node;
using remote_test::peer_process;
using troupe::net::testing::test_certs;

// "ca" signs "local" and "peer"; "foreign" is another CA, which signs
// "rogue".
class remote_tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<test_certs>();
    ready_ = certs_->make_ca("ca") && certs_->make_ca("foreign") &&
             certs_->make_node("local", "ca") && certs_->make_node("peer", "ca") &&
             certs_->make_node("rogue", "foreign");
  }
  static void TearDownTestSuite() { certs_.reset(); }
  void SetUp() override {
    ASSERT_TRUE(ready_) << "could not make certificates: " << certs_->failure();
  }

  static troupe::net::tls_config tls(const std::string& node, const std::string& ca = "ca") {
    return certs_->node(node, ca);
  }

  static std::unique_ptr<test_certs> certs_;
  static bool ready_;
};

std::unique_ptr<test_certs> remote_tls::certs_;
bool remote_tls::ready_ = false;

TEST_F(remote_tls, two_nodes_over_tls_tell_ask_lookup_and_spawn) {
  troupe::testing::watchdog dog("remote_tls.two_nodes", 60s);
  peer_process peer("peer", "127.0.0.1:0", {}, tls("peer"));
  ASSERT_TRUE(peer.ready);
  local_node local("local", tls("local"));
  auto name = local.n->connect(peer.address).get();
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_EQ(*name, "peer");

  auto c = local.n->lookup<remote_test::counter>("peer", "svc/counter").get();
  ASSERT_TRUE(c) << c.error().message();
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(c->tell(remote_test::add{i}));
  auto sum = c->ask(remote_test::sum{}).get();
  ASSERT_TRUE(sum) << sum.error().message();
  EXPECT_EQ(*sum, 5050);
  EXPECT_EQ(c->ask(remote_test::whoami{}).get().value(), "peer");
  auto spawned =
      local.n->spawn_on<remote_test::counter>("peer", "svc/spawned", std::string("tls")).get();
  ASSERT_TRUE(spawned) << spawned.error().message();
  EXPECT_EQ(spawned->ask(remote_test::whoami{}).get().value(), "tls");
  EXPECT_EQ(local.n->stats().sessions_opened, 1U);
}

// Starts node `name` with `tls` (or none), dials the peer a few times over
// about two seconds and checks that no session ever authenticates; the first
// dial fails with node_down, its detail containing `why`.
void never_authenticates(const std::string& name, std::optional<troupe::net::tls_config> tls,
                         const std::string& peer_address, const std::string& why) {
  SCOPED_TRACE(name);
  local_node rogue(name, std::move(tls));
  std::mutex mu;
  std::vector<troupe::net::node_event::kind> events;
  const auto sub = rogue.n->subscribe([&](const troupe::net::node_event& e) {
    std::lock_guard lock(mu);
    events.push_back(e.what);
  });
  auto first = rogue.n->connect(peer_address).get();
  EXPECT_FALSE(first);
  if (!first) {
    EXPECT_EQ(first.error().code(), troupe::errc::node_down) << first.error().message();
    EXPECT_NE(first.error().detail().find(why), std::string::npos) << first.error().message();
  }
  // The node keeps redialing (connect() wants the address); give it time
  // for a few attempts, and dial once more by hand.
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until && rogue.n->stats().sessions_opened == 0)
    std::this_thread::sleep_for(50ms);
  auto again = rogue.n->connect(peer_address).get();
  EXPECT_FALSE(again);
  auto lookup = rogue.n->lookup<remote_test::counter>("peer", "svc/counter").get();
  ASSERT_FALSE(lookup);
  EXPECT_EQ(lookup.error().code(), troupe::errc::node_down);

  EXPECT_EQ(rogue.n->stats().sessions_opened, 0U);
  EXPECT_TRUE(rogue.n->peers().empty());
  rogue.n->unsubscribe(sub);  // `events` and `mu` go before the node
  std::lock_guard lock(mu);
  for (auto k : events) EXPECT_NE(k, troupe::net::node_event::kind::authenticated);
}

TEST_F(remote_tls, a_certificate_from_a_foreign_ca_never_authenticates_and_the_good_session_stays) {
  troupe::testing::watchdog dog("remote_tls.foreign_ca", 90s);
  peer_process peer("peer", "127.0.0.1:0", {}, tls("peer"));
  ASSERT_TRUE(peer.ready);
  local_node local("local", tls("local"));
  ASSERT_TRUE(local.n->connect(peer.address).get());
  auto c = local.n->lookup<remote_test::counter>("peer", "svc/counter").get().value();
  ASSERT_TRUE(c.tell(remote_test::add{1}));

  // Trusts the cluster's CA but presents a certificate of another CA (with
  // the right cookie): the peer refuses it.
  // With TLS 1.3 the rogue learns it at its first read, after its dial
  // succeeded: its session fails before authentication.
  never_authenticates("rogue", tls("rogue", "ca"), peer.address, "unknown ca");
  // Lives in another cluster altogether: it refuses the peer's certificate,
  // and its dial fails.
  never_authenticates("stranger", tls("rogue", "foreign"), peer.address,
                      "certificate verify failed");
  // Speaks plain TCP to a TLS node: the peer drops the connection.
  never_authenticates("plain", std::nullopt, peer.address, "closed by peer");

  // The good session was never disturbed.
  ASSERT_TRUE(c.tell(remote_test::add{2}));
  auto sum = c.ask(remote_test::sum{}).get();
  ASSERT_TRUE(sum) << sum.error().message();
  EXPECT_EQ(*sum, 3);
  EXPECT_EQ(local.n->peers(), std::vector<std::string>{"peer"});
  EXPECT_EQ(local.n->stats().sessions_opened, 1U);
}

TEST_F(remote_tls, a_key_that_does_not_match_the_certificate_is_a_typed_error) {
  troupe::system sys;
  troupe::net::node_config cfg;
  cfg.name = "local";
  cfg.cookie = "cookie-42";
  cfg.tls = tls("local");
  cfg.tls->key_file = certs_->file("peer.key");
  auto n = troupe::net::node::start(sys, cfg, remote_test::types());
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error(), troupe::errc::invalid_argument);
  EXPECT_NE(n.error().detail().find("peer.key"), std::string::npos) << n.error().message();

  cfg.tls = tls("local");
  cfg.tls->cert_file = certs_->file("local.key");  // a key where the certificate belongs
  auto m = troupe::net::node::start(sys, cfg, remote_test::types());
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error(), troupe::errc::invalid_argument);
  EXPECT_NE(m.error().detail().find("local.key"), std::string::npos) << m.error().message();
}

}  // namespace
