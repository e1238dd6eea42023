#include "troupe/net/handshake_messages.hpp"

#include <algorithm>

#include "troupe/codec/binary_reader.hpp"
#include "troupe/codec/binary_writer.hpp"

namespace troupe::net {
namespace {

using codec::binary_reader;
using codec::binary_writer;

// Handshake messages are tiny: a reader never needs more than this.
constexpr codec::decode_limits limits{.max_total = handshake_max_message_size,
                                      .max_elements = handshake_max_message_size,
                                      .max_depth = 1};

template <class U>
void write_fixed(binary_writer& w, U v) {
  std::byte buf[sizeof(U)];
  for (std::size_t i = 0; i < sizeof(U); ++i) buf[i] = static_cast<std::byte>(v >> (8 * i));
  w.raw(buf);
}

template <class U>
U read_fixed(binary_reader& r) {
  const std::span<const std::byte> b = r.raw(sizeof(U));
  U v = 0;
  for (std::size_t i = 0; i < b.size(); ++i) v |= static_cast<U>(static_cast<U>(b[i]) << (8 * i));
  return v;
}

// Reads the kind byte and checks it; true when it is `want`.
bool read_kind(binary_reader& r, handshake_kind want) {
  const auto b = read_fixed<std::uint8_t>(r);
  if (!r.ok()) return false;
  if (b != static_cast<std::uint8_t>(want)) {
    r.fail("unexpected message kind");
    return false;
  }
  return true;
}

// Reads what every version keeps at the front of a hello.
version_range read_hello_prefix(binary_reader& r) {
  if (!read_kind(r, handshake_kind::hello)) return {};
  const std::span<const std::byte> magic = r.raw(handshake_magic.size());
  if (!r.ok()) return {};
  if (!std::equal(magic.begin(), magic.end(), handshake_magic.begin())) {
    r.fail("bad magic: not a troupe handshake");
    return {};
  }
  version_range v;
  v.min = read_fixed<std::uint16_t>(r);
  v.max = read_fixed<std::uint16_t>(r);
  if (r.ok() && (v.min == 0 || v.min > v.max)) r.fail("invalid version range");
  return v;
}

hello_message read_hello(binary_reader& r) {
  hello_message m;
  const version_range v = read_hello_prefix(r);
  m.min_version = v.min;
  m.max_version = v.max;
  const auto role = read_fixed<std::uint8_t>(r);
  if (r.ok() && role > 1) r.fail("invalid role");
  m.role = static_cast<handshake_role>(role);
  m.incarnation = read_fixed<std::uint64_t>(r);
  const std::span<const std::byte> challenge = r.raw(handshake_challenge_size);
  if (r.ok()) std::copy(challenge.begin(), challenge.end(), m.challenge.begin());
  m.name = r.string();
  if (r.ok()) {
    if (auto valid = validate_node_name(m.name); !valid) r.fail(valid.error().detail());
  }
  const std::span<const std::byte> ext = r.bytes();
  m.extensions.assign(ext.begin(), ext.end());
  return m;
}

}  // namespace

std::string_view to_string(handshake_failure f) noexcept {
  switch (f) {
    case handshake_failure::none:
      return "none";
    case handshake_failure::malformed:
      return "malformed";
    case handshake_failure::wrong_version:
      return "wrong_version";
    case handshake_failure::bad_cookie:
      return "bad_cookie";
    case handshake_failure::self_dial:
      return "self_dial";
    case handshake_failure::name_clash:
      return "name_clash";
    case handshake_failure::rejected:
      return "rejected";
    case handshake_failure::timed_out:
      return "timed_out";
  }
  return "unknown";
}

std::string_view to_string(handshake_role r) noexcept {
  return r == handshake_role::dialer ? "dialer" : "acceptor";
}

errc to_errc(handshake_failure f) noexcept {
  switch (f) {
    case handshake_failure::bad_cookie:
      return errc::unauthorized;
    case handshake_failure::self_dial:
      return errc::invalid_argument;
    case handshake_failure::name_clash:
      return errc::name_taken;
    case handshake_failure::timed_out:
      return errc::timeout;
    default:
      return errc::decode_error;
  }
}

result<void> validate_node_name(std::string_view name) {
  if (name.empty()) return error(errc::invalid_name, "node name is empty");
  if (name.size() > 255) return error(errc::invalid_name, "node name is longer than 255 bytes");
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e)
      return error(errc::invalid_name,
                   "node name holds a byte that is not printable ASCII (or is a space)");
  }
  return {};
}

std::vector<std::byte> encode_hello(const hello_message& m) {
  std::vector<std::byte> out;
  out.reserve(64 + m.name.size() + m.extensions.size());
  out.push_back(static_cast<std::byte>(handshake_kind::hello));
  binary_writer w(out);
  w.raw(handshake_magic);
  write_fixed<std::uint16_t>(w, m.min_version);
  write_fixed<std::uint16_t>(w, m.max_version);
  write_fixed<std::uint8_t>(w, static_cast<std::uint8_t>(m.role));
  write_fixed<std::uint64_t>(w, m.incarnation);
  w.raw(m.challenge);
  w.string(m.name);
  w.bytes(m.extensions);
  return out;
}

std::vector<std::byte> encode_proof(const proof_message& m) {
  std::vector<std::byte> out;
  out.reserve(1 + m.tag.size());
  out.push_back(static_cast<std::byte>(handshake_kind::proof));
  out.insert(out.end(), m.tag.begin(), m.tag.end());
  return out;
}

std::vector<std::byte> encode_reject(const reject_message& m) {
  return {static_cast<std::byte>(handshake_kind::reject), static_cast<std::byte>(m.reason)};
}

result<version_range> decode_hello_versions(std::span<const std::byte> payload) {
  binary_reader r(payload, limits);
  const version_range v = read_hello_prefix(r);
  if (!r.ok()) return r.failure();
  return v;
}

result<handshake_message> decode_handshake_message(std::span<const std::byte> payload) {
  if (payload.size() > handshake_max_message_size)
    return error(errc::decode_error, "handshake message larger than 1024 bytes");
  if (payload.empty()) return error(errc::decode_error, "empty handshake message");
  binary_reader r(payload, limits);
  handshake_message m;
  switch (static_cast<handshake_kind>(payload[0])) {
    case handshake_kind::hello:
      m = read_hello(r);
      break;
    case handshake_kind::proof: {
      (void)r.raw(1);
      proof_message p;
      const std::span<const std::byte> tag = r.raw(p.tag.size());
      if (r.ok()) std::copy(tag.begin(), tag.end(), p.tag.begin());
      m = p;
      break;
    }
    case handshake_kind::reject:
      (void)r.raw(1);
      m = reject_message{read_fixed<std::uint8_t>(r)};
      break;
    default:
      return error(errc::decode_error, "unknown handshake message kind");
  }
  if (r.ok() && r.remaining() != 0) r.fail("bytes left over after the handshake message");
  if (!r.ok()) return r.failure();
  return m;
}

std::vector<std::byte> handshake_proof_input(handshake_role prover,
                                             std::span<const std::byte> channel_binding,
                                             std::span<const std::byte> dialer_hello,
                                             std::span<const std::byte> acceptor_hello) {
  std::vector<std::byte> out;
  out.reserve(32 + channel_binding.size() + dialer_hello.size() + acceptor_hello.size());
  binary_writer w(out);
  w.string(handshake_proof_label);
  write_fixed<std::uint8_t>(w, static_cast<std::uint8_t>(prover));
  w.bytes(channel_binding);
  w.bytes(dialer_hello);
  w.bytes(acceptor_hello);
  return out;
}

hmac_sha256_digest handshake_proof(std::span<const std::byte> cookie, handshake_role prover,
                                   std::span<const std::byte> channel_binding,
                                   std::span<const std::byte> dialer_hello,
                                   std::span<const std::byte> acceptor_hello) {
  return hmac_sha256(cookie,
                     handshake_proof_input(prover, channel_binding, dialer_hello, acceptor_hello));
}

}  // namespace troupe::net
