#include "troupe/codec/binary_reader.hpp"

namespace troupe::codec {

void binary_reader::refuse_input() noexcept {
  fail("input larger than max_total");
  pos_ = end_;
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

// A varint of two bytes or more, or one at the end of the input (or after a
// failure, which left nothing to read).
std::uint64_t binary_reader::varint_long() noexcept {
  std::uint64_t v = 0;
  if (remaining() >= 10) {
    // All ten bytes a varint may take are there: no end check per byte.
    const std::byte* p = pos_;
    for (unsigned shift = 0; shift < 63; shift += 7) {
      const auto b = static_cast<std::uint8_t>(*p++);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        pos_ = p;
        return v;
      }
    }
    const auto last = static_cast<std::uint8_t>(*p++);
    if (last > 1) {
      fail("varint overflows 64 bits");
      return 0;
    }
    pos_ = p;
    return v | static_cast<std::uint64_t>(last) << 63;
  }
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

bool binary_reader::boolean_bad() noexcept {
  if (pos_ == end_) {
    fail(ok() ? "truncated input" : "");
  } else {
    ++pos_;
    fail("boolean byte is neither 0 nor 1");
  }
  return false;
}

std::size_t binary_reader::length_fail(const char* reason) noexcept {
  fail(reason);
  return 0;
}

std::span<const std::byte> binary_reader::truncated() noexcept {
  fail(ok() ? "truncated input" : "");
  return {};
}

bool binary_reader::too_deep() noexcept {
  fail("nesting exceeds max_depth");
  return false;
}

}  // namespace troupe::codec
