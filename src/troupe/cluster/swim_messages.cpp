#include "troupe/cluster/swim_messages.hpp"

#include "troupe/codec/binary_reader.hpp"
#include "troupe/codec/binary_writer.hpp"

namespace troupe::cluster {
namespace {

constexpr std::uint8_t magic = 0x53;  // 'S'
constexpr std::uint8_t version = 1;
constexpr std::size_t max_name = 255;
constexpr std::size_t max_address = 300;
constexpr std::size_t max_updates = 4096;

void put(codec::binary_writer& w, const member_key& k) {
  w.string(k.name);
  w.varint(k.generation);
}

void put(codec::binary_writer& w, const member_update& u) {
  put(w, u.key);
  w.string(u.address);
  w.varint(static_cast<std::uint8_t>(u.state));
  w.varint(u.incarnation);
  w.string(u.from);
}

std::string bounded_string(codec::binary_reader& r, std::size_t max, const char* what) {
  std::string s = r.string();
  if (s.size() > max) r.fail(what);
  return s;
}

member_key get_key(codec::binary_reader& r) {
  member_key k;
  k.name = bounded_string(r, max_name, "member name too long");
  k.generation = r.varint();
  return k;
}

member_update get_update(codec::binary_reader& r) {
  member_update u;
  u.key = get_key(r);
  u.address = bounded_string(r, max_address, "address too long");
  const std::uint64_t s = r.varint();
  if (s > static_cast<std::uint64_t>(member_state::left)) r.fail("unknown member state");
  u.state = static_cast<member_state>(s);
  const std::uint64_t inc = r.varint();
  if (inc > UINT32_MAX) r.fail("incarnation out of range");
  u.incarnation = static_cast<std::uint32_t>(inc);
  u.from = bounded_string(r, max_name, "suspecter name too long");
  return u;
}

}  // namespace

std::string_view to_string(member_state s) noexcept {
  switch (s) {
    case member_state::alive:
      return "alive";
    case member_state::suspect:
      return "suspect";
    case member_state::dead:
      return "dead";
    case member_state::left:
      return "left";
  }
  return "unknown";
}

void encode(const packet& p, std::vector<std::byte>& out) {
  codec::binary_writer w(out);
  w.raw(std::as_bytes(std::span{&magic, 1}));
  w.raw(std::as_bytes(std::span{&version, 1}));
  w.varint(static_cast<std::uint8_t>(p.kind));
  put(w, p.sender);
  w.string(p.sender_address);
  w.varint(p.seq);
  if (p.kind == packet_kind::ping || p.kind == packet_kind::ping_req) put(w, p.target);
  if (p.kind == packet_kind::ping_req) w.string(p.target_address);
  w.varint(p.updates.size());
  for (const member_update& u : p.updates) put(w, u);
}

std::size_t encoded_size(const member_update& u) {
  // Counted, not encoded: it runs for every update offered to every packet.
  const auto varint = [](std::uint64_t v) {
    std::size_t n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  };
  const auto string = [&](const std::string& s) { return varint(s.size()) + s.size(); };
  return string(u.key.name) + varint(u.key.generation) + string(u.address) +
         varint(static_cast<std::uint8_t>(u.state)) + varint(u.incarnation) + string(u.from);
}

result<packet> decode_packet(std::span<const std::byte> in) {
  codec::binary_reader r(in, codec::decode_limits{.max_total = 1u << 20, .max_elements = 1u << 16});
  const auto head = r.raw(2);
  if (!r.ok()) return r.failure();
  if (static_cast<std::uint8_t>(head[0]) != magic)
    return error(errc::decode_error, "not a gossip packet");
  if (static_cast<std::uint8_t>(head[1]) != version)
    return error(errc::decode_error,
                 "unsupported gossip version " + std::to_string(static_cast<unsigned>(head[1])));
  packet p;
  const std::uint64_t kind = r.varint();
  if (kind < 1 || kind > static_cast<std::uint64_t>(packet_kind::gossip))
    r.fail("unknown packet kind");
  p.kind = static_cast<packet_kind>(kind);
  p.sender = get_key(r);
  p.sender_address = bounded_string(r, max_address, "address too long");
  const std::uint64_t seq = r.varint();
  if (seq > UINT32_MAX) r.fail("sequence out of range");
  p.seq = static_cast<std::uint32_t>(seq);
  if (p.kind == packet_kind::ping || p.kind == packet_kind::ping_req) p.target = get_key(r);
  if (p.kind == packet_kind::ping_req)
    p.target_address = bounded_string(r, max_address, "address too long");
  const std::size_t n = r.length(4);
  if (n > max_updates) r.fail("too many updates");
  if (r.ok()) {
    p.updates.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) p.updates.push_back(get_update(r));
  }
  if (!r.ok()) return r.failure();
  if (r.remaining() != 0) return error(errc::decode_error, "trailing bytes after the packet");
  if (p.sender.name.empty()) return error(errc::decode_error, "packet without a sender");
  return p;
}

}  // namespace troupe::cluster
