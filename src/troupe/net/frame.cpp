#include "troupe/net/frame.hpp"

#include <algorithm>
#include <cstring>

namespace troupe::net {

namespace {

template <class U>
void store_le(std::byte* out, U v) noexcept {
  for (std::size_t i = 0; i < sizeof(U); ++i) out[i] = static_cast<std::byte>(v >> (8 * i));
}

template <class U>
U load_le(const std::byte* in) noexcept {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(in[i]) << (8 * i);
  return v;
}

// The first read allocates at least this much, so that small frames do not
// make the buffer grow step by step.
constexpr std::size_t min_capacity = 4096;

constexpr const char* unknown_kind = "unknown frame kind";

}  // namespace

std::string_view to_string(frame_kind k) noexcept {
  switch (k) {
    case frame_kind::handshake:
      return "handshake";
    case frame_kind::heartbeat:
      return "heartbeat";
    case frame_kind::heartbeat_ack:
      return "heartbeat_ack";
    case frame_kind::message:
      return "message";
    case frame_kind::request:
      return "request";
    case frame_kind::response:
      return "response";
    case frame_kind::control:
      return "control";
    case frame_kind::goodbye:
      return "goodbye";
  }
  return "unknown";
}

void write_frame_header(std::byte* out, const frame_header& h) noexcept {
  out[0] = static_cast<std::byte>(h.kind);
  out[1] = static_cast<std::byte>(h.flags);
  out[2] = std::byte{0};
  out[3] = std::byte{0};
  store_le<std::uint32_t>(out + 4, h.length);
  store_le<std::uint64_t>(out + 8, h.id);
}

frame_header read_frame_header(const std::byte* in) noexcept {
  frame_header h;
  h.kind = static_cast<frame_kind>(in[0]);
  h.flags = static_cast<std::uint8_t>(in[1]);
  h.length = load_le<std::uint32_t>(in + 4);
  h.id = load_le<std::uint64_t>(in + 8);
  return h;
}

const char* check_frame_header(const frame_header& h, std::size_t max_payload) noexcept {
  const auto k = static_cast<std::uint8_t>(h.kind);
  if (k < static_cast<std::uint8_t>(frame_kind::handshake) ||
      k > static_cast<std::uint8_t>(frame_kind::goodbye))
    return unknown_kind;
  if ((h.flags & ~frame_flags::known) != 0) return "reserved flag bits set";
  if (h.length > max_payload) return "frame length exceeds max_frame_size";
  if (h.chunked()) {
    if (is_control_kind(h.kind)) return "a control-lane frame is marked chunked";
    if (h.first() && !h.more()) return "a first chunk without the more flag";
    if (h.length == 0) return "an empty chunk";
  } else if (h.more() || h.first()) {
    return "more or first flag on a frame that is not chunked";
  }
  switch (h.kind) {
    case frame_kind::handshake:
    case frame_kind::control:
    case frame_kind::goodbye:
      if (h.id != 0) return "a nonzero id on a frame kind without ids";
      break;
    case frame_kind::message:
      if (h.chunked() != (h.id != 0)) return "a message's id is not its stream id";
      break;
    case frame_kind::request:
    case frame_kind::response:
      if (h.id == 0) return "a request or response with request id 0";
      break;
    case frame_kind::heartbeat:
    case frame_kind::heartbeat_ack:
      break;
  }
  return nullptr;
}

const char* check_frame_header(const std::byte* in, std::size_t max_payload) noexcept {
  const frame_header h = read_frame_header(in);
  if (in[2] != std::byte{0} || in[3] != std::byte{0}) {
    // An unknown kind is the more telling reason: report it first.
    const char* r = check_frame_header(h, max_payload);
    return r == unknown_kind ? r : "reserved header bytes set";
  }
  return check_frame_header(h, max_payload);
}

frame_parser::frame_parser(std::size_t max_frame_size) noexcept
    : max_payload_(std::max(max_frame_size, frame_header_size) - frame_header_size) {}

void frame_parser::make_room(std::size_t n) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ != 0) {
    // What is left is less than one frame (when next() was drained): moving
    // it to the front is cheap, and a large frame moves at most once.
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (capacity_ - end_ >= n) return;
  const std::size_t needed = end_ + n;
  const std::size_t bound = max_payload_ + frame_header_size + n;  // one frame + one read
  const std::size_t cap =
      std::max({needed, std::min(2 * capacity_, bound), std::min(min_capacity, bound)});
  auto bigger = std::make_unique_for_overwrite<std::byte[]>(cap);
  if (end_ != 0) std::memcpy(bigger.get(), buf_.get(), end_);
  buf_ = std::move(bigger);
  capacity_ = cap;
}

void frame_parser::feed(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  make_room(bytes.size());
  std::memcpy(buf_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
}

std::span<std::byte> frame_parser::prepare(std::size_t n) {
  make_room(n);
  return {buf_.get() + end_, capacity_ - end_};
}

void frame_parser::commit(std::size_t n) noexcept { end_ = std::min(end_ + n, capacity_); }

result<std::optional<frame>> frame_parser::next() {
  if (failed_ != nullptr) [[unlikely]]
    return error(errc::decode_error, failed_);
  const std::size_t avail = end_ - begin_;
  if (avail < frame_header_size) return std::optional<frame>{};
  const std::byte* p = buf_.get() + begin_;
  if (const char* reason = check_frame_header(p, max_payload_)) [[unlikely]] {
    failed_ = reason;
    return error(errc::decode_error, failed_);
  }
  const frame_header h = read_frame_header(p);
  const std::size_t total = frame_header_size + h.length;
  if (avail < total) return std::optional<frame>{};
  begin_ += total;
  return std::optional<frame>{frame{h, {p + frame_header_size, h.length}}};
}

void frame_parser::reset() noexcept {
  begin_ = end_ = 0;
  failed_ = nullptr;
}

}  // namespace troupe::net
