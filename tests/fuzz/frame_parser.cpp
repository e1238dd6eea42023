// libFuzzer target: the framing layer of node sessions. Its input is what a
// node receives on a connection: a stream of frames. The stream goes through
// a frame_parser and a reassembler twice, once in one piece and once split
// at offsets drawn from a hash of the input (one byte at a time included),
// with small limits so that every limit is reached. For every input:
//   - both runs see the same frames, payloads and failure (splits change
//     nothing);
//   - every frame the parser returns has a valid header, re-encodes to the
//     exact input bytes, and the parser holds at most one frame plus one read;
//   - a failure is an errc::decode_error with a reason, and stays;
//   - the reassembler agrees with a plain model of the chunking rules (same
//     payloads, failure at the same frame) and stays within its limits;
//   - the payloads that came out, queued again on a write_queue and written
//     in partial writes, parse and reassemble back to the same payloads in
//     the same order per lane.
// A violation aborts (a crash for libFuzzer).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "troupe/net/frame.hpp"
#include "troupe/net/reassembler.hpp"
#include "troupe/net/write_queue.hpp"

namespace {

using namespace troupe::net;

constexpr std::size_t max_payload = 4096;
constexpr std::size_t max_read = 700;
constexpr reassembly_limits limits{
    .max_message_size = 16384, .max_streams = 4, .max_buffered = 20000};

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "frame_parser: check failed: %s\n", what);
  std::abort();
}

struct split_source {  // splitmix64 over a hash of the input
  std::uint64_t s;
  std::uint64_t operator()() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
};

struct payload {
  frame_kind kind;
  std::uint64_t id;
  std::vector<std::byte> bytes;
  friend bool operator==(const payload&, const payload&) = default;
};

struct trace {
  std::vector<frame_header> frames;
  std::vector<payload> whole;
  std::string failure;  // empty when none
  friend bool operator==(const trace&, const trace&) = default;
};

// The chunking rules, written plainly; returns a reason or nullptr.
struct model {
  std::map<std::pair<frame_kind, std::uint64_t>, std::vector<std::byte>> open;
  std::size_t held = 0;

  const char* add(const frame& f, std::vector<payload>& out) {
    const auto key = std::make_pair(f.header.kind, f.header.id);
    auto it = open.find(key);
    if (!f.header.chunked()) {
      if (it != open.end()) return "id of an open stream";
      out.push_back({f.header.kind, f.header.id, {f.payload.begin(), f.payload.end()}});
      return nullptr;
    }
    if (f.header.first() ? it != open.end() : it == open.end()) return "stream state";
    if (f.header.first() && open.size() >= limits.max_streams) return "streams";
    const std::size_t have = it == open.end() ? 0 : it->second.size();
    if (have + f.payload.size() > limits.max_message_size) return "size";
    if (held + f.payload.size() > limits.max_buffered) return "buffered";
    auto& buf = open[key];
    buf.insert(buf.end(), f.payload.begin(), f.payload.end());
    held += f.payload.size();
    if (f.header.more()) return nullptr;
    held -= buf.size();
    out.push_back({f.header.kind, f.header.id, std::move(buf)});
    open.erase(key);
    return nullptr;
  }
};

trace run(std::span<const std::byte> in, split_source* splits) {
  trace t;
  frame_parser parser(max_payload + frame_header_size);
  reassembler joiner(limits);
  model m;
  std::vector<payload> expected;
  std::size_t fed = 0;
  std::size_t parsed = 0;  // input bytes returned as frames
  while (fed < in.size() && t.failure.empty()) {
    std::size_t n = in.size() - fed;
    if (splits != nullptr) n = std::min<std::size_t>(n, 1 + (*splits)() % max_read);
    parser.feed(in.subspan(fed, n));
    fed += n;
    for (;;) {
      auto r = parser.next();
      if (!r) {
        check(r.error().code() == troupe::errc::decode_error, "a failure is not a decode_error");
        check(!r.error().detail().empty(), "a failure has no reason");
        auto again = parser.next();
        check(!again && again.error().detail() == r.error().detail(), "a failure is not sticky");
        t.failure = r.error().detail();
        break;
      }
      if (!*r) break;
      const frame& f = **r;
      check(check_frame_header(f.header, max_payload) == nullptr, "a frame with a bad header");
      check(f.payload.size() == f.header.length, "a payload of the wrong size");
      std::byte h[frame_header_size];
      write_frame_header(h, f.header);
      check(std::equal(h, h + frame_header_size, in.begin() + static_cast<std::ptrdiff_t>(parsed)),
            "a header does not re-encode to its bytes");
      check(std::equal(f.payload.begin(), f.payload.end(),
                       in.begin() + static_cast<std::ptrdiff_t>(parsed + frame_header_size)),
            "a payload is not its bytes");
      parsed += frame_header_size + f.payload.size();
      t.frames.push_back(f.header);

      const char* model_says = m.add(f, expected);
      auto w = joiner.add(f);
      check(w.has_value() == (model_says == nullptr), "the reassembler and the model disagree");
      if (!w) {
        check(w.error().code() == troupe::errc::decode_error,
              "a reassembly failure is not a decode_error");
        t.failure = "reassembler: " + w.error().detail();
        break;
      }
      check(joiner.open_streams() <= limits.max_streams, "too many streams open");
      check(joiner.buffered() <= limits.max_buffered, "too many bytes held");
      if (*w) {
        const frame& p = **w;
        check(p.payload.size() <= limits.max_message_size, "a payload over max_message_size");
        t.whole.push_back({p.header.kind, p.header.id, {p.payload.begin(), p.payload.end()}});
      }
    }
    check(parsed + parser.buffered() == fed, "bytes lost or invented");
    check(parser.buffered() < max_payload + frame_header_size || !t.failure.empty(),
          "more than one frame held");
    const std::size_t read = splits != nullptr ? max_read : in.size();
    check(parser.capacity() <= max_payload + frame_header_size + read, "the buffer grew too far");
  }
  check(t.whole == expected, "the reassembler's payloads differ from the model's");
  return t;
}

// Queues `whole` on a write_queue, writes it out in partial writes and
// checks that it parses back to the same payloads, in order per lane.
void requeue(const std::vector<payload>& whole, split_source& rng) {
  write_queue q({.chunk_size = 1 + rng() % 3000});
  std::vector<payload> sent[2];
  for (const payload& p : whole) {
    const std::uint64_t id = p.kind == frame_kind::message ? 0 : p.id;
    check(q.push(p.kind, id, p.bytes).has_value(), "a received payload cannot be sent");
    sent[is_control_kind(p.kind)].push_back({p.kind, id, p.bytes});
  }
  std::vector<std::byte> wire;
  std::vector<std::span<const std::byte>> bufs;
  while (std::size_t total = q.gather(bufs, 1 + rng() % 20000, 1 + rng() % 8)) {
    const std::size_t written = 1 + rng() % total;
    std::size_t n = written;
    for (const auto& b : bufs) {
      const std::size_t k = std::min(n, b.size());
      wire.insert(wire.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(k));
      n -= k;
    }
    q.consumed(written);  // the buffers may be released from here on
  }
  check(q.empty() && q.queued_bytes() == 0, "the queue did not drain");
  frame_parser parser;
  reassembler joiner;
  parser.feed(wire);
  std::vector<payload> got[2];
  for (;;) {
    auto f = parser.next();
    check(f.has_value(), "the queue wrote a frame the parser refuses");
    if (!*f) break;
    auto w = joiner.add(**f);
    check(w.has_value(), "the queue wrote chunks the reassembler refuses");
    if (!*w) continue;
    const frame& p = **w;
    const std::uint64_t id = p.header.kind == frame_kind::message ? 0 : p.header.id;
    got[is_control_kind(p.header.kind)].push_back(
        {p.header.kind, id, {p.payload.begin(), p.payload.end()}});
  }
  check(parser.buffered() == 0 && joiner.open_streams() == 0, "the queue wrote a partial frame");
  check(got[0] == sent[0] && got[1] == sent[1], "payloads changed on their way through the queue");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  std::uint64_t hash = 0xcbf29ce484222325u;  // FNV-1a
  for (std::uint8_t b : std::span(data, size)) hash = (hash ^ b) * 0x100000001b3u;
  split_source rng{hash};

  const trace whole = run(in, nullptr);
  const trace split = run(in, &rng);
  check(whole == split, "splitting the input changed what was parsed");
  requeue(whole.whole, rng);
  return 0;
}
