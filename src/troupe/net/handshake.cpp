#include "troupe/net/handshake.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>

namespace troupe::net {
namespace {

std::string describe(const std::string& name, std::uint64_t incarnation) {
  char inc[24];
  std::snprintf(inc, sizeof inc, "%016" PRIx64, incarnation);
  return "'" + name + "' (incarnation " + inc + ")";
}

std::string_view kind_name(std::byte b) {
  switch (static_cast<handshake_kind>(b)) {
    case handshake_kind::hello:
      return "a hello";
    case handshake_kind::proof:
      return "a proof";
    case handshake_kind::reject:
      return "a reject";
  }
  return "an unknown message";
}

}  // namespace

result<handshake> handshake::make(handshake_role role, handshake_config config,
                                  random_source& random, time_point now) {
  if (auto valid = validate_node_name(config.node_name); !valid) return valid.error();
  if (config.cookie.empty()) return error(errc::invalid_argument, "the cluster cookie is empty");
  if (config.timeout <= duration::zero())
    return error(errc::invalid_argument, "the handshake timeout is not positive");
  return handshake(role, std::move(config), random, now);
}

handshake::handshake(handshake_role role, handshake_config config, random_source& random,
                     time_point now)
    : role_(role),
      name_(std::move(config.node_name)),
      incarnation_(config.incarnation),
      cookie_(std::as_bytes(std::span<const char>(config.cookie.data(), config.cookie.size()))),
      channel_binding_(std::move(config.channel_binding)),
      timeout_(config.timeout),
      deadline_(now + config.timeout) {
  hello_message hello;
  hello.role = role_;
  hello.incarnation = incarnation_;
  hello.name = name_;
  for (std::size_t i = 0; i < hello.challenge.size(); i += 8) {
    std::uint64_t r = random.next();
    for (std::size_t j = 0; j < 8; ++j)
      hello.challenge[i + j] = static_cast<std::byte>(r >> (8 * j));
  }
  our_hello_ = encode_hello(hello);
}

std::vector<handshake::message> handshake::start() {
  std::vector<message> out;
  if (started_ || state_ != handshake_state::in_progress) return out;
  started_ = true;
  out.push_back(our_hello_);
  return out;
}

std::vector<handshake::message> handshake::on_message(std::span<const std::byte> payload) {
  std::vector<message> out;
  if (state_ != handshake_state::in_progress) return out;
  if (!started_) out = start();

  if (payload.size() > handshake_max_message_size) {
    fail(handshake_failure::malformed, "handshake message larger than 1024 bytes", &out);
  } else if (payload.empty()) {
    fail(handshake_failure::malformed, "empty handshake message", &out);
  } else if (payload[0] == static_cast<std::byte>(handshake_kind::reject)) {
    on_reject(payload, out);
  } else if (phase_ == phase::await_hello) {
    on_hello(payload, out);
  } else {
    on_proof(payload, out);
  }
  return out;
}

void handshake::on_hello(std::span<const std::byte> payload, std::vector<message>& out) {
  if (payload[0] != static_cast<std::byte>(handshake_kind::hello))
    return fail(handshake_failure::malformed,
                "expected a hello, got " + std::string(kind_name(payload[0])), &out);

  // The version range comes first in every version of the hello: check it
  // before the rest, whose layout a newer peer may have changed.
  auto versions = decode_hello_versions(payload);
  if (!versions) return fail(handshake_failure::malformed, versions.error().detail(), &out);
  const std::uint16_t lo = std::max(handshake_version_min, versions->min);
  const std::uint16_t hi = std::min(handshake_version_max, versions->max);
  if (lo > hi)
    return fail(handshake_failure::wrong_version,
                "no protocol version in common: this node speaks " +
                    std::to_string(handshake_version_min) + ".." +
                    std::to_string(handshake_version_max) + ", the peer " +
                    std::to_string(versions->min) + ".." + std::to_string(versions->max),
                &out);

  auto decoded = decode_handshake_message(payload);
  if (!decoded) return fail(handshake_failure::malformed, decoded.error().detail(), &out);
  const auto& hello = std::get<hello_message>(*decoded);
  if (hello.role != peer_role())
    return fail(handshake_failure::malformed,
                "the peer's hello claims this side's role (" + std::string(to_string(role_)) + ")",
                &out);
  if (hello.name == name_) {
    if (hello.incarnation == incarnation_)
      return fail(handshake_failure::self_dial,
                  "node " + describe(name_, incarnation_) + " connected to itself", &out);
    return fail(handshake_failure::name_clash,
                "the peer uses this node's name: " + describe(hello.name, hello.incarnation) +
                    " (this node is " + describe(name_, incarnation_) + ")",
                &out);
  }

  their_hello_.assign(payload.begin(), payload.end());
  peer_ = handshake_peer{hello.name, hello.incarnation, hi};
  phase_ = phase::await_proof;
  // The dialer proves first; the acceptor answers only a valid proof.
  if (role_ == handshake_role::dialer)
    out.push_back(encode_proof(proof_message{proof_of(handshake_role::dialer)}));
}

void handshake::on_proof(std::span<const std::byte> payload, std::vector<message>& out) {
  auto decoded = decode_handshake_message(payload);
  if (!decoded) return fail(handshake_failure::malformed, decoded.error().detail(), &out);
  const auto* proof = std::get_if<proof_message>(&*decoded);
  if (proof == nullptr)
    return fail(handshake_failure::malformed,
                "expected a proof, got " + std::string(kind_name(payload[0])), &out);

  const hmac_sha256_digest expected = proof_of(peer_role());
  if (!constant_time_equal(proof->tag, expected))
    return fail(handshake_failure::bad_cookie,
                "peer " + describe(peer_.name, peer_.incarnation) +
                    " did not prove that it holds the cluster cookie",
                &out);

  if (role_ == handshake_role::acceptor)
    out.push_back(encode_proof(proof_message{proof_of(handshake_role::acceptor)}));
  finish(handshake_state::authenticated);
}

void handshake::on_reject(std::span<const std::byte> payload, std::vector<message>& out) {
  auto decoded = decode_handshake_message(payload);
  if (!decoded) return fail(handshake_failure::malformed, decoded.error().detail(), &out);
  const auto reason = static_cast<handshake_failure>(std::get<reject_message>(*decoded).reason);
  peer_reason_ = reason;
  // The peer has given up: it waits for nothing, so nothing is sent back.
  fail(handshake_failure::rejected,
       "the peer refused the handshake: " + std::string(to_string(reason)), nullptr);
}

hmac_sha256_digest handshake::proof_of(handshake_role prover) const {
  const bool dialer = role_ == handshake_role::dialer;
  return handshake_proof(cookie_.view(), prover, channel_binding_,
                         dialer ? our_hello_ : their_hello_, dialer ? their_hello_ : our_hello_);
}

handshake_role handshake::peer_role() const noexcept {
  return role_ == handshake_role::dialer ? handshake_role::acceptor : handshake_role::dialer;
}

void handshake::fail(handshake_failure kind, std::string detail, std::vector<message>* out) {
  failure_ = kind;
  const handshake_failure code_of = kind == handshake_failure::rejected ? peer_reason_ : kind;
  error_ = error(to_errc(code_of), std::move(detail));
  // Every peer message is answered unless the peer can no longer be waiting:
  // a dialer that already sent its proof hears either the acceptor's proof
  // (the acceptor is done) or a reject (the acceptor gave up).
  const bool peer_waits = !(role_ == handshake_role::dialer && phase_ == phase::await_proof);
  if (out != nullptr && peer_waits)
    out->push_back(encode_reject(reject_message{static_cast<std::uint8_t>(kind)}));
  finish(handshake_state::failed);
}

std::vector<handshake::message> handshake::refuse(handshake_failure kind, std::string detail) {
  std::vector<message> out;
  if (state_ != handshake_state::in_progress) return out;
  fail(kind, std::move(detail), &out);
  return out;
}

void handshake::finish(handshake_state s) {
  state_ = s;
  // Nothing needs the cookie or the transcript any more.
  cookie_.clear();
  our_hello_ = {};
  their_hello_ = {};
  channel_binding_ = {};
}

void handshake::on_timer(time_point now) {
  if (state_ != handshake_state::in_progress || now < deadline_) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count();
  fail(handshake_failure::timed_out,
       "the handshake did not finish within " + std::to_string(ms) +
           " ms (waiting for the peer's " + (phase_ == phase::await_hello ? "hello" : "proof") +
           ")",
       nullptr);
}

}  // namespace troupe::net
