#include "troupe/codec/binary_reader.hpp"

#include <bit>

namespace troupe::codec {

binary_reader::binary_reader(std::span<const std::byte> in, decode_limits limits,
                             const endpoint_resolver* resolver) noexcept
    : pos_(in.data()), end_(in.data() + in.size()), limits_(limits), resolver_(resolver) {
  if (in.size() > limits_.max_total) {
    fail("input larger than max_total");
    pos_ = end_;
  }
}

void binary_reader::fail(std::string_view reason) noexcept {
  if (failed_ != nullptr) return;
  failed_ = "decode failed";
  try {
    detail_.assign(reason);
  } catch (...) {  // out of memory: the code alone still tells what happened
  }
  pos_ = end_;  // nothing more is read
}

error binary_reader::failure() const {
  if (failed_ == nullptr) return error(errc::decode_error, "no failure");
  return error(errc::decode_error, detail_);
}

std::uint64_t binary_reader::varint() noexcept {
  std::uint64_t v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (pos_ == end_) {
      fail(ok() ? "truncated varint" : "");
      return 0;
    }
    auto b = static_cast<std::uint8_t>(*pos_++);
    if (shift == 63 && b > 1) {
      fail("varint overflows 64 bits");
      return 0;
    }
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail("varint longer than 10 bytes");
  return 0;
}

std::int64_t binary_reader::zigzag() noexcept {
  std::uint64_t u = varint();
  return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
}

bool binary_reader::boolean() noexcept {
  std::span<const std::byte> b = raw(1);
  if (b.empty()) return false;
  auto v = static_cast<std::uint8_t>(b[0]);
  if (v > 1) {
    fail("boolean byte is neither 0 nor 1");
    return false;
  }
  return v == 1;
}

float binary_reader::f32() noexcept {
  std::span<const std::byte> b = raw(4);
  if (b.empty()) return 0;
  std::uint32_t u = 0;
  for (std::size_t i = 0; i < 4; ++i) u |= static_cast<std::uint32_t>(b[i]) << (8 * i);
  return std::bit_cast<float>(u);
}

double binary_reader::f64() noexcept {
  std::span<const std::byte> b = raw(8);
  if (b.empty()) return 0;
  std::uint64_t u = 0;
  for (std::size_t i = 0; i < 8; ++i) u |= static_cast<std::uint64_t>(b[i]) << (8 * i);
  return std::bit_cast<double>(u);
}

std::size_t binary_reader::length(std::size_t min_element_size) noexcept {
  std::uint64_t n = varint();
  if (!ok()) return 0;
  if (n > limits_.max_elements) {
    fail("length exceeds max_elements");
    return 0;
  }
  // Checked against what is left before anything is allocated: hostile
  // lengths cannot make a decoder reserve memory the input cannot fill.
  if (min_element_size != 0 && n > remaining() / min_element_size) {
    fail("length exceeds the remaining input");
    return 0;
  }
  return static_cast<std::size_t>(n);
}

std::span<const std::byte> binary_reader::raw(std::size_t n) noexcept {
  if (n > remaining()) {
    fail(ok() ? "truncated input" : "");
    return {};
  }
  std::span<const std::byte> out(pos_, n);
  pos_ += n;
  return out;
}

std::span<const std::byte> binary_reader::bytes() noexcept {
  std::size_t n = length(1);
  return ok() ? raw(n) : std::span<const std::byte>{};
}

std::string binary_reader::string() {
  std::span<const std::byte> b = bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

bool binary_reader::enter() noexcept {
  if (depth_ >= limits_.max_depth) {
    fail("nesting exceeds max_depth");
    return false;
  }
  ++depth_;
  return true;
}

}  // namespace troupe::codec
