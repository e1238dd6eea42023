// Writes the seed corpus of the fuzz targets: valid encodings of varied
// messages, into <dir>/<target>/<seed>.bin (the committed corpus is
// tests/fuzz/corpus; regenerate it with `cmake --build build/fuzz --target
// fuzz_seeds`). Deterministic: the same files on every run.

#include <boost/pfr.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dispatch_messages.hpp"
#include "rich_message.hpp"
#include "troupe/codec/value_codec.hpp"

namespace {

namespace fs = std::filesystem;
using bytes = std::vector<std::byte>;
using troupe::codec::binary_writer;
using troupe::codec::to_bytes;
using namespace troupe_fuzz;

/// Returns the encoding of each field of the aggregate `v`.
template <class T>
std::vector<bytes> fields_of(const T& v) {
  std::vector<bytes> out;
  boost::pfr::for_each_field(v, [&](const auto& f) { out.push_back(to_bytes(f)); });
  return out;
}

/// Returns the encoding of a struct whose fields encode as `fields`: how a
/// sender with another version of a struct (fewer or more fields) writes it.
bytes make_struct(const std::vector<bytes>& fields) {
  bytes body;
  for (const bytes& f : fields) body.insert(body.end(), f.begin(), f.end());
  bytes out;
  binary_writer w(out);
  w.varint(fields.size());
  const auto len = static_cast<std::uint32_t>(body.size());
  const std::byte le[4] = {std::byte(len), std::byte(len >> 8), std::byte(len >> 16),
                           std::byte(len >> 24)};
  w.raw(le);
  w.raw(body);
  return out;
}

/// Returns the first `k` of `fields`.
std::vector<bytes> first(std::vector<bytes> fields, std::size_t k) {
  fields.resize(k);
  return fields;
}

nested make_nested(std::string name, std::int32_t n) {
  nested x{};
  x.name = std::move(name);
  if (n % 2 == 0) x.maybe = n;
  for (std::int32_t i = 0; i < n % 4; ++i) x.counts["k" + std::to_string(i)] = i * n;
  x.where = point{n, -n};
  x.lvl = static_cast<level>(n % 3);
  return x;
}

std::unique_ptr<tree_node> make_chain(int length) {
  std::unique_ptr<tree_node> head;
  for (int i = length; i > 0; --i) {
    auto node = std::make_unique<tree_node>();
    node->value = i * 1000;
    node->label = "node" + std::to_string(i);
    node->next = std::move(head);
    head = std::move(node);
  }
  return head;
}

rich_message scalars_max() {
  rich_message m{};
  m.s.flag = true;
  m.s.u8 = std::numeric_limits<std::uint8_t>::max();
  m.s.i16 = std::numeric_limits<std::int16_t>::min();
  m.s.u32 = std::numeric_limits<std::uint32_t>::max();
  m.s.i64 = std::numeric_limits<std::int64_t>::min();
  m.s.u64 = std::numeric_limits<std::uint64_t>::max();
  m.s.f32 = std::numeric_limits<float>::infinity();
  m.s.f64 = -0.0;
  m.e.lvl = level::high;
  m.e.dir = delta::down;
  m.e.tone = shade_light;
  m.e.timeout = std::chrono::milliseconds(std::numeric_limits<std::int64_t>::max());
  m.e.seconds = std::chrono::duration<double>(-1.5);
  m.e.at = std::chrono::system_clock::time_point(std::chrono::system_clock::duration(-1));
  m.q.arr = {std::numeric_limits<std::int16_t>::min(), 0, std::numeric_limits<std::int16_t>::max()};
  m.v.tuple = {std::numeric_limits<std::int8_t>::min(), 1e308, "t"};
  return m;
}

rich_message scalars_odd() {
  rich_message m{};
  m.s.i64 = std::numeric_limits<std::int64_t>::max();
  m.s.u32 = 128;  // the first two-byte varint
  m.s.f32 = std::numeric_limits<float>::quiet_NaN();
  m.s.f64 = std::numeric_limits<double>::denorm_min();
  m.e.seconds = std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN());
  m.v.pair = {-1, std::string("\0nul\xff", 5)};
  return m;
}

rich_message containers() {
  rich_message m{};
  m.q.text = "h\xc3\xa9llo, w\xc3\xb6rld";
  m.q.values = {0, 1, -1, 63, -64, 64, 1LL << 40, -(1LL << 62)};
  m.q.lines = {"first", "", "third"};
  m.a.counts = {{"a", 1}, {"bb", -2}, {"", 0}};
  m.a.tags = {-5, 0, 7, 1 << 20};
  m.a.index = {{"x", 1}, {"y", 2}, {"z", 3}};
  m.a.ids = {1, -1, 1LL << 50};
  m.v.sparse = std::vector<std::optional<std::string>>{std::nullopt, "s", std::nullopt};
  return m;
}

/// Within the small limits of the fuzz target (8 elements, depth 4).
rich_message small_containers() {
  rich_message m{};
  m.q.values = {1, 2, 3};
  m.a.counts = {{"k", 1}};
  m.a.index = {{"u", 1}};
  m.a.ids = {9};
  return m;
}

rich_message blob() {
  rich_message m{};
  for (int i = 0; i < 256; ++i) m.q.blob.push_back(static_cast<std::byte>(i));
  return m;
}

rich_message with_nested() {
  rich_message m{};
  m.v.maybe = make_nested("maybe", 4);
  m.q.items = {make_nested("one", 1), make_nested("two", 2), make_nested("three", 3)};
  m.p.shared = std::make_shared<nested>(make_nested("shared", 6));
  m.p.boxed = std::make_unique<std::string>("boxed");
  return m;
}

rich_message choice(int alternative) {
  rich_message m{};
  if (alternative == 0) m.v.choice = -42;
  if (alternative == 1) m.v.choice = std::string("variant string");
  if (alternative == 2) m.v.choice = make_nested("in variant", 5);
  return m;
}

rich_message chain(int length) {
  rich_message m{};
  m.p.tree = make_chain(length);
  return m;
}

rich_message tree() {
  rich_message m{};
  m.p.tree = std::make_unique<tree_node>();
  m.p.tree->label = "root";
  m.p.tree->children.resize(3);
  m.p.tree->children[0].label = "leaf";
  m.p.tree->children[1].next = make_chain(2);
  m.p.tree->children[2].children.resize(2);
  m.p.tree->children[2].children[1].value = -7;
  return m;
}

rich_message everything() {
  rich_message m = containers();
  m.s = scalars_max().s;
  m.s.f32 = 3.5f;
  m.s.f64 = 2.25;
  m.e.dir = delta::up;
  m.e.timeout = std::chrono::milliseconds(1500);
  m.e.at = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  m.q.arr = {1, 2, 3};
  m.q.blob = {std::byte{0}, std::byte{0x7f}, std::byte{0x80}, std::byte{0xff}};
  m.q.items = {make_nested("i", 7)};
  m.v.maybe = make_nested("m", 2);
  m.v.choice = make_nested("c", 3);
  m.v.pair = {7, "seven"};
  m.v.tuple = {-3, 0.5, "tuple"};
  m.p.tree = make_chain(3);
  m.p.shared = std::make_shared<nested>(make_nested("s", 1));
  m.p.boxed = std::make_unique<std::string>("b");
  return m;
}

/// A sender that knew only the first `k` fields of rich_message.
bytes older_message(std::size_t k) { return make_struct(first(fields_of(everything()), k)); }

/// A sender whose scalars and nested structs had fewer fields.
bytes older_groups() {
  const rich_message m = everything();
  std::vector<bytes> fields = fields_of(m);
  fields[0] = make_struct(first(fields_of(m.s), 3));
  std::vector<bytes> v = fields_of(m.v);
  v[0] = to_bytes(true);  // optional<nested>: present, with 2 of its 5 fields
  const bytes n = make_struct(first(fields_of(*m.v.maybe), 2));
  v[0].insert(v[0].end(), n.begin(), n.end());
  fields[4] = make_struct(v);
  return make_struct(fields);
}

/// A sender with two more trailing fields in rich_message and in scalars.
bytes newer_message() {
  const rich_message m = everything();
  const bytes future = to_bytes(std::string("a field from the future"));
  const bytes number = to_bytes(std::int64_t{-123456789});
  std::vector<bytes> s = fields_of(m.s);
  s.push_back(number);
  s.push_back(future);
  std::vector<bytes> fields = fields_of(m);
  fields[0] = make_struct(s);
  fields.push_back(future);
  fields.push_back(number);
  return make_struct(fields);
}

/// A message as a node receives it: type id, then the message.
template <class M>
bytes dispatched(const M& m) {
  static const auto reg = troupe_fuzz::dispatch_registry().value();
  bytes out;
  binary_writer w(out);
  if (!reg.encode(w, m)) std::abort();
  return out;
}

bool write(const fs::path& dir, const std::string& name, const bytes& b) {
  std::ofstream f(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const fs::path dir = fs::path(argv[1]) / "decode_rich_message";
  fs::create_directories(dir);

  const std::pair<std::string, bytes> seeds[] = {
      {"default", to_bytes(rich_message{})},
      {"scalars_max", to_bytes(scalars_max())},
      {"scalars_odd", to_bytes(scalars_odd())},
      {"containers", to_bytes(containers())},
      {"small_containers", to_bytes(small_containers())},
      {"blob", to_bytes(blob())},
      {"nested", to_bytes(with_nested())},
      {"choice_int", to_bytes(choice(0))},
      {"choice_string", to_bytes(choice(1))},
      {"choice_nested", to_bytes(choice(2))},
      {"chain_1", to_bytes(chain(1))},
      {"chain_5", to_bytes(chain(5))},
      {"tree", to_bytes(tree())},
      {"everything", to_bytes(everything())},
      {"older_0_fields", older_message(0)},
      {"older_2_fields", older_message(2)},
      {"older_groups", older_groups()},
      {"newer_more_fields", newer_message()},
  };
  bool ok = true;
  for (const auto& [name, b] : seeds) ok = write(dir, name, b) && ok;
  std::printf("make_corpus: %zu seeds in %s\n", std::size(seeds), dir.c_str());

  const fs::path dispatch_dir = fs::path(argv[1]) / "decode_dispatch";
  fs::create_directories(dispatch_dir);
  using namespace troupe_fuzz;
  const std::pair<std::string, bytes> dispatch_seeds[] = {
      {"ping", dispatched(ping{-42})},
      {"put", dispatched(put{"user/17", {std::byte{1}, std::byte{0xff}}, 30})},
      {"put_no_ttl", dispatched(put{"k", {}, std::nullopt})},
      {"get", dispatched(get{"user/17"})},
      {"transfer", dispatched(transfer("alice", "bob", 1250))},
      {"rich_small", dispatched(small_containers())},
      {"rich_everything", dispatched(everything())},
  };
  for (const auto& [name, b] : dispatch_seeds) ok = write(dispatch_dir, name, b) && ok;
  std::printf("make_corpus: %zu seeds in %s\n", std::size(dispatch_seeds), dispatch_dir.c_str());
  return ok ? 0 : 1;
}
