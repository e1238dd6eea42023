#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "troupe/core/error.hpp"
#include "troupe/core/result.hpp"

namespace troupe::net {

/// Names what a frame carries (docs/protocol.md, "Frames"). Values are stable:
/// they are byte 0 of every frame header.
enum class frame_kind : std::uint8_t {
  handshake = 1,      ///< session set-up (version, names, challenge/response)
  heartbeat = 2,      ///< liveness probe; id is a sequence number of the sender's choice
  heartbeat_ack = 3,  ///< answer to a heartbeat; id echoes the heartbeat's id
  message = 4,        ///< a one-way message (tell)
  request = 5,        ///< an ask; id is the request id
  response = 6,       ///< the reply to an ask; id is the request id it answers
  control = 7,        ///< membership, down notices and other session-level traffic
  goodbye = 8,        ///< orderly close of the session
};

/// Returns the lower-case name of `k` ("message", ...), or "unknown".
std::string_view to_string(frame_kind k) noexcept;

/// Returns true for kinds that travel on the control lane (never chunked,
/// never queued behind bulk data): handshake, heartbeats, control, goodbye.
constexpr bool is_control_kind(frame_kind k) noexcept {
  return k != frame_kind::message && k != frame_kind::request && k != frame_kind::response;
}

/// Bits of the header's flags byte. Bits 3 to 7 are reserved and must be 0.
namespace frame_flags {
/// More chunks of the same payload follow this one.
inline constexpr std::uint8_t more = 0x01;
/// This frame is a chunk of a payload split over several frames.
inline constexpr std::uint8_t chunked = 0x02;
/// This frame is the first chunk of its payload (opens the stream).
inline constexpr std::uint8_t first = 0x04;
/// Every bit that has a meaning.
inline constexpr std::uint8_t known = more | chunked | first;
}  // namespace frame_flags

/// Size of every frame header, in bytes.
inline constexpr std::size_t frame_header_size = 16;

/// Default largest frame (header included) a parser accepts: 1 MiB of payload.
inline constexpr std::size_t default_max_frame_size = (std::size_t{1} << 20) + frame_header_size;

/// Holds the fields of a frame header.
struct frame_header {
  frame_kind kind = frame_kind::message;
  std::uint8_t flags = 0;
  std::uint32_t length = 0;  ///< payload bytes that follow the header
  std::uint64_t id = 0;      ///< request id, stream id or heartbeat sequence (see frame_kind)

  [[nodiscard]] bool more() const noexcept { return (flags & frame_flags::more) != 0; }
  [[nodiscard]] bool chunked() const noexcept { return (flags & frame_flags::chunked) != 0; }
  [[nodiscard]] bool first() const noexcept { return (flags & frame_flags::first) != 0; }

  friend bool operator==(const frame_header&, const frame_header&) = default;
};

/// Holds one frame: its header and a view of its payload. Who hands out a
/// frame says how long the view stays valid.
struct frame {
  frame_header header;
  std::span<const std::byte> payload;
};

/// Writes `h` as the 16 header bytes at `out` (little-endian, reserved bytes 0).
void write_frame_header(std::byte* out, const frame_header& h) noexcept;

/// Reads the 16 header bytes at `in` as they are, without checking them.
frame_header read_frame_header(const std::byte* in) noexcept;

/// Checks the 16 header bytes at `in` against the protocol's rules (known
/// kind, reserved bits and bytes zero, a valid flag combination, an id that
/// fits the kind, a payload of at most `max_payload` bytes). Returns the
/// reason it is refused, or nullptr when it is valid.
const char* check_frame_header(const std::byte* in, std::size_t max_payload) noexcept;

/// Checks a decoded header against the same rules (reserved bytes aside).
const char* check_frame_header(const frame_header& h, std::size_t max_payload) noexcept;

/// Splits a received byte stream into frames.
///
/// Bytes go in with feed() (a copy) or prepare()/commit() (the transport
/// reads straight into the parser's buffer), split anywhere, one byte at a
/// time included. next() returns the next complete frame, nothing when more
/// bytes are needed, or a decode_error with its reason. A header is checked
/// as soon as its 16 bytes are there, so an oversized length is refused
/// before any of its payload is buffered. Failures are sticky: once next()
/// has failed it fails the same way forever (the session must be closed).
///
/// A returned frame's payload views the parser's buffer and stays valid
/// until the next feed(), prepare() or reset() (next() never moves bytes, so
/// several frames may be held at once).
///
/// Memory: when next() is called until it returns nothing after every feed
/// or commit, the parser holds at most one incomplete frame (less than
/// max_frame_size bytes) plus the bytes of one read.
/// Thread safety: one parser, one thread.
class frame_parser {
 public:
  /// `max_frame_size` counts the header: the largest payload accepted is
  /// max_frame_size - 16 (values under 16 are raised to 16).
  explicit frame_parser(std::size_t max_frame_size = default_max_frame_size) noexcept;

  /// Appends received bytes.
  void feed(std::span<const std::byte> bytes);
  /// Returns space for at least `n` bytes at the end of the buffer, for the
  /// transport to read into; commit() then says how many it wrote.
  std::span<std::byte> prepare(std::size_t n);
  /// Adds `n` bytes written into the span prepare() returned.
  void commit(std::size_t n) noexcept;

  /// Returns the next complete frame, std::nullopt when more bytes are
  /// needed, or errc::decode_error with the reason the stream is refused.
  [[nodiscard]] result<std::optional<frame>> next();

  /// Returns true while no failure was found.
  [[nodiscard]] bool ok() const noexcept { return failed_ == nullptr; }
  /// Returns received bytes not returned as frames yet.
  [[nodiscard]] std::size_t buffered() const noexcept { return end_ - begin_; }
  /// Returns the size of the internal buffer (for tests of the memory bound).
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  /// Returns the largest payload accepted.
  [[nodiscard]] std::size_t max_payload() const noexcept { return max_payload_; }
  /// Drops every buffered byte and any failure (keeps the buffer's memory).
  void reset() noexcept;

 private:
  void make_room(std::size_t n);

  std::unique_ptr<std::byte[]> buf_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;  // first byte not returned yet
  std::size_t end_ = 0;    // one past the last received byte
  std::size_t max_payload_;
  const char* failed_ = nullptr;
};

}  // namespace troupe::net
