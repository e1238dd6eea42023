#include "troupe/net/frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "troupe/core/random.hpp"

namespace {

using troupe::errc;
using troupe::xoshiro256;
using namespace troupe::net;

struct owned_frame {
  frame_header header;
  std::vector<std::byte> payload;
  friend bool operator==(const owned_frame&, const owned_frame&) = default;
};

std::vector<std::byte> pattern(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((seed * 131 + i * 7) & 0xff);
  return v;
}

void append(std::vector<std::byte>& out, const owned_frame& f) {
  std::byte h[frame_header_size];
  write_frame_header(h, f.header);
  out.insert(out.end(), h, h + frame_header_size);
  out.insert(out.end(), f.payload.begin(), f.payload.end());
}

owned_frame make(frame_kind k, std::uint64_t id, std::size_t n, std::uint8_t flags = 0) {
  return {{k, flags, static_cast<std::uint32_t>(n), id}, pattern(n, id + n)};
}

// One valid frame of every kind, including the three chunk shapes.
std::vector<owned_frame> every_kind() {
  using namespace frame_flags;
  return {make(frame_kind::handshake, 0, 40),
          make(frame_kind::heartbeat, 17, 0),
          make(frame_kind::heartbeat_ack, 17, 0),
          make(frame_kind::message, 0, 5),
          make(frame_kind::message, 9, 300, chunked | first | more),
          make(frame_kind::message, 9, 300, chunked | more),
          make(frame_kind::message, 9, 1, chunked),
          make(frame_kind::request, 1, 12),
          make(frame_kind::response, 1, 0),
          make(frame_kind::control, 0, 64),
          make(frame_kind::goodbye, 0, 0)};
}

// Drains `p` into `out`; returns false on a failure.
bool drain(frame_parser& p, std::vector<owned_frame>& out) {
  for (;;) {
    auto r = p.next();
    if (!r) return false;
    if (!*r) return true;
    const frame& f = **r;
    out.push_back({f.header, {f.payload.begin(), f.payload.end()}});
  }
}

TEST(frame_header, layout_is_little_endian_and_fixed) {
  std::byte b[16];
  write_frame_header(b, {frame_kind::request, frame_flags::chunked | frame_flags::more, 0x01020304u,
                         0x1122334455667788u});
  const std::uint8_t want[16] = {5,    3,    0,    0,    0x04, 0x03, 0x02, 0x01,
                                 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
  for (int i = 0; i < 16; ++i) EXPECT_EQ(static_cast<std::uint8_t>(b[i]), want[i]) << i;
  EXPECT_EQ(read_frame_header(b),
            (frame_header{frame_kind::request, 3, 0x01020304u, 0x1122334455667788u}));
}

TEST(frame_parser, round_trips_every_kind) {
  std::vector<std::byte> stream;
  const auto frames = every_kind();
  for (const auto& f : frames) append(stream, f);
  frame_parser p;
  p.feed(stream);
  std::vector<owned_frame> got;
  ASSERT_TRUE(drain(p, got));
  EXPECT_EQ(got, frames);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(frame_parser, accepts_one_byte_at_a_time) {
  std::vector<std::byte> stream;
  const auto frames = every_kind();
  for (const auto& f : frames) append(stream, f);
  frame_parser p;
  std::vector<owned_frame> got;
  for (std::byte b : stream) {
    p.feed({&b, 1});
    ASSERT_TRUE(drain(p, got));
  }
  EXPECT_EQ(got, frames);
}

TEST(frame_parser, accepts_random_splits_through_feed_and_prepare) {
  xoshiro256 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<owned_frame> frames;
    std::vector<std::byte> stream;
    const int count = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < count; ++i) {
      const std::size_t n = rng() % 4 == 0 ? rng() % 20000 : rng() % 64;
      frames.push_back(make(frame_kind::request, 1 + rng() % 1000, n));
      append(stream, frames.back());
    }
    frame_parser p(8192 + 16);
    bool too_big = false;
    for (const auto& f : frames) too_big = too_big || f.payload.size() > 8192;
    std::vector<owned_frame> got;
    bool ok = true;
    for (std::size_t at = 0; at < stream.size() && ok;) {
      const std::size_t n = std::min<std::size_t>(1 + rng() % 5000, stream.size() - at);
      if (round % 2 == 0) {
        p.feed({stream.data() + at, n});
      } else {
        auto room = p.prepare(n);
        ASSERT_GE(room.size(), n);
        std::memcpy(room.data(), stream.data() + at, n);
        p.commit(n);
      }
      at += n;
      ok = drain(p, got);
      // One frame plus one read at most.
      EXPECT_LE(p.capacity(), 8192 + 16 + 5000);
    }
    if (too_big) {
      EXPECT_FALSE(ok);
      continue;
    }
    ASSERT_TRUE(ok);
    EXPECT_EQ(got, frames);
  }
}

TEST(frame_parser, frames_stay_valid_until_the_next_feed) {
  std::vector<std::byte> stream;
  append(stream, make(frame_kind::message, 0, 10));
  append(stream, make(frame_kind::message, 0, 20));
  frame_parser p;
  p.feed(stream);
  auto a = p.next();
  auto b = p.next();
  ASSERT_TRUE(a && *a && b && *b);
  EXPECT_EQ((*a)->payload.size(), 10u);
  EXPECT_EQ(std::vector<std::byte>((*a)->payload.begin(), (*a)->payload.end()), pattern(10, 10));
  EXPECT_EQ(std::vector<std::byte>((*b)->payload.begin(), (*b)->payload.end()), pattern(20, 20));
}

struct corruption {
  std::string name;
  owned_frame f;
  int byte = -1;  // when >= 0, header byte to overwrite with `value`
  std::uint8_t value = 0;
};

TEST(frame_parser, refuses_every_header_corruption_with_a_sticky_decode_error) {
  using namespace frame_flags;
  const owned_frame ok_msg = make(frame_kind::message, 0, 4);
  std::vector<corruption> cases = {
      {"kind 0", ok_msg, 0, 0},
      {"kind 9", ok_msg, 0, 9},
      {"kind 255", ok_msg, 0, 255},
      {"reserved byte 2", ok_msg, 2, 1},
      {"reserved byte 3", ok_msg, 3, 0x80},
      {"more without chunked", make(frame_kind::message, 0, 4, more)},
      {"first without chunked", make(frame_kind::message, 0, 4, first)},
      {"first without more", make(frame_kind::message, 3, 4, chunked | first)},
      {"empty chunk", make(frame_kind::message, 3, 0, chunked | more)},
      {"chunked heartbeat", make(frame_kind::heartbeat, 3, 4, chunked)},
      {"chunked control", make(frame_kind::control, 0, 4, chunked | more)},
      {"message with an id", make(frame_kind::message, 5, 4)},
      {"chunked message without a stream id", make(frame_kind::message, 0, 4, chunked)},
      {"request id 0", make(frame_kind::request, 0, 4)},
      {"response id 0", make(frame_kind::response, 0, 4)},
      {"handshake with an id", make(frame_kind::handshake, 1, 4)},
      {"goodbye with an id", make(frame_kind::goodbye, 1, 0)},
      {"control with an id", make(frame_kind::control, 1, 0)},
  };
  for (std::uint8_t bit = 3; bit < 8; ++bit)
    cases.push_back({"flag bit " + std::to_string(bit), ok_msg, 1, std::uint8_t(1u << bit)});

  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::byte> stream;
    append(stream, make(frame_kind::heartbeat, 1, 0));  // a good frame first
    const std::size_t at = stream.size();
    append(stream, c.f);
    if (c.byte >= 0) stream[at + c.byte] = static_cast<std::byte>(c.value);
    frame_parser p;
    p.feed(stream);
    auto first_frame = p.next();
    ASSERT_TRUE(first_frame && *first_frame);
    for (int again = 0; again < 3; ++again) {
      auto r = p.next();
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code(), errc::decode_error);
      EXPECT_FALSE(r.error().detail().empty());
    }
    EXPECT_FALSE(p.ok());
    p.feed(stream);  // more bytes change nothing
    EXPECT_FALSE(p.next());
  }
}

TEST(frame_parser, refuses_an_oversized_length_before_its_payload_arrives) {
  frame_parser p(1024 + 16);
  std::byte h[16];
  write_frame_header(h, {frame_kind::message, 0, 1025, 0});
  p.feed({h, 16});
  auto r = p.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), errc::decode_error);
  EXPECT_EQ(r.error().detail(), "frame length exceeds max_frame_size");
  EXPECT_EQ(p.buffered(), 16u);

  // The largest allowed payload passes.
  frame_parser q(1024 + 16);
  write_frame_header(h, {frame_kind::message, 0, 1024, 0});
  q.feed({h, 16});
  auto w = q.next();
  ASSERT_TRUE(w);
  EXPECT_FALSE(*w);  // waits for its payload

  // A 4 GiB length on the default parser is refused from its header too.
  frame_parser d;
  write_frame_header(h, {frame_kind::request, 0, 0xffffffffu, 1});
  d.feed({h, 16});
  EXPECT_FALSE(d.next());
  EXPECT_LE(d.capacity(), 4096u);
}

TEST(frame_parser, waits_for_a_whole_header) {
  std::vector<std::byte> stream;
  append(stream, make(frame_kind::control, 0, 3));
  frame_parser p;
  for (std::size_t i = 0; i + 1 < stream.size(); ++i) {
    p.feed({&stream[i], 1});
    auto r = p.next();
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r);
  }
  p.feed({&stream.back(), 1});
  auto r = p.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->header.kind, frame_kind::control);
}

TEST(frame_parser, reset_clears_a_failure) {
  frame_parser p;
  std::byte junk[16] = {};
  p.feed(junk);
  EXPECT_FALSE(p.next());
  p.reset();
  EXPECT_TRUE(p.ok());
  std::vector<std::byte> stream;
  append(stream, make(frame_kind::goodbye, 0, 0));
  p.feed(stream);
  auto r = p.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->header.kind, frame_kind::goodbye);
}

TEST(frame_kind, has_names) {
  EXPECT_EQ(to_string(frame_kind::heartbeat_ack), "heartbeat_ack");
  EXPECT_EQ(to_string(static_cast<frame_kind>(0)), "unknown");
  EXPECT_TRUE(is_control_kind(frame_kind::goodbye));
  EXPECT_FALSE(is_control_kind(frame_kind::response));
}

}  // namespace
