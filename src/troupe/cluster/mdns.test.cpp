#include "troupe/cluster/mdns.hpp"

#include <gtest/gtest.h>

#include <string>

// mdns::start's checks, which fail before anything is sent. Multicast itself
// runs in network namespaces of the system tests
// (tests/system/discovery_netns.test.cpp), never on this machine's network.

namespace troupe::cluster {
namespace {

mdns_config config() {
  mdns_config c;
  c.instance = "node-a";
  c.address = "192.0.2.1:7000";  // TEST-NET-1: on no interface here
  return c;
}

TEST(mdns, start_refuses_bad_names_and_addresses) {
  auto on_event = [](const mdns_event&) {};
  auto long_name = config();
  long_name.instance = std::string(64, 'n');
  EXPECT_EQ(mdns::start(long_name, on_event).error().code(), errc::invalid_name);
  auto empty_name = config();
  empty_name.instance.clear();
  EXPECT_EQ(mdns::start(empty_name, on_event).error().code(), errc::invalid_name);
  for (const char* bad : {"", "192.0.2.1", "192.0.2.1:0", "[::1]:7000", "name:7000"}) {
    auto c = config();
    c.address = bad;
    auto r = mdns::start(c, on_event);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), errc::invalid_argument) << bad;
  }
  auto bad_iface = config();
  bad_iface.interface_address = "eth0";
  EXPECT_EQ(mdns::start(bad_iface, on_event).error().code(), errc::invalid_argument);
  auto bad_host = config();
  bad_host.host_name = "a..local";
  EXPECT_EQ(mdns::start(bad_host, on_event).error().code(), errc::invalid_name);
  auto bad_timing = config();
  bad_timing.browse_max = std::chrono::milliseconds(10);
  EXPECT_EQ(mdns::start(bad_timing, on_event).error().code(), errc::invalid_argument);
}

TEST(mdns, start_fails_on_an_address_no_interface_has) {
  // Joining the group on 192.0.2.1 fails: no interface has that address.
  auto r = mdns::start(config(), [](const mdns_event&) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::invalid_argument);
  EXPECT_NE(r.error().detail().find("192.0.2.1"), std::string::npos) << r.error().detail();
}

}  // namespace
}  // namespace troupe::cluster
