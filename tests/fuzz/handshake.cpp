// libFuzzer target: the node-to-node handshake (troupe/net/handshake.hpp).
//
// The input drives one side of a handshake as its peer would:
//   byte 0     bit 0: the side under test is the dialer (1) or the acceptor (0);
//              bit 1: call start() before the first message
//   then       records of a 2-byte little-endian length and that many bytes
//              (fewer at the end of the input), each one message from the
//              peer; the length 0xffff instead fires the timer at the deadline.
// For every input:
//   - the side never ends authenticated unless the message that completed it
//     is exactly the proof the peer's role owes for this transcript (which
//     needs the cookie: the input cannot contain it);
//   - everything it sends decodes, fits the size limit and is what its state
//     allows: its hello first, a proof only from a dialer that accepted a
//     hello or from an acceptor that just authenticated, at most one reject
//     when it fails, naming its own failure;
//   - a failure's error code matches its kind; timed_out comes only from the
//     timer; once ended, nothing changes and nothing is sent.
// A violation aborts (a crash for libFuzzer).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "troupe/core/random.hpp"
#include "troupe/net/handshake.hpp"

namespace {

using namespace troupe;
using namespace troupe::net;
using bytes = std::vector<std::byte>;

constexpr const char* cookie = "fuzz-cookie";
constexpr const char* our_name = "fuzz-target";

// The same challenge every run (as troupe::sim::seeded_random(1) draws it).
class fixed_random final : public random_source {
 public:
  std::uint64_t next() noexcept override { return gen_(); }

 private:
  xoshiro256 gen_{1};
};

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "handshake: check failed: %s\n", what);
  std::abort();
}

std::optional<handshake_message> decode(std::span<const std::byte> m) {
  auto d = decode_handshake_message(m);
  if (!d) return std::nullopt;
  return *d;
}

bool is_kind(const bytes& m, handshake_kind k) {
  return !m.empty() && m[0] == static_cast<std::byte>(k);
}

struct driver {
  handshake h;
  handshake_role role;
  bytes our_hello;
  bytes their_hello;

  // Checks what the side sent in answer to `in` (null: start() or the timer).
  void sent(const std::vector<handshake::message>& out, handshake_state before, const bytes* in) {
    for (const bytes& m : out) {
      check(m.size() <= handshake_max_message_size, "a message over the size limit");
      check(decode(m).has_value(), "a message that does not decode");
    }
    if (before != handshake_state::in_progress) {
      check(out.empty(), "output after the end");
      return;
    }
    std::size_t i = 0;
    if (our_hello.empty() && !out.empty()) {
      check(is_kind(out[0], handshake_kind::hello), "the first message is not a hello");
      our_hello = out[0];
      i = 1;
    }
    for (; i < out.size(); ++i) {
      const bytes& m = out[i];
      check(i + 1 == out.size(), "more than one answer to a message");
      check(in != nullptr, "an answer without a message");
      if (is_kind(m, handshake_kind::proof)) {
        if (role == handshake_role::acceptor)
          check(h.state() == handshake_state::authenticated,
                "an acceptor's proof before it authenticated the dialer");
        else
          check(is_kind(*in, handshake_kind::hello) && h.state() == handshake_state::in_progress,
                "a dialer's proof other than in answer to the hello");
      } else {
        check(is_kind(m, handshake_kind::reject), "an answer that is neither proof nor reject");
        check(h.state() == handshake_state::failed, "a reject without failing");
        check(static_cast<handshake_failure>(m[1]) == h.failure_kind(),
              "a reject that does not name the failure");
      }
    }
  }

  void feed(const bytes& in) {
    const handshake_state before = h.state();
    const handshake_failure failure_before = h.failure_kind();
    const auto out = h.on_message(in);
    sent(out, before, &in);
    if (before != handshake_state::in_progress) {
      check(h.state() == before && h.failure_kind() == failure_before, "a change after the end");
      return;
    }
    if (h.state() == handshake_state::in_progress && their_hello.empty() &&
        is_kind(in, handshake_kind::hello))
      their_hello = in;  // accepted as the peer's hello
    if (h.state() == handshake_state::authenticated) {
      check(!their_hello.empty() && !our_hello.empty(), "authenticated without both hellos");
      const handshake_role prover =
          role == handshake_role::dialer ? handshake_role::acceptor : handshake_role::dialer;
      const bool dialer = role == handshake_role::dialer;
      const std::string key = cookie;
      const proof_message expected{
          handshake_proof(std::as_bytes(std::span<const char>(key.data(), key.size())), prover, {},
                          dialer ? our_hello : their_hello, dialer ? their_hello : our_hello)};
      check(in == encode_proof(expected), "authenticated without the correct proof");
      check(h.peer() != nullptr && validate_node_name(h.peer()->name).has_value() &&
                h.peer()->name != our_name,
            "an authenticated peer with a bad name");
    }
    if (h.state() == handshake_state::failed) {
      check(h.failure_kind() != handshake_failure::timed_out, "timed out without the timer");
      check(h.failure_kind() != handshake_failure::none, "failed without a reason");
    }
  }

  void timer() {
    const handshake_state before = h.state();
    h.on_timer(h.deadline() - std::chrono::nanoseconds(1));
    check(h.state() == before, "the timer fired before the deadline");
    h.on_timer(h.deadline());
    if (before == handshake_state::in_progress)
      check(h.failure_kind() == handshake_failure::timed_out, "no time-out at the deadline");
    else
      check(h.state() == before, "the timer changed an ended handshake");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const handshake_role role = flags & 1 ? handshake_role::dialer : handshake_role::acceptor;

  fixed_random random;
  handshake_config config;
  config.node_name = our_name;
  config.incarnation = 0x1234;
  config.cookie = cookie;
  auto made = handshake::make(role, std::move(config), random, time_point(std::chrono::hours(1)));
  check(made.has_value(), "the handshake does not build");
  driver d{std::move(made).value(), role, {}, {}};

  if (flags & 2) d.sent(d.h.start(), handshake_state::in_progress, nullptr);

  std::size_t pos = 1;
  while (pos + 2 <= size) {
    const std::size_t len = static_cast<std::size_t>(data[pos]) | (std::size_t{data[pos + 1]} << 8);
    pos += 2;
    if (len == 0xffff) {
      d.timer();
      continue;
    }
    const std::size_t n = len < size - pos ? len : size - pos;
    const auto* p = reinterpret_cast<const std::byte*>(data + pos);
    d.feed(bytes(p, p + n));
    pos += n;
  }
  if (d.h.state() == handshake_state::failed) {
    const error& e = d.h.failure();
    const handshake_failure code_of =
        d.h.failure_kind() == handshake_failure::rejected ? d.h.peer_reason() : d.h.failure_kind();
    check(e.code() == to_errc(code_of), "an error code that does not match the failure");
  }
  return 0;
}
