#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "troupe/core/result.hpp"
#include "troupe/net/frame.hpp"

namespace troupe::net {

/// Bounds what a reassembler holds, so that a peer cannot make it buffer
/// without limit.
struct reassembly_limits {
  std::size_t max_message_size = std::size_t{16} << 20;  ///< bytes of one whole payload
  std::size_t max_streams = 64;                          ///< chunked payloads open at once
  std::size_t max_buffered = std::size_t{64} << 20;      ///< bytes held over all open streams
};

/// Joins the chunks of split payloads back into whole payloads.
///
/// A chunked payload is a stream of frames with the `chunked` flag and one
/// (kind, id) key: the first has `first` and `more`, the middle ones `more`,
/// the last neither. Streams of different keys may interleave with each
/// other and with unchunked frames. add() takes every frame a parser returns
/// and hands back whole payloads:
///   - an unchunked frame comes back as it is (its payload still views the
///     parser's buffer);
///   - a chunk that ends its stream comes back as one frame holding the whole
///     payload (kind and id of the stream, no flags), viewing a buffer of the
///     reassembler that stays valid until the next add() or take();
///   - any other chunk is stored, and add() returns nothing.
/// A chunk that does not fit (a first chunk of a stream already open, a
/// later chunk of a stream that is not open, an unchunked request or
/// response that reuses an open stream's id, a payload over
/// max_message_size, more than max_streams streams or max_buffered bytes)
/// is an errc::decode_error with its reason. Failures are sticky.
/// Thread safety: one reassembler, one thread.
class reassembler {
 public:
  /// Limits above 4 GiB - 1 for one payload are lowered to it (a frame
  /// header's length field has 32 bits).
  explicit reassembler(reassembly_limits limits = {});

  /// Takes one frame; see the class comment.
  [[nodiscard]] result<std::optional<frame>> add(const frame& f);

  /// Moves out the buffer that holds the payload the last add() completed
  /// from chunks (empty when it returned an unchunked frame or nothing), for
  /// a caller that keeps the payload beyond the next add().
  [[nodiscard]] std::vector<std::byte> take() noexcept;

  /// Returns the number of streams open (first chunk seen, last not yet).
  [[nodiscard]] std::size_t open_streams() const noexcept { return streams_.size(); }
  /// Returns the payload bytes held by open streams.
  [[nodiscard]] std::size_t buffered() const noexcept { return buffered_; }
  /// Returns true while no failure was found.
  [[nodiscard]] bool ok() const noexcept { return failed_ == nullptr; }
  [[nodiscard]] const reassembly_limits& limits() const noexcept { return limits_; }
  /// Drops every open stream and any failure.
  void reset() noexcept;

 private:
  struct stream {
    frame_kind kind;
    std::uint64_t id;
    std::vector<std::byte> data;
  };

  stream* find(frame_kind kind, std::uint64_t id) noexcept;
  result<std::optional<frame>> fail(const char* reason);
  std::vector<std::byte> fresh_buffer() noexcept;
  void recycle(std::vector<std::byte>&& buf) noexcept;

  reassembly_limits limits_;
  std::vector<stream> streams_;
  std::vector<std::byte> done_;                // the payload last completed
  std::vector<std::vector<std::byte>> spare_;  // emptied buffers kept for reuse
  std::size_t buffered_ = 0;
  const char* failed_ = nullptr;
};

}  // namespace troupe::net
