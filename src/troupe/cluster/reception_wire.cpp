#include "troupe/cluster/reception_wire.hpp"

#include "troupe/codec/binary_reader.hpp"
#include "troupe/net/wire.hpp"

namespace troupe::cluster::reception_wire {

namespace {

// Kind bytes: a want and a batch of changes per table.
constexpr std::uint8_t kind_want = 1;
constexpr std::uint8_t kind_changes = 2;
constexpr std::uint8_t kind_group_want = 3;
constexpr std::uint8_t kind_group_changes = 4;

std::uint8_t want_kind(table t) { return t == table::groups ? kind_group_want : kind_want; }
std::uint8_t changes_kind(table t) {
  return t == table::groups ? kind_group_changes : kind_changes;
}

using net::wire::read_u8;
using net::wire::write_u8;

}  // namespace

void encode(codec::binary_writer& w, const want& m) {
  write_u8(w, want_kind(m.of));
  w.varint(m.origin);
  w.varint(m.have);
}

void encode(codec::binary_writer& w, const changes& m) {
  write_u8(w, changes_kind(m.of));
  w.varint(m.origin);
  w.varint(m.base);
  w.varint(m.top);
  w.boolean(m.reset);
  w.varint(m.ops.size());
  for (const op& o : m.ops) {
    write_u8(w, static_cast<std::uint8_t>(o.what));
    w.varint(o.version);
    w.string(o.label);
    if (o.what == reception_op::kind::add) {
      w.string(o.key);
      w.string(o.type);
      write_u8(w, static_cast<std::uint8_t>(o.vis));
      w.varint(o.actor);
    } else if (o.what == reception_op::kind::remove) {
      if (m.of == table::groups) w.string(o.key);  // a leave names its scope too
      w.varint(o.removes);
    }
  }
}

result<message> decode(std::span<const std::byte> bytes) {
  codec::binary_reader r(bytes);
  const std::uint8_t k = read_u8(r);
  if (k == kind_want || k == kind_group_want) {
    want m;
    m.of = k == kind_want ? table::receptionist : table::groups;
    m.origin = r.varint();
    m.have = r.varint();
    if (!r.done()) return error(errc::decode_error, "malformed want");
    return message(m);
  }
  if (k != kind_changes && k != kind_group_changes)
    return error(errc::decode_error, "unknown replication message");
  changes m;
  m.of = k == kind_changes ? table::receptionist : table::groups;
  // A group op is a join (add) or a leave (remove), always public.
  const std::uint8_t last_what = static_cast<std::uint8_t>(
      m.of == table::groups ? reception_op::kind::remove : reception_op::kind::skip);
  const std::uint8_t last_vis =
      static_cast<std::uint8_t>(m.of == table::groups ? visibility::public_ : visibility::private_);
  m.origin = r.varint();
  m.base = r.varint();
  m.top = r.varint();
  m.reset = r.boolean();
  // Each op takes at least 3 bytes: the count cannot promise more.
  const std::size_t n = r.length(3);
  if (!r.ok()) return r.failure();
  m.ops.reserve(n);
  for (std::size_t i = 0; i < n && r.ok(); ++i) {
    op o;
    const std::uint8_t what = read_u8(r);
    if (what > last_what) return error(errc::decode_error, "unknown replication op");
    o.what = static_cast<reception_op::kind>(what);
    o.version = r.varint();
    o.label = r.string();
    if (o.what == reception_op::kind::add) {
      o.key = r.string();
      o.type = r.string();
      const std::uint8_t vis = read_u8(r);
      if (vis > last_vis) return error(errc::decode_error, "unknown or misplaced visibility");
      o.vis = static_cast<visibility>(vis);
      o.actor = r.varint();
    } else if (o.what == reception_op::kind::remove) {
      if (m.of == table::groups) o.key = r.string();
      o.removes = r.varint();
    }
    m.ops.push_back(std::move(o));
  }
  if (!r.done())
    return r.ok() ? error(errc::decode_error, "bytes left after the message") : r.failure();
  return message(std::move(m));
}

origin_id origin_of(std::string_view node, std::uint64_t incarnation) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (char c : node) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  for (int i = 0; i < 8; ++i) {
    h ^= (incarnation >> (8 * i)) & 0xff;
    h *= 0x100000001b3ULL;
  }
  return h == 0 ? 1 : h;
}

}  // namespace troupe::cluster::reception_wire
