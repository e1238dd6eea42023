#include "troupe/net/handshake.hpp"

#include <gtest/gtest.h>

#include <cstddef>

#include "troupe/net/testing/handshake_support.hpp"

namespace troupe::net {
namespace {

using namespace troupe::net::handshake_testing;
using namespace std::chrono_literals;
using HandshakeHostile = handshake_test;

TEST_F(HandshakeHostile, EveryTruncationIsMalformed) {
  // The same seed gives the same challenges: a reference run, then replays.
  auto fresh = [] {
    static sim::manual_clock clock;
    sim::seeded_random random(99);
    auto d = handshake::make(dialer, config("alpha", 1), random, clock.now()).value();
    auto a = handshake::make(acceptor, config("beta", 2), random, clock.now()).value();
    return std::pair{std::move(d), std::move(a)};
  };
  auto [rd, ra] = fresh();
  const exchange ex = run(rd, ra);
  ASSERT_EQ(rd.state(), handshake_state::authenticated);
  const bytes& d_hello = ex.from_dialer[0];
  const bytes& a_hello = ex.from_acceptor[0];
  const bytes reject = reject_bytes(handshake_failure::malformed);

  for (std::size_t n = 0; n < d_hello.size(); ++n) {
    auto [d, a] = fresh();
    (void)a.start();
    EXPECT_EQ(a.on_message(std::span(d_hello).first(n)), messages{reject}) << n;
    EXPECT_EQ(a.failure_kind(), handshake_failure::malformed) << n;
  }
  for (std::size_t n = 0; n < a_hello.size(); ++n) {
    auto [d, a] = fresh();
    (void)d.start();
    EXPECT_EQ(d.on_message(std::span(a_hello).first(n)), messages{reject}) << n;
    EXPECT_EQ(d.failure_kind(), handshake_failure::malformed) << n;
  }
  for (std::size_t n = 0; n < ex.from_dialer[1].size(); ++n) {
    auto [d, a] = fresh();
    (void)a.start();
    (void)a.on_message(d_hello);
    EXPECT_EQ(a.on_message(std::span(ex.from_dialer[1]).first(n)), messages{reject}) << n;
    EXPECT_EQ(a.failure_kind(), handshake_failure::malformed) << n;
  }
  for (std::size_t n = 0; n < ex.from_acceptor[1].size(); ++n) {
    auto [d, a] = fresh();
    (void)d.start();
    (void)d.on_message(a_hello);
    // The acceptor is done once it sent its proof: nothing goes back.
    EXPECT_TRUE(d.on_message(std::span(ex.from_acceptor[1]).first(n)).empty()) << n;
    EXPECT_EQ(d.failure_kind(), handshake_failure::malformed) << n;
  }
  {
    auto [d, a] = fresh();
    (void)a.start();
    (void)a.on_message(std::span(reject).first(1));
    EXPECT_EQ(a.failure_kind(), handshake_failure::malformed);
  }
  {  // One byte too many, and an oversized message.
    auto [d, a] = fresh();
    bytes longer = d_hello;
    longer.push_back(std::byte{0});
    (void)a.on_message(longer);
    EXPECT_EQ(a.failure_kind(), handshake_failure::malformed);
    auto [d2, a2] = fresh();
    (void)a2.on_message(bytes(handshake_max_message_size + 1, std::byte{1}));
    EXPECT_EQ(a2.failure().detail(), "handshake message larger than 1024 bytes");
  }
}

TEST_F(HandshakeHostile, OutOfOrderMessagesAreMalformed) {
  handshake d = make_dialer();
  handshake a = make_acceptor();
  const bytes d_hello = d.start().at(0);
  const bytes a_hello = a.start().at(0);
  handshake a1 = make_acceptor();
  EXPECT_EQ(a1.on_message(encode_proof({})).size(), 2u);  // hello, reject
  EXPECT_EQ(a1.failure().detail(), "expected a hello, got a proof");
  (void)a.on_message(d_hello);
  EXPECT_EQ(a.on_message(d_hello), messages{reject_bytes(handshake_failure::malformed)});
  EXPECT_EQ(a.failure().detail(), "expected a proof, got a hello");
  // Two dialers (or our own hello echoed back) claim the same role.
  EXPECT_EQ(d.on_message(d_hello), messages{reject_bytes(handshake_failure::malformed)});
  EXPECT_EQ(d.failure_kind(), handshake_failure::malformed);
}

TEST_F(HandshakeHostile, RejectEndsTheHandshakeWithThePeersReason) {
  handshake d = make_dialer();
  (void)d.start();
  EXPECT_TRUE(d.on_message(encode_reject({200})).empty());
  EXPECT_EQ(d.failure_kind(), handshake_failure::rejected);
  EXPECT_EQ(static_cast<int>(d.peer_reason()), 200);
  EXPECT_EQ(d.failure().detail(), "the peer refused the handshake: unknown");
}

TEST_F(HandshakeHostile, RandomGarbageNeverAuthenticates) {
  xoshiro256 gen(12345);
  handshake ref_d = make_dialer();
  handshake ref_a = make_acceptor();
  const exchange ex = run(ref_d, ref_a);
  for (int iter = 0; iter < 3000; ++iter) {
    handshake h = gen() % 2 ? make_dialer() : make_acceptor();
    const messages valid_hellos{ex.from_dialer[0], ex.from_acceptor[0]};
    bool failed_before = false;
    for (int k = 0, n = static_cast<int>(gen() % 4) + 1; k < n; ++k) {
      bytes m;
      switch (gen() % 3) {
        case 0:  // a valid hello as it is (to reach the proof)
          m = valid_hellos[gen() % 2];
          break;
        case 1: {  // a valid message with one byte changed
          const messages& pool = gen() % 2 ? ex.from_dialer : ex.from_acceptor;
          m = pool[gen() % pool.size()];
          m[gen() % m.size()] ^= static_cast<std::byte>(gen() % 255 + 1);
          break;
        }
        default:  // random bytes with a plausible first byte
          m.resize(gen() % 1100);
          for (auto& b : m) b = static_cast<std::byte>(gen());
          if (!m.empty()) m[0] = static_cast<std::byte>(gen() % 4);
      }
      const messages out = h.on_message(m);
      ASSERT_NE(h.state(), handshake_state::authenticated);
      if (failed_before) {
        ASSERT_TRUE(out.empty());
      }
      for (const bytes& o : out) ASSERT_LE(o.size(), handshake_max_message_size);
      failed_before = h.state() == handshake_state::failed;
    }
  }
}

TEST_F(HandshakeHostile, InputAfterTheEndIsIgnored) {
  handshake d = make_dialer();
  handshake a = make_acceptor();
  const exchange ex = run(d, a);
  for (const bytes& m : {ex.from_acceptor[0], ex.from_acceptor[1], bytes{std::byte{9}}, bytes{}}) {
    EXPECT_TRUE(d.on_message(m).empty());
    EXPECT_EQ(d.state(), handshake_state::authenticated);
    EXPECT_EQ(d.peer()->name, "beta");
  }
  d.on_timer(d.deadline() + 1h);
  EXPECT_EQ(d.state(), handshake_state::authenticated);

  handshake f = make_acceptor();
  (void)f.on_message(bytes{std::byte{9}});
  ASSERT_EQ(f.state(), handshake_state::failed);
  EXPECT_TRUE(f.on_message(ex.from_dialer[0]).empty());
  EXPECT_TRUE(f.start().empty());
  EXPECT_EQ(f.failure_kind(), handshake_failure::malformed);
}

}  // namespace
}  // namespace troupe::net
