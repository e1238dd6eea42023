#include "troupe/net/handshake.hpp"

#include <gtest/gtest.h>

#include "troupe/net/testing/handshake_support.hpp"

namespace troupe::net {
namespace {

using namespace troupe::net::handshake_testing;
using namespace std::chrono_literals;
using Handshake = handshake_test;

TEST_F(Handshake, BothSidesAuthenticateEachOther) {
  handshake d = make_dialer();
  handshake a = make_acceptor();
  const exchange ex = run(d, a);
  ASSERT_EQ(d.state(), handshake_state::authenticated) << d.failure().message();
  ASSERT_EQ(a.state(), handshake_state::authenticated) << a.failure().message();
  EXPECT_EQ(d.peer()->name, "beta");
  EXPECT_EQ(d.peer()->incarnation, 0x2222u);
  EXPECT_EQ(d.peer()->version, 1);
  EXPECT_EQ(a.peer()->name, "alpha");
  EXPECT_EQ(a.peer()->incarnation, 0x1111u);
  EXPECT_EQ(ex.from_dialer.size(), 2u);  // hello, proof
  EXPECT_EQ(ex.from_acceptor.size(), 2u);
  EXPECT_EQ(d.failure_kind(), handshake_failure::none);
}

TEST_F(Handshake, StartsOnceAndHelloPrecedesAnAnswer) {
  handshake d = make_dialer();
  handshake a = make_acceptor();
  const messages hello = a.start();
  EXPECT_TRUE(a.start().empty());
  const messages out = d.on_message(hello.at(0));  // start() was not called
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0][0], std::byte{1});  // the hello first, then the proof
  EXPECT_EQ(out[1][0], std::byte{2});
  EXPECT_TRUE(d.start().empty());
}

TEST_F(Handshake, ArbitraryCookieBytesAndChannelBinding) {
  const std::string cookie("\0\xff cookie\n", 10);
  handshake_config dc = config("alpha", 1, cookie);
  handshake_config ac = config("beta", 2, cookie);
  dc.channel_binding = ac.channel_binding = bytes(32, std::byte{0x42});
  handshake d = make(dialer, std::move(dc));
  handshake a = make(acceptor, std::move(ac));
  run(d, a);
  EXPECT_EQ(d.state(), handshake_state::authenticated);
  EXPECT_EQ(a.state(), handshake_state::authenticated);

  // Different channels (a relay between two TLS sessions) do not verify.
  handshake_config dc2 = config("alpha", 1);
  dc2.channel_binding = bytes(32, std::byte{1});
  handshake d2 = make(dialer, std::move(dc2));
  handshake a2 = make_acceptor();
  run(d2, a2);
  EXPECT_EQ(a2.failure_kind(), handshake_failure::bad_cookie);
}

TEST_F(Handshake, WrongCookieEndsBothSidesAndLeaksNoProof) {
  for (const bool dialer_wrong : {true, false}) {
    handshake d = make_dialer(dialer_wrong ? "wrong" : "sesame");
    handshake a = make_acceptor(dialer_wrong ? "sesame" : "wrong");
    const exchange ex = run(d, a);
    EXPECT_EQ(a.state(), handshake_state::failed);
    EXPECT_EQ(a.failure_kind(), handshake_failure::bad_cookie);
    EXPECT_EQ(a.failure().code(), errc::unauthorized);
    EXPECT_EQ(a.failure().detail().find("sesame"), std::string::npos);
    EXPECT_EQ(a.failure().detail().find("wrong"), std::string::npos);
    // The acceptor answered with a reject, never with its own proof.
    ASSERT_EQ(ex.from_acceptor.size(), 2u);
    EXPECT_EQ(ex.from_acceptor[1], reject_bytes(handshake_failure::bad_cookie));
    EXPECT_EQ(d.state(), handshake_state::failed);
    EXPECT_EQ(d.failure_kind(), handshake_failure::rejected);
    EXPECT_EQ(d.peer_reason(), handshake_failure::bad_cookie);
    EXPECT_EQ(d.failure().code(), errc::unauthorized);
    EXPECT_EQ(d.peer(), nullptr);
    EXPECT_EQ(a.peer(), nullptr);
  }
}

TEST_F(Handshake, WrongVersionIsRefusedWhateverFollowsTheRange) {
  handshake a = make_acceptor();
  (void)a.start();
  hello_message future;
  future.min_version = future.max_version = 2;
  future.name = "alpha";
  bytes hello = encode_hello(future);
  hello.resize(9);  // a future layout after the range: here, nothing
  EXPECT_EQ(a.on_message(hello), messages{reject_bytes(handshake_failure::wrong_version)});
  EXPECT_EQ(a.failure_kind(), handshake_failure::wrong_version);
  EXPECT_EQ(a.failure().code(), errc::decode_error);
  EXPECT_NE(a.failure().detail().find("the peer 2..2"), std::string::npos);

  // A range that overlaps ours is fine: both speak version 1.
  handshake d = make_dialer();
  (void)d.start();
  handshake a2 = make_acceptor();
  hello_message wide;
  wide.role = acceptor;
  wide.min_version = 1;
  wide.max_version = 9;
  wide.name = "beta";
  const messages out = d.on_message(encode_hello(wide));
  EXPECT_EQ(d.state(), handshake_state::in_progress);
  EXPECT_EQ(out.size(), 1u);
}

TEST_F(Handshake, BadMagicIsMalformed) {
  handshake a = make_acceptor();
  (void)a.start();
  handshake d = make_dialer();
  bytes hello = d.start().at(0);
  hello[2] = std::byte{'X'};
  EXPECT_EQ(a.on_message(hello), messages{reject_bytes(handshake_failure::malformed)});
  EXPECT_EQ(a.failure_kind(), handshake_failure::malformed);
  EXPECT_EQ(a.failure().detail(), "bad magic: not a troupe handshake");
}

TEST_F(Handshake, ReflectedProofFails) {
  handshake d = make_dialer();
  handshake a = make_acceptor();
  const bytes d_hello = d.start().at(0);
  const bytes a_hello = a.start().at(0);
  const messages proof = d.on_message(a_hello);
  ASSERT_EQ(proof.size(), 1u);
  // The dialer's own proof echoed back is not the acceptor's.
  EXPECT_TRUE(d.on_message(proof[0]).empty());
  EXPECT_EQ(d.failure_kind(), handshake_failure::bad_cookie);

  // A proof made for the acceptor's role does not pass as the dialer's.
  (void)a.on_message(d_hello);
  const std::string cookie = "sesame";
  const auto key = std::as_bytes(std::span<const char>(cookie.data(), cookie.size()));
  const auto wrong_role = handshake_proof(key, acceptor, {}, d_hello, a_hello);
  EXPECT_EQ(a.on_message(encode_proof({wrong_role})),
            messages{reject_bytes(handshake_failure::bad_cookie)});
  EXPECT_EQ(a.failure_kind(), handshake_failure::bad_cookie);
  // The right one would have passed: the role is all that differs.
  EXPECT_NE(handshake_proof(key, dialer, {}, d_hello, a_hello), wrong_role);
}

TEST_F(Handshake, ReplayedProofFails) {
  handshake d = make_dialer();
  handshake a = make_acceptor();
  const exchange ex = run(d, a);
  ASSERT_EQ(a.state(), handshake_state::authenticated);
  // The same dialer hello and proof, replayed to a new acceptor (new challenge).
  handshake a2 = make_acceptor();
  (void)a2.start();
  EXPECT_TRUE(a2.on_message(ex.from_dialer[0]).empty());
  EXPECT_EQ(a2.on_message(ex.from_dialer[1]),
            messages{reject_bytes(handshake_failure::bad_cookie)});
  EXPECT_EQ(a2.failure_kind(), handshake_failure::bad_cookie);
}

TEST_F(Handshake, DeadlineBoundsTheWholeHandshake) {
  handshake a = make_acceptor();
  EXPECT_EQ(a.deadline(), clock_.now() + 5s);
  handshake d = make_dialer();
  const bytes d_hello = d.start().at(0);
  const messages proof = d.on_message(a.start().at(0));
  (void)a.on_message(d_hello);  // a slow peer: its proof does not come in time
  clock_.set(clock_.now() + 5s - 1ns);
  a.on_timer(clock_.now());
  EXPECT_EQ(a.state(), handshake_state::in_progress);
  clock_.set(clock_.now() + 1ns);
  a.on_timer(clock_.now());
  EXPECT_EQ(a.failure_kind(), handshake_failure::timed_out);
  EXPECT_EQ(a.failure().code(), errc::timeout);
  EXPECT_EQ(a.failure().detail(),
            "the handshake did not finish within 5000 ms (waiting for the peer's proof)");
  EXPECT_TRUE(a.on_message(proof.at(0)).empty());  // too late
  EXPECT_EQ(a.state(), handshake_state::failed);

  handshake_config c = config("gamma", 3);
  c.timeout = 250ms;
  handshake g = make(acceptor, std::move(c));
  EXPECT_EQ(g.deadline(), clock_.now() + 250ms);
}

TEST_F(Handshake, DialingItselfIsRefused) {
  handshake d = make(dialer, config("alpha", 0x1111));
  handshake a = make(acceptor, config("alpha", 0x1111));
  run(d, a);
  EXPECT_EQ(d.failure_kind(), handshake_failure::self_dial);
  EXPECT_EQ(a.failure_kind(), handshake_failure::self_dial);
  EXPECT_EQ(a.failure().code(), errc::invalid_argument);

  handshake d2 = make(dialer, config("alpha", 1));
  handshake a2 = make(acceptor, config("alpha", 2));
  run(d2, a2);
  EXPECT_EQ(d2.failure_kind(), handshake_failure::name_clash);
  EXPECT_EQ(a2.failure().code(), errc::name_taken);
}

TEST_F(Handshake, ConfigIsValidated) {
  for (const char* bad : {"", "a b", "\x7f", "tab\t"}) {
    auto h = handshake::make(dialer, config(bad, 1), random_, clock_.now());
    EXPECT_EQ(h.error().code(), errc::invalid_name) << bad;
  }
  EXPECT_EQ(handshake::make(dialer, config(std::string(256, 'n'), 1), random_, clock_.now())
                .error()
                .code(),
            errc::invalid_name);
  EXPECT_TRUE(handshake::make(dialer, config(std::string(255, 'n'), 1), random_, clock_.now()));
  EXPECT_EQ(handshake::make(dialer, config("a", 1, ""), random_, clock_.now()).error().code(),
            errc::invalid_argument);
  handshake_config zero = config("a", 1);
  zero.timeout = 0s;
  EXPECT_EQ(handshake::make(dialer, std::move(zero), random_, clock_.now()).error().code(),
            errc::invalid_argument);

  // A peer's name is checked too.
  handshake a = make_acceptor();
  hello_message h;
  h.name = "bad name";
  (void)a.on_message(encode_hello(h));
  EXPECT_EQ(a.failure_kind(), handshake_failure::malformed);
}

}  // namespace
}  // namespace troupe::net
