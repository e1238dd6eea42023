#include "troupe/codec/binary_reader.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "troupe/codec/binary_writer.hpp"
#include "troupe/core/random.hpp"

namespace {

using troupe::codec::binary_reader;
using troupe::codec::binary_writer;

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

TEST(binary_format, varints_are_leb128) {
  std::vector<std::byte> buf;
  binary_writer w(buf);
  w.varint(0);
  w.varint(127);
  w.varint(128);
  w.varint(300);
  EXPECT_EQ(buf, bytes_of({0x00, 0x7f, 0x80, 0x01, 0xac, 0x02}));
  buf.clear();
  w.varint(std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(buf.size(), 10u);
  EXPECT_EQ(buf.back(), std::byte{0x01});
}

TEST(binary_format, zigzag_maps_small_magnitudes_to_small_codes) {
  std::vector<std::byte> buf;
  binary_writer w(buf);
  for (std::int64_t v : {0, -1, 1, -2, 2}) w.zigzag(v);
  EXPECT_EQ(buf, bytes_of({0, 1, 2, 3, 4}));
}

TEST(binary_format, values_round_trip) {
  troupe::xoshiro256 rng(7);
  std::vector<std::byte> buf;
  binary_writer w(buf);
  std::vector<std::uint64_t> us;
  std::vector<std::int64_t> ss;
  for (int i = 0; i < 2000; ++i) {
    std::uint64_t u = rng() >> (rng() % 64);
    auto s = static_cast<std::int64_t>(rng()) >> (rng() % 64);
    us.push_back(u);
    ss.push_back(s);
    w.varint(u);
    w.zigzag(s);
  }
  const std::uint64_t edges[] = {0, 1, 127, 128, std::numeric_limits<std::uint64_t>::max()};
  for (std::uint64_t u : edges) {
    us.push_back(u);
    ss.push_back(0);
    w.varint(u);
    w.zigzag(0);
  }
  w.zigzag(std::numeric_limits<std::int64_t>::min());
  w.zigzag(std::numeric_limits<std::int64_t>::max());
  w.boolean(true);
  w.f32(1.5f);
  w.f64(-0.0);
  w.f64(std::numeric_limits<double>::quiet_NaN());
  w.string("héllo");
  w.string("");
  binary_reader r(buf);
  for (std::size_t i = 0; i < us.size(); ++i) {
    ASSERT_EQ(r.varint(), us[i]);
    ASSERT_EQ(r.zigzag(), ss[i]);
  }
  EXPECT_EQ(r.zigzag(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(r.zigzag(), std::numeric_limits<std::int64_t>::max());
  EXPECT_TRUE(r.boolean());
  EXPECT_EQ(r.f32(), 1.5f);
  double z = r.f64();
  EXPECT_TRUE(z == 0.0 && std::signbit(z));
  EXPECT_TRUE(std::isnan(r.f64()));
  EXPECT_EQ(r.string(), "héllo");
  EXPECT_EQ(r.string(), "");
  EXPECT_TRUE(r.done());
}

TEST(binary_format, a_reused_buffer_is_written_without_reallocating) {
  std::vector<std::byte> buf;
  buf.reserve(256);
  const std::byte* data = buf.data();
  binary_writer w(buf);
  for (int i = 0; i < 10; ++i) {
    w.varint(1u << 20);
    w.string("sixteen bytes...");
  }
  EXPECT_EQ(buf.data(), data);  // the same storage: no allocation happened
}

TEST(binary_format, truncated_and_malformed_input_is_a_typed_error) {
  {
    auto in = bytes_of({0x80, 0x80});  // a varint that never ends
    binary_reader r(in);
    EXPECT_EQ(r.varint(), 0u);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.failure().code(), troupe::errc::decode_error);
    EXPECT_EQ(r.failure().detail(), "truncated varint");
  }
  {
    auto in = bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});
    binary_reader r(in);
    r.varint();
    EXPECT_EQ(r.failure().detail(), "varint overflows 64 bits");
  }
  {
    auto in = bytes_of({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00});
    binary_reader r(in);
    r.varint();
    EXPECT_FALSE(r.ok());
  }
  {
    auto in = bytes_of({0x02});
    binary_reader r(in);
    EXPECT_FALSE(r.boolean());
    EXPECT_EQ(r.failure().detail(), "boolean byte is neither 0 nor 1");
  }
  {
    auto in = bytes_of({0x01, 0x02});
    binary_reader r(in);
    r.f64();
    EXPECT_EQ(r.failure().detail(), "truncated input");
  }
}

TEST(binary_format, hostile_lengths_fail_before_anything_is_allocated) {
  {
    // A string that claims 2^40 bytes with 3 bytes of input behind it.
    std::vector<std::byte> buf;
    binary_writer w(buf);
    w.varint(1ull << 40);
    w.raw(bytes_of({1, 2, 3}));
    troupe::codec::decode_limits lim;
    lim.max_elements = std::numeric_limits<std::size_t>::max();
    binary_reader r(buf, lim);
    EXPECT_TRUE(r.string().empty());
    EXPECT_EQ(r.failure().detail(), "length exceeds the remaining input");
  }
  {
    std::vector<std::byte> buf;
    binary_writer w(buf);
    w.varint(2'000'000);
    binary_reader r(buf);
    EXPECT_EQ(r.length(0), 0u);
    EXPECT_EQ(r.failure().detail(), "length exceeds max_elements");
  }
  {
    std::vector<std::byte> buf(64);
    troupe::codec::decode_limits lim;
    lim.max_total = 63;
    binary_reader r(buf, lim);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.failure().detail(), "input larger than max_total");
  }
}

TEST(binary_format, nesting_is_bounded_and_the_first_failure_sticks) {
  std::vector<std::byte> buf = bytes_of({0x05});
  troupe::codec::decode_limits lim;
  lim.max_depth = 3;
  binary_reader r(buf, lim);
  EXPECT_TRUE(r.enter());
  EXPECT_TRUE(r.enter());
  EXPECT_TRUE(r.enter());
  EXPECT_FALSE(r.enter());
  EXPECT_EQ(r.failure().detail(), "nesting exceeds max_depth");
  EXPECT_EQ(r.varint(), 0u);  // nothing is read after a failure
  r.fail("a later problem");
  EXPECT_EQ(r.failure().detail(), "nesting exceeds max_depth");
}

}  // namespace
