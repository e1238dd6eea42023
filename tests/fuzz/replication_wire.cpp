// libFuzzer target: the replication messages a node decodes from its peers
// on node channel 1 (troupe/cluster/reception_wire.hpp: the receptionist's
// and the process groups' wants and change batches). For every input:
//   - decoding ends without reading outside the input; a failure is an
//     errc::decode_error;
//   - what decodes encodes again to bytes that decode to the same message,
//     and encoding that once more gives the same bytes.
// A violation aborts (a crash for libFuzzer).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "troupe/cluster/reception_wire.hpp"

namespace {

using namespace troupe;
namespace wire = troupe::cluster::reception_wire;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "replication_wire fuzz: %s\n", what);
    std::abort();
  }
}

bool same(const wire::op& a, const wire::op& b) {
  return a.what == b.what && a.version == b.version && a.label == b.label && a.key == b.key &&
         a.type == b.type && a.vis == b.vis && a.actor == b.actor && a.removes == b.removes;
}

std::vector<std::byte> encoded(const wire::message& m) {
  std::vector<std::byte> out;
  codec::binary_writer w(out);
  std::visit([&](const auto& x) { wire::encode(w, x); }, m);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  result<wire::message> m = wire::decode(in);
  if (!m) {
    check(m.error().code() == errc::decode_error, "a failure that is not a decode_error");
    return 0;
  }
  const std::vector<std::byte> once = encoded(*m);
  result<wire::message> back = wire::decode(once);
  check(static_cast<bool>(back), "what decoded does not decode after encoding");
  check(back->index() == m->index(), "the message kind changed");
  if (const auto* w = std::get_if<wire::want>(&*m)) {
    const auto& b = std::get<wire::want>(*back);
    check(w->of == b.of && w->origin == b.origin && w->have == b.have, "a want changed");
  } else {
    const auto& c = std::get<wire::changes>(*m);
    const auto& b = std::get<wire::changes>(*back);
    check(c.of == b.of && c.origin == b.origin && c.base == b.base && c.top == b.top &&
              c.reset == b.reset && c.ops.size() == b.ops.size(),
          "a batch's header changed");
    for (std::size_t i = 0; i < c.ops.size(); ++i) check(same(c.ops[i], b.ops[i]), "an op changed");
  }
  check(encoded(*back) == once, "encoding is not stable");
  return 0;
}
