#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "troupe/core/result.hpp"
#include "troupe/net/frame.hpp"

namespace troupe::net {

/// Configures a write_queue.
struct write_queue_options {
  /// Largest bulk payload sent in one frame; larger ones are split into
  /// chunks of this size. Must not exceed the peer's max_frame_size - 16.
  std::size_t chunk_size = std::size_t{64} << 10;
  /// Largest control-lane payload (control frames are never split); the
  /// peer's max_frame_size - 16.
  std::size_t max_control_payload = std::size_t{1} << 20;
  /// Largest bulk payload push() accepts (the peer's max_message_size).
  std::size_t max_message_size = std::size_t{16} << 20;
};

/// Queues outgoing frames on two lanes and hands them to the transport in as
/// few buffers as possible.
///
/// The control lane carries handshake, heartbeat, heartbeat_ack, control and
/// goodbye frames; the bulk lane carries message, request and response
/// frames, split into chunks of chunk_size when larger. Every lane is FIFO.
/// gather() returns the bytes to write next: first the rest of a frame that
/// a partial write left unfinished, then every queued control frame, then
/// bulk frames, so a control frame queued before a gather() waits behind at
/// most the rest of one bulk frame (at most chunk_size + 16 bytes). Frames
/// next to each other in memory are returned as one buffer: small frames
/// (header and payload) are copied into reusable blocks, so a burst of small
/// messages becomes one buffer and one write.
///
/// The transport loop:
///   gather(bufs, max) -> write the buffers (writev, async_write_some)
///   -> consumed(bytes written) -> gather again.
/// The buffers stay valid until consumed() has covered them (push() never
/// moves them). consumed() may be called several times for one gather(); the
/// next gather() starts from what is left, partial frames included.
///
/// Thread safety: one thread calls everything (the session's); push() may
/// run while a write of gathered buffers is in flight.
class write_queue {
 public:
  explicit write_queue(write_queue_options options = {});
  ~write_queue();
  write_queue(const write_queue&) = delete;
  write_queue& operator=(const write_queue&) = delete;

  /// Queues a frame of `kind` with `payload` (copied). `id` is the request id
  /// for requests and responses (nonzero), the sequence number for
  /// heartbeats and heartbeat_acks, and 0 otherwise: chunked messages get
  /// stream ids from the queue. Fails with errc::invalid_argument when the
  /// frame breaks the protocol (docs/protocol.md) or a size limit.
  result<void> push(frame_kind kind, std::uint64_t id, std::span<const std::byte> payload);
  /// Queues a frame like push() above, taking `payload` without copying it
  /// when it is large.
  result<void> push(frame_kind kind, std::uint64_t id, std::vector<std::byte>&& payload);
  /// Queues a frame without payload (a heartbeat, a goodbye).
  result<void> push(frame_kind kind, std::uint64_t id) { return push(kind, id, payload_none()); }

  /// Replaces `out` with the buffers to write next, at most `max_bytes`
  /// bytes in at most `max_buffers` buffers (1024 is Linux's IOV_MAX), and
  /// returns their total size (0 when there is nothing to write).
  std::size_t gather(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes,
                     std::size_t max_buffers = 1024);
  /// Records that the first `n` bytes of what the last gather() returned
  /// (less what earlier consumed() calls covered) were written. Bytes beyond
  /// what gather() returned are ignored.
  void consumed(std::size_t n) noexcept;

  /// Returns true when nothing is queued.
  [[nodiscard]] bool empty() const noexcept;
  /// Returns the queued bytes not written yet, headers included (for
  /// back-pressure: stop accepting sends above some amount).
  [[nodiscard]] std::size_t queued_bytes() const noexcept;
  [[nodiscard]] std::size_t control_bytes() const noexcept;
  [[nodiscard]] std::size_t bulk_bytes() const noexcept;
  [[nodiscard]] const write_queue_options& options() const noexcept { return options_; }

 private:
  class lane;
  struct step {
    lane* l;
    std::size_t bytes;
  };

  static std::span<const std::byte> payload_none() noexcept { return {}; }
  result<void> push_frame(frame_kind kind, std::uint64_t id, std::span<const std::byte> payload,
                          std::vector<std::byte>* owned);

  write_queue_options options_;
  std::unique_ptr<lane> control_;
  std::unique_ptr<lane> bulk_;
  std::uint64_t next_stream_id_ = 1;
  step plan_[3] = {};  // what the last gather() took from which lane, in order
  std::size_t plan_size_ = 0;
  std::size_t plan_pos_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> spare_blocks_;  // shared by both lanes
};

}  // namespace troupe::net
