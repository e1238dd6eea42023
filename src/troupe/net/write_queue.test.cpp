#include "troupe/net/write_queue.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "troupe/core/random.hpp"
#include "troupe/net/frame.hpp"
#include "troupe/net/reassembler.hpp"

namespace {

using troupe::errc;
using troupe::xoshiro256;
using namespace troupe::net;

using buffers = std::vector<std::span<const std::byte>>;

struct sent {
  frame_kind kind;
  std::uint64_t id;
  std::vector<std::byte> payload;
  friend bool operator==(const sent&, const sent&) = default;
};

std::vector<std::byte> bytes(std::size_t n, std::uint64_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((seed * 31 + i) & 0xff);
  return v;
}

// Writes at most `n` bytes of what gather() returned to `wire`, then tells
// the queue; returns how many it wrote.
std::size_t write_some(write_queue& q, const buffers& bufs, std::size_t n,
                       std::vector<std::byte>& wire) {
  std::size_t done = 0;
  for (const auto& b : bufs) {
    const std::size_t k = std::min(b.size(), n - done);
    wire.insert(wire.end(), b.begin(), b.begin() + static_cast<std::ptrdiff_t>(k));
    done += k;
    if (done == n) break;
  }
  q.consumed(done);
  return done;
}

// Writes everything queued, in writes of random sizes up to `max_write`.
void drain(write_queue& q, std::vector<std::byte>& wire, xoshiro256& rng, std::size_t max_write) {
  buffers bufs;
  while (std::size_t total = q.gather(bufs, max_write))
    write_some(q, bufs, 1 + rng() % total, wire);
  EXPECT_TRUE(q.empty());
}

// Parses and reassembles `wire`; fails the test on any decode error.
std::vector<sent> receive(const std::vector<std::byte>& wire) {
  frame_parser p;
  reassembler r;
  p.feed(wire);
  std::vector<sent> out;
  for (;;) {
    auto f = p.next();
    EXPECT_TRUE(f) << f.error().message();
    if (!f || !*f) break;
    auto whole = r.add(**f);
    EXPECT_TRUE(whole) << whole.error().message();
    if (!whole) break;
    if (*whole) {
      const frame& w = **whole;
      const std::uint64_t id = w.header.kind == frame_kind::message ? 0 : w.header.id;
      out.push_back({w.header.kind, id, {w.payload.begin(), w.payload.end()}});
    }
  }
  EXPECT_EQ(p.buffered(), 0u);
  EXPECT_EQ(r.open_streams(), 0u);
  return out;
}

std::vector<sent> lane_of(const std::vector<sent>& v, bool control) {
  std::vector<sent> out;
  for (const auto& s : v)
    if (is_control_kind(s.kind) == control) out.push_back(s);
  return out;
}

TEST(write_queue, coalesces_small_frames_into_one_buffer) {
  write_queue q;
  std::vector<sent> pushed;
  for (int i = 0; i < 200; ++i) {
    pushed.push_back({frame_kind::message, 0, bytes(1 + i % 40, i)});
    ASSERT_TRUE(q.push(frame_kind::message, 0, pushed.back().payload));
  }
  buffers bufs;
  const std::size_t total = q.gather(bufs, 1 << 20);
  EXPECT_EQ(bufs.size(), 1u);
  EXPECT_EQ(total, q.queued_bytes());
  std::vector<std::byte> wire;
  write_some(q, bufs, total, wire);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(receive(wire), pushed);
}

TEST(write_queue, round_trips_random_frames_through_partial_writes) {
  xoshiro256 rng(99);
  for (int round = 0; round < 60; ++round) {
    write_queue q({.chunk_size = 1 + rng() % 5000});
    std::vector<sent> pushed;
    std::vector<std::byte> wire;
    std::uint64_t next_id = 1;
    for (int i = 0; i < 40; ++i) {
      const auto kind = static_cast<frame_kind>(1 + rng() % 8);
      std::uint64_t id = 0;
      if (kind == frame_kind::request || kind == frame_kind::response) id = next_id++;
      if (kind == frame_kind::heartbeat || kind == frame_kind::heartbeat_ack) id = rng();
      const std::size_t n = rng() % 3 == 0 ? rng() % 40000 : rng() % 100;
      auto p = bytes(n, rng());
      pushed.push_back({kind, id, p});
      const auto r = rng() % 2 == 0 ? q.push(kind, id, p) : q.push(kind, id, std::move(p));
      ASSERT_TRUE(r) << r.error().message();
      if (rng() % 3 == 0) {  // write a little now and then
        buffers bufs;
        if (std::size_t t = q.gather(bufs, 1 + rng() % 70000)) write_some(q, bufs, rng() % t, wire);
      }
    }
    drain(q, wire, rng, 1 + rng() % 100000);
    const auto got = receive(wire);
    EXPECT_EQ(lane_of(got, true), lane_of(pushed, true));
    EXPECT_EQ(lane_of(got, false), lane_of(pushed, false));
  }
}

TEST(write_queue, sends_queued_control_frames_before_bulk_frames) {
  write_queue q;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.push(frame_kind::message, 0, bytes(10, i)));
  ASSERT_TRUE(q.push(frame_kind::heartbeat, 1));
  ASSERT_TRUE(q.push(frame_kind::control, 0, bytes(3, 0)));
  xoshiro256 rng(5);
  std::vector<std::byte> wire;
  drain(q, wire, rng, 1 << 20);
  const auto got = receive(wire);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0].kind, frame_kind::heartbeat);
  EXPECT_EQ(got[1].kind, frame_kind::control);
  for (int i = 2; i < 7; ++i) EXPECT_EQ(got[i].kind, frame_kind::message);
}

// A control frame pushed while a large message is being written goes out
// after at most the rest of the chunk being written.
TEST(write_queue, never_holds_a_control_frame_behind_more_than_one_chunk) {
  constexpr std::size_t chunk = 4096;
  xoshiro256 rng(77);
  for (int round = 0; round < 200; ++round) {
    write_queue q({.chunk_size = chunk});
    ASSERT_TRUE(q.push(frame_kind::message, 0, bytes(20 * chunk + rng() % chunk, round)));
    ASSERT_TRUE(q.push(frame_kind::request, 5, bytes(3 * chunk, round)));
    std::vector<std::byte> wire;
    buffers bufs;
    const std::size_t push_after = rng() % (20 * chunk);
    std::size_t pushed_at = SIZE_MAX;
    while (std::size_t total = q.gather(bufs, 1 + rng() % (3 * chunk))) {
      write_some(q, bufs, 1 + rng() % total, wire);
      if (pushed_at == SIZE_MAX && wire.size() >= push_after) {
        pushed_at = wire.size();
        ASSERT_TRUE(q.push(frame_kind::heartbeat, 42, bytes(8, 1)));
      }
    }
    ASSERT_NE(pushed_at, SIZE_MAX);
    // Find where the heartbeat starts on the wire.
    frame_parser p(chunk + 16);
    p.feed(wire);
    std::size_t offset = 0;
    for (;;) {
      auto f = p.next();
      ASSERT_TRUE(f && *f);
      if ((*f)->header.kind == frame_kind::heartbeat) break;
      offset += frame_header_size + (*f)->payload.size();
    }
    EXPECT_LE(offset - std::min(offset, pushed_at), chunk + frame_header_size);
    EXPECT_EQ(receive(wire).size(), 3u);
  }
}

TEST(write_queue, survives_a_partial_write_at_every_byte_offset) {
  const auto fill = [](write_queue& q) {
    ASSERT_TRUE(q.push(frame_kind::message, 0, bytes(5, 1)));
    ASSERT_TRUE(q.push(frame_kind::request, 3, bytes(70, 2)));  // 3 chunks of 32
    ASSERT_TRUE(q.push(frame_kind::heartbeat, 7));
    ASSERT_TRUE(q.push(frame_kind::response, 9, std::vector<std::byte>(bytes(40, 3))));
  };
  write_queue probe({.chunk_size = 32});
  fill(probe);
  const std::size_t total = probe.queued_bytes();
  for (std::size_t k = 0; k <= total; ++k) {
    SCOPED_TRACE(k);
    write_queue q({.chunk_size = 32});
    fill(q);
    std::vector<std::byte> wire;
    buffers bufs;
    ASSERT_EQ(q.gather(bufs, SIZE_MAX), total);
    write_some(q, bufs, k, wire);
    EXPECT_EQ(q.queued_bytes(), total - k);
    ASSERT_TRUE(q.push(frame_kind::control, 0, bytes(2, 4)));  // jumps the queue
    while (std::size_t t = q.gather(bufs, SIZE_MAX)) write_some(q, bufs, t, wire);
    const auto got = receive(wire);
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(lane_of(got, false), (std::vector<sent>{{frame_kind::message, 0, bytes(5, 1)},
                                                      {frame_kind::request, 3, bytes(70, 2)},
                                                      {frame_kind::response, 9, bytes(40, 3)}}));
    EXPECT_EQ(lane_of(got, true), (std::vector<sent>{{frame_kind::heartbeat, 7, {}},
                                                     {frame_kind::control, 0, bytes(2, 4)}}));
  }
}

TEST(write_queue, keeps_gathered_buffers_valid_while_pushing) {
  write_queue q;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(q.push(frame_kind::message, 0, bytes(500, i)));
  buffers bufs;
  const std::size_t total = q.gather(bufs, 30000);
  std::vector<std::byte> copy;
  for (const auto& b : bufs) copy.insert(copy.end(), b.begin(), b.end());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(q.push(frame_kind::control, 0, bytes(600, i)));
  std::vector<std::byte> wire;
  write_some(q, bufs, total, wire);
  EXPECT_EQ(wire, copy);
}

TEST(write_queue, takes_large_vectors_without_copying_and_respects_max_buffers) {
  write_queue q({.chunk_size = 1000});
  std::vector<std::byte> big = bytes(10000, 1);
  const std::byte* data = big.data();
  ASSERT_TRUE(q.push(frame_kind::message, 0, std::move(big)));
  buffers bufs;
  q.gather(bufs, SIZE_MAX);
  ASSERT_EQ(bufs.size(), 20u);  // header, chunk, header, chunk, ...
  EXPECT_EQ(bufs[1].data(), data);
  EXPECT_EQ(bufs[3].data(), data + 1000);
  EXPECT_EQ(q.gather(bufs, SIZE_MAX, 5), 16u + 1000 + 16 + 1000 + 16);
  EXPECT_EQ(bufs.size(), 5u);
}

TEST(write_queue, refuses_frames_that_break_the_protocol) {
  write_queue q({.chunk_size = 16, .max_control_payload = 100, .max_message_size = 1000});
  const auto refused = [&](frame_kind k, std::uint64_t id, std::size_t n) {
    auto r = q.push(k, id, bytes(n, 0));
    return !r && r.error().code() == errc::invalid_argument;
  };
  EXPECT_TRUE(refused(frame_kind::request, 0, 4));
  EXPECT_TRUE(refused(frame_kind::response, 0, 100));
  EXPECT_TRUE(refused(frame_kind::message, 4, 4));
  EXPECT_TRUE(refused(frame_kind::message, 4, 100));
  EXPECT_TRUE(refused(frame_kind::goodbye, 4, 0));
  EXPECT_TRUE(refused(frame_kind::control, 0, 101));
  EXPECT_TRUE(refused(frame_kind::message, 0, 1001));
  EXPECT_TRUE(refused(static_cast<frame_kind>(0), 0, 1));
  EXPECT_TRUE(refused(static_cast<frame_kind>(9), 0, 1));
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.push(frame_kind::control, 0, bytes(100, 0)));
  EXPECT_TRUE(q.push(frame_kind::message, 0, bytes(1000, 0)));
}

TEST(write_queue, gives_chunked_messages_distinct_stream_ids) {
  write_queue q({.chunk_size = 4});
  ASSERT_TRUE(q.push(frame_kind::message, 0, bytes(9, 1)));
  ASSERT_TRUE(q.push(frame_kind::message, 0, bytes(9, 2)));
  buffers bufs;
  std::vector<std::byte> wire;
  write_some(q, bufs, q.gather(bufs, SIZE_MAX), wire);
  frame_parser p;
  p.feed(wire);
  std::vector<std::uint64_t> ids;
  while (auto f = p.next()) {
    if (!*f) break;
    ids.push_back((*f)->header.id);
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{1, 1, 1, 2, 2, 2}));
}

}  // namespace
