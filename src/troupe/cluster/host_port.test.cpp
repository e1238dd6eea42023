#include "troupe/cluster/host_port.hpp"

#include <gtest/gtest.h>

#include <string>

namespace troupe::cluster {
namespace {

TEST(host_port, parses_ipv4_ipv6_and_names) {
  auto v4 = parse_host_port("10.0.0.1:7000");
  ASSERT_TRUE(v4) << v4.error().message();
  EXPECT_EQ(v4->form, host_port::kind::ipv4);
  EXPECT_EQ(v4->host, "10.0.0.1");
  EXPECT_EQ(v4->port, 7000);
  auto v6 = parse_host_port("[0:0::1]:7001");
  ASSERT_TRUE(v6) << v6.error().message();
  EXPECT_EQ(v6->form, host_port::kind::ipv6);
  EXPECT_EQ(v6->to_string(), "[::1]:7001") << "canonical form";
  auto name = parse_host_port("node-1.example_x:65535");
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_EQ(name->form, host_port::kind::name);
  EXPECT_FALSE(name->numeric());
  EXPECT_EQ(name->to_string(), "node-1.example_x:65535");
  EXPECT_TRUE(parse_host_port("0.0.0.0:0", true));
  EXPECT_FALSE(parse_host_port("0.0.0.0:0"));
}

TEST(host_port, refuses_what_is_not_an_address) {
  for (const char* bad :
       {"", ":7000", "a", "a:", "a:-1", "a:70000", "a:1x", "1.2.3.4.5:1", "256.1.1.1:1", "::1:7000",
        "[::1:7000", "[nope]:1", "a b:1", ".a:1", "a..b:1", "a:123456"}) {
    auto r = parse_host_port(bad);
    ASSERT_FALSE(r) << "'" << bad << "'";
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << bad;
    EXPECT_NE(r.error().detail().find("bad address"), std::string::npos) << bad;
  }
  EXPECT_FALSE(parse_host_port(std::string(300, 'a') + ":1")) << "a name over 253 bytes";
}

TEST(host_port, formats_and_parses_ipv4) {
  EXPECT_EQ(parse_ipv4("192.168.1.20").value(), 0xC0A80114u);
  EXPECT_EQ(format_ipv4(0xC0A80114u), "192.168.1.20");
  EXPECT_FALSE(parse_ipv4("1.2.3"));
  EXPECT_FALSE(parse_ipv4("1.2.3.4 "));
  EXPECT_FALSE(parse_ipv4(""));
}

}  // namespace
}  // namespace troupe::cluster
