#include "troupe/net/reassembler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "troupe/core/random.hpp"
#include "troupe/net/frame.hpp"

namespace {

using troupe::errc;
using troupe::xoshiro256;
using namespace troupe::net;

struct owned_frame {
  frame_header header;
  std::vector<std::byte> payload;
};

std::vector<std::byte> random_bytes(xoshiro256& rng, std::size_t n) {
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng() & 0xff);
  return v;
}

// Splits `payload` the way a write_queue does.
std::vector<owned_frame> chunks(frame_kind k, std::uint64_t id, const std::vector<std::byte>& p,
                                std::size_t chunk) {
  std::vector<owned_frame> out;
  if (p.size() <= chunk) {
    out.push_back({{k, 0, static_cast<std::uint32_t>(p.size()), id}, p});
    return out;
  }
  for (std::size_t off = 0; off < p.size(); off += chunk) {
    const std::size_t n = std::min(chunk, p.size() - off);
    std::uint8_t flags = frame_flags::chunked;
    if (off == 0) flags |= frame_flags::first;
    if (off + n < p.size()) flags |= frame_flags::more;
    out.push_back({{k, flags, static_cast<std::uint32_t>(n), id},
                   {p.begin() + static_cast<std::ptrdiff_t>(off),
                    p.begin() + static_cast<std::ptrdiff_t>(off + n)}});
  }
  return out;
}

frame view(const owned_frame& f) { return {f.header, f.payload}; }

owned_frame chunk(frame_kind k, std::uint64_t id, std::uint8_t flags, std::size_t n = 4) {
  return {{k, flags, static_cast<std::uint32_t>(n), id}, std::vector<std::byte>(n)};
}

constexpr std::uint8_t first_chunk = frame_flags::chunked | frame_flags::first | frame_flags::more;
constexpr std::uint8_t mid_chunk = frame_flags::chunked | frame_flags::more;
constexpr std::uint8_t last_chunk = frame_flags::chunked;

TEST(reassembler, passes_unchunked_frames_through) {
  reassembler r;
  const owned_frame f{{frame_kind::request, 0, 3, 7}, std::vector<std::byte>(3)};
  auto out = r.add(view(f));
  ASSERT_TRUE(out && *out);
  EXPECT_EQ((*out)->header, f.header);
  EXPECT_EQ((*out)->payload.data(), f.payload.data());  // not copied
  EXPECT_TRUE(r.take().empty());
}

TEST(reassembler, joins_interleaved_streams_of_random_sizes_between_control_frames) {
  xoshiro256 rng(1234);
  for (int round = 0; round < 100; ++round) {
    // Up to 8 payloads, chunked at 1 KiB when larger, their chunks shuffled
    // together (each stream in order) with heartbeats and control frames.
    std::map<std::pair<frame_kind, std::uint64_t>, std::vector<std::byte>> want;
    std::vector<std::vector<owned_frame>> streams;
    const int count = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < count; ++i) {
      const frame_kind k = i % 2 == 0 ? frame_kind::message : frame_kind::response;
      const std::uint64_t id = k == frame_kind::message ? 100 + i : 1 + i;
      // Messages are always chunked here (an unchunked one has id 0, and
      // two of them would share a key); responses have any size.
      const std::size_t n = k == frame_kind::message ? 1025 + rng() % 20000
                            : rng() % 3 == 0         ? rng() % 1025
                                                     : rng() % 20000;
      auto p = random_bytes(rng, n);
      streams.push_back(chunks(k, id, p, 1024));
      want[{k, id}] = std::move(p);
    }
    std::vector<std::size_t> next(streams.size(), 0);
    reassembler r;
    std::map<std::pair<frame_kind, std::uint64_t>, std::vector<std::byte>> got;
    std::size_t controls = 0;
    for (;;) {
      std::vector<std::size_t> open;
      for (std::size_t s = 0; s < streams.size(); ++s)
        if (next[s] < streams[s].size()) open.push_back(s);
      if (open.empty()) break;
      if (rng() % 4 == 0) {
        const owned_frame c{{frame_kind::control, 0, 2, 0}, std::vector<std::byte>(2)};
        auto out = r.add(view(c));
        ASSERT_TRUE(out && *out);
        EXPECT_EQ((*out)->header.kind, frame_kind::control);
        ++controls;
      }
      const std::size_t s = open[rng() % open.size()];
      auto out = r.add(view(streams[s][next[s]++]));
      ASSERT_TRUE(out) << out.error().message();
      if (*out) {
        const frame& f = **out;
        EXPECT_EQ(f.header.flags, 0);
        EXPECT_EQ(f.header.length, f.payload.size());
        EXPECT_EQ(next[s], streams[s].size()) << "a payload came out before its last chunk";
        auto key = std::make_pair(f.header.kind, f.header.id);
        EXPECT_EQ(got.count(key), 0u);
        // take() hands out the buffer of a payload joined from chunks.
        const bool joined = streams[s].size() > 1;
        got[key] = joined && rng() % 2 == 0
                       ? r.take()
                       : std::vector<std::byte>(f.payload.begin(), f.payload.end());
      }
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(r.open_streams(), 0u);
    EXPECT_EQ(r.buffered(), 0u);
    (void)controls;
  }
}

struct bad_sequence {
  const char* name;
  std::vector<owned_frame> frames;  // the last one must fail
  reassembly_limits limits;
};

TEST(reassembler, refuses_chunks_that_do_not_fit_with_a_sticky_decode_error) {
  const auto m = frame_kind::message;
  const std::vector<bad_sequence> cases = {
      {"first chunk twice", {chunk(m, 1, first_chunk), chunk(m, 1, first_chunk)}, {}},
      {"middle chunk of an unknown stream", {chunk(m, 1, mid_chunk)}, {}},
      {"last chunk of an unknown stream", {chunk(m, 1, last_chunk)}, {}},
      {"chunk after its stream finished",
       {chunk(m, 1, first_chunk), chunk(m, 1, last_chunk), chunk(m, 1, last_chunk)},
       {}},
      {"chunk of another kind's stream",
       {chunk(frame_kind::request, 1, first_chunk), chunk(frame_kind::response, 1, last_chunk)},
       {}},
      {"unchunked request reusing an open stream's id",
       {chunk(frame_kind::request, 5, first_chunk), chunk(frame_kind::request, 5, 0)},
       {}},
      {"too many streams",
       {chunk(m, 1, first_chunk), chunk(m, 2, first_chunk), chunk(m, 3, first_chunk)},
       {.max_streams = 2}},
      {"payload over max_message_size",
       {chunk(m, 1, first_chunk, 6), chunk(m, 1, mid_chunk, 6)},
       {.max_message_size = 10}},
      {"first chunk over max_message_size",
       {chunk(m, 1, first_chunk, 11)},
       {.max_message_size = 10}},
      {"streams over max_buffered",
       {chunk(m, 1, first_chunk, 6), chunk(m, 2, first_chunk, 6)},
       {.max_buffered = 10}},
      {"a length that is not the payload's size", {{{m, 0, 5, 0}, std::vector<std::byte>(4)}}, {}},
      {"a bad header", {chunk(frame_kind::heartbeat, 1, first_chunk)}, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    reassembler r(c.limits);
    for (std::size_t i = 0; i + 1 < c.frames.size(); ++i) ASSERT_TRUE(r.add(view(c.frames[i])));
    auto out = r.add(view(c.frames.back()));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code(), errc::decode_error);
    EXPECT_FALSE(out.error().detail().empty());
    EXPECT_FALSE(r.ok());
    const owned_frame fine{{frame_kind::heartbeat, 0, 0, 1}, {}};
    EXPECT_FALSE(r.add(view(fine)));  // sticky
    r.reset();
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.add(view(fine)));
  }
}

TEST(reassembler, reuses_a_stream_id_after_its_stream_finished) {
  reassembler r;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.add(view(chunk(frame_kind::request, 9, first_chunk))));
    auto out = r.add(view(chunk(frame_kind::request, 9, last_chunk, 2)));
    ASSERT_TRUE(out && *out);
    EXPECT_EQ((*out)->payload.size(), 6u);
    EXPECT_EQ((*out)->header.id, 9u);
  }
}

TEST(reassembler, holds_exactly_the_limits) {
  reassembler r({.max_message_size = 8, .max_streams = 2, .max_buffered = 12});
  ASSERT_TRUE(r.add(view(chunk(frame_kind::message, 1, first_chunk, 4))));
  ASSERT_TRUE(r.add(view(chunk(frame_kind::message, 2, first_chunk, 4))));
  ASSERT_TRUE(r.add(view(chunk(frame_kind::message, 1, mid_chunk, 4))));  // 8 bytes, 12 held
  auto out = r.add(view(chunk(frame_kind::message, 1, last_chunk, 1)));   // 9 > 8
  EXPECT_FALSE(out);
}

}  // namespace
