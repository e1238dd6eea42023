#pragma once

// Helpers shared by the handshake tests: configs, and a driver that plays two
// handshakes against each other in memory.

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "troupe/net/handshake.hpp"
#include "troupe/sim/manual_clock.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::net::handshake_testing {

using bytes = std::vector<std::byte>;
using messages = std::vector<bytes>;
inline constexpr auto dialer = handshake_role::dialer;
inline constexpr auto acceptor = handshake_role::acceptor;

inline handshake_config config(std::string name, std::uint64_t incarnation,
                               std::string cookie = "sesame") {
  handshake_config c;
  c.node_name = std::move(name);
  c.incarnation = incarnation;
  c.cookie = std::move(cookie);
  return c;
}

inline bytes reject_bytes(handshake_failure f) {
  return encode_reject(reject_message{static_cast<std::uint8_t>(f)});
}

// What each side sent during run().
struct exchange {
  messages from_dialer;
  messages from_acceptor;
};

// Starts both sides and delivers their messages, in order, until neither has
// anything left to send.
inline exchange run(handshake& d, handshake& a) {
  exchange ex;
  std::deque<bytes> to_a;
  std::deque<bytes> to_d;
  for (auto& m : d.start()) ex.from_dialer.push_back(m), to_a.push_back(std::move(m));
  for (auto& m : a.start()) ex.from_acceptor.push_back(m), to_d.push_back(std::move(m));
  while (!to_a.empty() || !to_d.empty()) {
    if (!to_a.empty()) {
      const bytes m = std::move(to_a.front());
      to_a.pop_front();
      for (auto& r : a.on_message(m)) ex.from_acceptor.push_back(r), to_d.push_back(std::move(r));
    }
    if (!to_d.empty()) {
      const bytes m = std::move(to_d.front());
      to_d.pop_front();
      for (auto& r : d.on_message(m)) ex.from_dialer.push_back(r), to_a.push_back(std::move(r));
    }
  }
  return ex;
}

class handshake_test : public ::testing::Test {
 protected:
  handshake make(handshake_role role, handshake_config c) {
    auto h = handshake::make(role, std::move(c), random_, clock_.now());
    EXPECT_TRUE(h.has_value()) << h.error().message();
    return std::move(h).value();
  }
  handshake make_dialer(std::string cookie = "sesame") {
    return make(dialer, config("alpha", 0x1111, std::move(cookie)));
  }
  handshake make_acceptor(std::string cookie = "sesame") {
    return make(acceptor, config("beta", 0x2222, std::move(cookie)));
  }

  sim::seeded_random random_{7};
  sim::manual_clock clock_;
};

}  // namespace troupe::net::handshake_testing
