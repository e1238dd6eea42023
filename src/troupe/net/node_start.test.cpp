// Starting a node from its config alone: the node makes its own TCP
// transport (TLS files in the config: tests/remote/remote_tls.test.cpp).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "troupe/net/crypto.hpp"
#include "troupe/net/node.hpp"
#include "troupe/net/testing/two_nodes.hpp"

namespace troupe::net {
namespace {

using namespace node_testing;
namespace fs = std::filesystem;

node_config config(std::string name) {
  node_config c;
  c.name = std::move(name);
  c.listen = "127.0.0.1:0";
  c.cookie = "secret";
  c.log = [](std::string_view) {};
  return c;
}

// Starting from the config alone, with and without TLS, between real
// processes: tests/remote (remote_process.test.cpp, remote_tls.test.cpp).

TEST(node_start, bad_transport_settings_are_typed_errors) {
  system sys;
  node_config none = config("a");
  none.io_threads = 0;
  auto r = node::start(sys, none, test_types());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::invalid_argument);
  EXPECT_NE(r.error().detail().find("io_threads"), std::string::npos) << r.error().message();

  // The node's checks still apply; the transport it made is stopped again.
  auto bad_name = node::start(sys, config("a b"), test_types());
  ASSERT_FALSE(bad_name);
  EXPECT_EQ(bad_name.error(), errc::invalid_name);
  node_config no_cookie = config("a");
  no_cookie.cookie.clear();
  auto r2 = node::start(sys, no_cookie, test_types());
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error(), errc::invalid_argument);
  node_config taken = config("a");
  auto first = node::start(sys, config("first"), test_types());
  ASSERT_TRUE(first) << first.error().message();
  taken.listen = (*first)->address();  // already bound
  auto r3 = node::start(sys, taken, test_types());
  ASSERT_FALSE(r3);
  EXPECT_EQ(r3.error(), errc::invalid_argument);
}

class node_start_tls_files : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto_random rng;
    dir_ = fs::temp_directory_path() / ("troupe-node-start-" + std::to_string(rng.next()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "garbage.pem") << "-----BEGIN CERTIFICATE-----\nnot base64 at all\n";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Starts a node whose TLS files are `ca`, `cert`, `key`; expects a typed
  // refusal whose detail names `culprit`.
  void refused(const std::string& ca, const std::string& cert, const std::string& key,
               const std::string& culprit) {
    system sys;
    node_config c = config("a");
    c.tls = tls_config{ca, cert, key};
    auto r = node::start(sys, c, test_types());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), errc::invalid_argument);
    EXPECT_NE(r.error().detail().find(culprit), std::string::npos) << r.error().message();
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(node_start_tls_files, missing_or_unreadable_files_are_refused_with_invalid_argument) {
  refused(file("missing-ca.pem"), file("a.pem"), file("a.key"), "missing-ca.pem");
  refused(file("garbage.pem"), file("a.pem"), file("a.key"), "garbage.pem");
  refused("", "", "", "CA file");
}

}  // namespace
}  // namespace troupe::net
