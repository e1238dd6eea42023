// libFuzzer target: type-id dispatch. Its input is what a node receives as
// a message: an 8-byte type id, then the message. A message_registry of
// several actors' messages (small and rich, tell-only and asks, one whose
// inspect() refuses values) decodes it, and for every input:
//   - a failure is an errc::decode_error with a reason, and an unknown id
//     says so;
//   - a success names a registered type, holds a message of exactly that
//     type, and re-encodes (through the registry) to bytes that decode to
//     the same type and re-encode identically (ordered types only; the rich
//     message may hold unordered containers and is compared by its size).
// A violation aborts (a crash for libFuzzer).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "dispatch_messages.hpp"
#include "troupe/codec/message_registry.hpp"

namespace {

using troupe::codec::message_registry;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "decode_dispatch: check failed: %s\n", what);
  std::abort();
}

const message_registry& registry() {
  static const message_registry reg = [] {
    auto r = troupe_fuzz::dispatch_registry();
    check(r.has_value(), "the registry does not build");
    return std::move(r).value();
  }();
  return reg;
}

std::vector<std::byte> reencode(const troupe::codec::any_message& m) {
  std::vector<std::byte> out;
  troupe::codec::binary_writer w(out);
  message_registry::write_id(w, m.info()->id);
  m.encode(w);  // the registry's erased encoder, as a node's sender uses it
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const message_registry& reg = registry();
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = reg.decode(in, {.max_total = 1u << 20, .max_elements = 4096, .max_depth = 32});
  if (!m) {
    check(m.error().code() == troupe::errc::decode_error, "a failure is not a decode_error");
    check(!m.error().detail().empty(), "a failure has no reason");
    if (size >= 8) {
      std::uint64_t id = 0;
      for (std::size_t i = 0; i < 8; ++i) id |= std::uint64_t{data[i]} << (8 * i);
      const bool known = reg.find(id) != nullptr;
      const bool says_unknown = m.error().detail().rfind("unknown message type id", 0) == 0;
      check(known != says_unknown, "an unknown id is not reported as unknown");
    }
    return 0;
  }
  check(!m->empty() && m->info() != nullptr, "a success holds no message");
  check(reg.find(m->info()->id) == m->info(), "a success names an unregistered type");

  const std::vector<std::byte> first = reencode(*m);
  auto again = reg.decode(first);
  check(again.has_value(), "a re-encoding does not decode");
  check(again->info() == m->info(), "a re-encoding decodes as another type");
  const std::vector<std::byte> second = reencode(*again);
  if (m->get<troupe_fuzz::rich_message>() == nullptr) {
    check(first == second, "re-encoding is not stable");
  } else {
    check(first.size() == second.size(), "re-encoding changes the size");
  }
  // Printing never fails either.
  std::ostringstream os;
  os << *m;
  check(!os.str().empty(), "a message prints as nothing");
  return 0;
}
