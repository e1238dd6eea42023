#include "troupe/net/tcp_transport.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "troupe/net/testing/link_recorder.hpp"
#include "troupe/net/testing/test_certs.hpp"

namespace troupe::net {
namespace {

using namespace std::chrono_literals;
using namespace troupe::net::testing;

// Makes, in a temporary directory, two CAs and node certificates: "a" and
// "b" signed by "ca", "rogue" signed by "ca2".
class TcpTransportTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = std::make_unique<testing::test_certs>();
    ready_ = certs_->make_ca("ca") && certs_->make_ca("ca2") && certs_->make_node("a", "ca") &&
             certs_->make_node("b", "ca") && certs_->make_node("rogue", "ca2");
  }
  static void TearDownTestSuite() { certs_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(ready_) << "could not make certificates: " << certs_->failure();
  }

  static std::string file(const std::string& name) { return certs_->file(name); }
  // Returns the TLS files of node `name`, trusting `ca`.
  static tls_config node(const std::string& name, const std::string& ca = "ca") {
    return certs_->node(name, ca);
  }
  static std::unique_ptr<tcp_transport> make_tls(tls_config tls, tcp_transport_config c = {}) {
    c.tls = std::move(tls);
    return make_transport(std::move(c));
  }
  // Runs `openssl args...` (waiting at most `patience`) and returns what it
  // did.
  static testing::run_result openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    return testing::run_program(args, file("s_client.log"), patience);
  }

  static std::unique_ptr<testing::test_certs> certs_;
  static bool ready_;
};

std::unique_ptr<testing::test_certs> TcpTransportTls::certs_;
bool TcpTransportTls::ready_ = false;

TEST_F(TcpTransportTls, EchoesAndBindsTheChannel) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto client = make_tls(node("b"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address) << address.error().message();
  auto one = connect(*client, *address, box);
  auto two = connect(*client, *address, box);
  ASSERT_TRUE(one.client && one.server && two.client && two.server);
  EXPECT_EQ(one.client->channel_binding().size(), 32u);
  EXPECT_EQ(one.client->channel_binding(), one.server->channel_binding());
  EXPECT_EQ(two.client->channel_binding(), two.server->channel_binding());
  EXPECT_NE(one.client->channel_binding(), two.client->channel_binding());

  auto echo = recorder::make(true);
  auto rec = recorder::make();
  echo->start(one.server);
  rec->start(one.client);
  rec->send(as_bytes("over "));
  rec->send(as_bytes("TLS"));
  ASSERT_TRUE(rec->wait_received(8));
  EXPECT_EQ(rec->received_string(), "over TLS");
  EXPECT_EQ(server->refused_handshakes(), 0u);
  rec->send(as_bytes("!"));
  one.client->close();
  ASSERT_TRUE(echo->wait_closed());
  EXPECT_EQ(echo->why().detail(), "connection closed by peer");
  EXPECT_EQ(echo->received_string(), "over TLS!");
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->violations(), 0);
  EXPECT_EQ(echo->violations(), 0);
}

TEST_F(TcpTransportTls, DeliversLargeStreamsAndManyWriters) {
  constexpr std::size_t size = std::size_t{16} << 20;
  const auto up = make_pattern(size, 5);
  const auto down = make_pattern(size, 6);
  accept_box box;
  tcp_transport_config two_threads;
  two_threads.io_threads = 2;
  auto server = make_tls(node("a"), two_threads);
  auto client = make_tls(node("b"), two_threads);
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto big = connect(*client, *address, box);
  auto small = connect(*client, *address, box);
  ASSERT_TRUE(big.client && big.server && small.client && small.server);
  auto at_server = std::make_shared<streamer>(down, up);
  auto at_client = std::make_shared<streamer>(up, down);
  big.server->start(at_server);
  big.client->start(at_client);
  big.server->wake();
  big.client->wake();
  auto sink = recorder::make();
  sink->start(small.server);
  auto rec = recorder::make();
  rec->start(small.client);
  produce(*rec);
  ASSERT_TRUE(sink->wait_received(produced_bytes));
  expect_complete_and_in_order(sink->received());
  std::cout << "[   info   ] " << producers * per_producer << " wakes, " << rec->nonempty_pulls()
            << " writes\n";
  ASSERT_TRUE(at_server->wait_received(size));
  ASSERT_TRUE(at_client->wait_received(size));
  EXPECT_EQ(at_server->mismatches(), 0);
  EXPECT_EQ(at_client->mismatches(), 0);
  EXPECT_EQ(rec->violations(), 0);
}

TEST_F(TcpTransportTls, RefusesADialerWithACertificateFromAnotherCa) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto rogue = make_tls(node("rogue", "ca"));  // trusts the server; the server does not trust it
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*rogue, *address);
  if (r) {  // TLS 1.3: the dialer learns of the refusal when it reads
    auto rec = recorder::make();
    rec->start(*r);
    ASSERT_TRUE(rec->wait_closed());
    EXPECT_EQ(rec->why(), errc::node_down);
    EXPECT_TRUE(rec->received().empty());
  } else {
    EXPECT_EQ(r.error(), errc::node_down) << r.error().message();
  }
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, RefusesToDialAListenerWithACertificateFromAnotherCa) {
  accept_box box;
  auto rogue = make_tls(node("rogue", "ca"));
  auto client = make_tls(node("a"));
  auto address = rogue->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*client, *address);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::node_down);
  EXPECT_NE(r.error().detail().find("certificate verify failed"), std::string::npos)
      << r.error().message();
  ASSERT_TRUE(eventually([&] { return rogue->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, RefusesAPlainClientAndKeepsServing) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto plain = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*plain, *address);
  ASSERT_TRUE(r) << r.error().message();
  auto rec = recorder::make();
  rec->start(*r);
  rec->send(as_bytes("GET / HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);

  auto client = make_tls(node("b"));
  auto [c, s] = connect(*client, *address, box);
  ASSERT_TRUE(c && s);
  auto echo = recorder::make(true);
  echo->start(s);
  auto again = recorder::make();
  again->start(c);
  again->send(as_bytes("still here"));
  ASSERT_TRUE(again->wait_received(10));
  EXPECT_EQ(again->received_string(), "still here");
}

TEST_F(TcpTransportTls, DropsAnAcceptedConnectionWhoseHandshakeTimesOut) {
  accept_box box;
  tcp_transport_config quick;
  quick.handshake_timeout = 200ms;
  auto server = make_tls(node("a"), quick);
  auto plain = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*plain, *address);
  ASSERT_TRUE(r);
  auto rec = recorder::make();
  rec->start(*r);  // says nothing
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; }));
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, DialTimesOutWhenTheHandshakeStalls) {
  accept_box box;
  auto silent = make_transport();  // accepts, never starts its links: never answers
  tcp_transport_config quick;
  quick.dial_timeout = 300ms;
  auto client = make_tls(node("a"), quick);
  auto address = silent->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*client, *address);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::node_down);
  EXPECT_NE(r.error().detail().find("timed out"), std::string::npos) << r.error().message();
}

TEST_F(TcpTransportTls, StopEndsPendingHandshakes) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto plain = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  auto r = dial(*plain, *address);  // the server now waits for a ClientHello
  ASSERT_TRUE(r);
  auto rec = recorder::make();
  rec->start(*r);
  server->stop();  // does not wait for the handshake timeout
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(server->refused_handshakes(), 0u);
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, StopEndsPendingDials) {
  accept_box box;
  auto silent = make_transport();
  auto client = make_tls(node("a"));
  auto address = silent->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  std::mutex m;
  std::optional<result<link_ptr>> answer;
  client->dial(*address, [&](result<link_ptr> r) {
    std::lock_guard lk(m);
    answer.emplace(std::move(r));
  });
  ASSERT_TRUE(box.next());  // connected: the dial now waits for the handshake
  client->stop();
  std::lock_guard lk(m);
  ASSERT_TRUE(answer.has_value());  // at once: stop() waited for it
  ASSERT_FALSE(*answer);
  EXPECT_EQ(answer->error(), errc::shutting_down);
}

TEST_F(TcpTransportTls, AcceptsOpensslWithANodeCertificate) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  const testing::run_result r =
      openssl({"s_client", "-connect", *address, "-tls1_3", "-cert", file("b.pem"), "-key",
               file("b.key"), "-CAfile", file("ca.pem")});
  ASSERT_FALSE(r.timed_out) << r.output;
  EXPECT_NE(r.output.find("Verify return code: 0 (ok)"), std::string::npos) << r.output;
  link_ptr l = box.next();  // the handshake completed on our side too
  ASSERT_TRUE(l);
  EXPECT_EQ(l->channel_binding().size(), 32u);
  auto rec = recorder::make();
  rec->start(l);
  ASSERT_TRUE(rec->wait_closed());  // openssl has gone
  EXPECT_EQ(server->refused_handshakes(), 0u);
}

TEST_F(TcpTransportTls, RefusesOpensslWithoutACertificate) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  const testing::run_result r =
      openssl({"s_client", "-connect", *address, "-tls1_3", "-CAfile", file("ca.pem")});
  ASSERT_FALSE(r.timed_out) << r.output;
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; })) << r.output;
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, RefusesOpensslSpeakingTls12) {
  accept_box box;
  auto server = make_tls(node("a"));
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  const testing::run_result r =
      openssl({"s_client", "-connect", *address, "-tls1_2", "-cert", file("b.pem"), "-key",
               file("b.key"), "-CAfile", file("ca.pem")});
  ASSERT_FALSE(r.timed_out) << r.output;
  EXPECT_NE(r.status, 0) << r.output;
  ASSERT_TRUE(eventually([&] { return server->refused_handshakes() == 1; })) << r.output;
  EXPECT_EQ(box.count(), 0u);
}

TEST_F(TcpTransportTls, MakeRejectsUnusableFiles) {
  const auto rejects = [](tls_config tls, const std::string& needle) {
    tcp_transport_config c;
    c.tls = std::move(tls);
    auto t = tcp_transport::make(std::move(c));
    EXPECT_FALSE(t);
    if (t) return;
    EXPECT_EQ(t.error(), errc::invalid_argument);
    EXPECT_NE(t.error().detail().find(needle), std::string::npos) << t.error().message();
  };
  tls_config missing_ca = node("a");
  missing_ca.ca_file = file("nowhere.pem");
  rejects(missing_ca, "nowhere.pem");
  tls_config missing_cert = node("a");
  missing_cert.cert_file = file("nothing.pem");
  rejects(missing_cert, "nothing.pem");
  tls_config not_a_key = node("a");
  not_a_key.key_file = file("a.pem");
  rejects(not_a_key, "a.pem");
  tls_config wrong_key = node("a");
  wrong_key.key_file = file("b.key");
  rejects(wrong_key, "b.key");
}

}  // namespace
}  // namespace troupe::net
