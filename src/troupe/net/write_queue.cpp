#include "troupe/net/write_queue.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <utility>

namespace troupe::net {

namespace {

// Small frames are copied, header and payload together, into blocks of this
// size; blocks never move, so gathered buffers stay valid while frames are
// pushed, and emptied blocks are reused.
constexpr std::size_t block_size = std::size_t{64} << 10;
// Frames up to this size (header included) are copied; larger payloads are
// kept where they are (a moved-in vector) or copied once into their own.
constexpr std::size_t inline_limit = block_size / 4;
constexpr std::size_t max_spare_blocks = 8;
constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

// Flags of a piece (a byte range queued on a lane).
constexpr std::uint8_t end_of_frame = 1;   // the last piece of its frame
constexpr std::uint8_t release_owner = 2;  // the last piece of the oldest owned payload
constexpr std::uint8_t release_block = 4;  // the last piece in the oldest block

}  // namespace

// One FIFO of frames, as a sequence of pieces: ranges of a block (headers,
// small frames) or of an owned payload (large payloads and chunks).
class write_queue::lane {
 public:
  struct cursor {
    std::size_t piece;
    std::size_t off;
  };

  explicit lane(std::vector<std::unique_ptr<std::byte[]>>& spare) : spare_(spare) {}

  // Returns `n` bytes of block space that become the lane's next piece.
  std::byte* arena(std::size_t n, bool ends_frame) {
    if (blocks_.empty() || fill_ + n > block_size) next_block();
    std::byte* p = blocks_.back().get() + fill_;
    fill_ += n;
    add(p, n, ends_frame ? end_of_frame : 0);
    last_arena_ = base_ + pieces_.size() - 1;
    return p;
  }
  // Queues the payload `v` (kept until its last piece is written) and
  // returns its bytes.
  const std::byte* own(std::vector<std::byte>&& v) {
    owners_.push_back(std::move(v));
    return owners_.back().data();
  }
  // Queues `n` bytes at `p` (of an owned payload) as the next piece.
  void add(const std::byte* p, std::size_t n, std::uint8_t flags) {
    pieces_.push_back(piece{p, static_cast<std::uint32_t>(n), flags});
    bytes_ += n;
  }

  [[nodiscard]] cursor start() const noexcept { return {head_, head_off_}; }
  [[nodiscard]] bool mid_frame() const noexcept { return mid_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

  // Appends buffers from `c` on, until the end of the current frame (when
  // `one_frame`) or of the lane. Returns false when `budget` or
  // `max_buffers` stopped it first; `taken` counts the bytes appended.
  bool emit(cursor& c, std::vector<std::span<const std::byte>>& out, std::size_t& budget,
            std::size_t max_buffers, bool one_frame, std::size_t& taken) const {
    taken = 0;
    while (c.piece < pieces_.size()) {
      const piece& p = pieces_[c.piece];
      if (budget == 0) return false;
      const std::size_t n = std::min<std::size_t>(p.len - c.off, budget);
      const std::byte* d = p.data + c.off;
      if (!out.empty() && out.back().data() + out.back().size() == d) {
        out.back() = {out.back().data(), out.back().size() + n};
      } else {
        if (out.size() >= max_buffers) return false;
        out.emplace_back(d, n);
      }
      taken += n;
      budget -= n;
      c.off += n;
      if (c.off < p.len) return false;
      ++c.piece;
      c.off = 0;
      if (one_frame && (p.flags & end_of_frame) != 0) return true;
    }
    return true;
  }

  // Drops the first `n` queued bytes (written by the transport).
  void consume(std::size_t n) noexcept {
    while (n > 0 && head_ < pieces_.size()) {
      const piece& p = pieces_[head_];
      const std::size_t k = std::min<std::size_t>(p.len - head_off_, n);
      head_off_ += k;
      bytes_ -= k;
      n -= k;
      if (head_off_ < p.len) {
        mid_ = true;
        return;
      }
      mid_ = (p.flags & end_of_frame) == 0;
      if ((p.flags & release_owner) != 0) owners_.pop_front();
      if ((p.flags & release_block) != 0) {
        recycle(std::move(blocks_.front()));
        blocks_.pop_front();
      }
      ++head_;
      head_off_ = 0;
    }
    if (head_ == pieces_.size()) {
      // Everything was written: the current block is reused from its start.
      base_ += pieces_.size();
      pieces_.clear();
      head_ = 0;
      fill_ = 0;
      last_arena_ = npos;
    } else if (head_ >= 1024 && head_ * 2 >= pieces_.size()) {
      pieces_.erase(pieces_.begin(), pieces_.begin() + static_cast<std::ptrdiff_t>(head_));
      base_ += head_;
      head_ = 0;
    }
  }

 private:
  struct piece {
    const std::byte* data;
    std::uint32_t len;
    std::uint8_t flags;
  };

  void next_block() {
    if (!blocks_.empty()) {
      // The current block is released with its last piece, or now when
      // that piece was already written.
      if (last_arena_ != npos && last_arena_ >= base_ + head_) {
        pieces_[last_arena_ - base_].flags |= release_block;
      } else {
        recycle(std::move(blocks_.front()));
        blocks_.pop_front();
      }
    }
    if (!spare_.empty()) {
      blocks_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    } else {
      blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(block_size));
    }
    fill_ = 0;
    last_arena_ = npos;
  }
  void recycle(std::unique_ptr<std::byte[]>&& b) noexcept {
    if (spare_.size() >= max_spare_blocks) return;
    try {
      spare_.push_back(std::move(b));
    } catch (...) {  // out of memory: the block is freed instead
    }
  }

  std::vector<piece> pieces_;  // pieces_[head_] is the oldest not fully written
  std::size_t head_ = 0;
  std::size_t head_off_ = 0;  // bytes of pieces_[head_] already written
  std::size_t base_ = 0;      // number of pieces dropped before pieces_[0]
  bool mid_ = false;          // some bytes of the oldest frame were written
  std::size_t bytes_ = 0;
  std::deque<std::unique_ptr<std::byte[]>> blocks_;  // oldest first; back() is filled
  std::size_t fill_ = 0;                             // bytes used in blocks_.back()
  std::size_t last_arena_ = npos;  // index (counting dropped ones) of the last piece in back()
  std::deque<std::vector<std::byte>> owners_;
  std::vector<std::unique_ptr<std::byte[]>>& spare_;
};

write_queue::write_queue(write_queue_options options)
    : options_(options),
      control_(std::make_unique<lane>(spare_blocks_)),
      bulk_(std::make_unique<lane>(spare_blocks_)) {
  constexpr std::size_t u32_max = std::numeric_limits<std::uint32_t>::max();
  options_.chunk_size = std::clamp<std::size_t>(options_.chunk_size, 1, u32_max);
  options_.max_control_payload = std::min(options_.max_control_payload, u32_max);
}

// Defined here, where lane is a complete type.
write_queue::~write_queue() = default;

result<void> write_queue::push(frame_kind kind, std::uint64_t id,
                               std::span<const std::byte> payload) {
  return push_frame(kind, id, payload, nullptr);
}

result<void> write_queue::push(frame_kind kind, std::uint64_t id,
                               std::vector<std::byte>&& payload) {
  return push_frame(kind, id, payload, &payload);
}

result<void> write_queue::push_frame(frame_kind kind, std::uint64_t id,
                                     std::span<const std::byte> payload,
                                     std::vector<std::byte>* owned) {
  const std::size_t n = payload.size();
  const bool control = is_control_kind(kind);
  if (n > (control ? options_.max_control_payload : options_.max_message_size))
    return error(errc::invalid_argument, "payload larger than the queue's limit");
  const bool split = !control && n > options_.chunk_size;
  frame_header h{kind, 0, static_cast<std::uint32_t>(split ? options_.chunk_size : n), id};
  if (split) {
    if (kind == frame_kind::message && id != 0)
      return error(errc::invalid_argument, "message ids are assigned by the queue");
    h.flags = frame_flags::chunked | frame_flags::first | frame_flags::more;
    if (kind == frame_kind::message) h.id = next_stream_id_;
  }
  if (const char* reason = check_frame_header(h, std::numeric_limits<std::uint32_t>::max()))
    return error(errc::invalid_argument, reason);

  lane& l = control ? *control_ : *bulk_;
  if (!split && frame_header_size + n <= inline_limit) {
    std::byte* p = l.arena(frame_header_size + n, true);
    write_frame_header(p, h);
    if (n != 0) std::memcpy(p + frame_header_size, payload.data(), n);
    return {};
  }
  const std::byte* data = owned != nullptr
                              ? l.own(std::move(*owned))
                              : l.own(std::vector<std::byte>(payload.begin(), payload.end()));
  if (!split) {
    write_frame_header(l.arena(frame_header_size, false), h);
    l.add(data, n, end_of_frame | release_owner);
    return {};
  }
  if (kind == frame_kind::message) ++next_stream_id_;
  for (std::size_t off = 0; off < n; off += options_.chunk_size) {
    const std::size_t len = std::min(options_.chunk_size, n - off);
    const bool last = off + len == n;
    h.flags = static_cast<std::uint8_t>(frame_flags::chunked | (off == 0 ? frame_flags::first : 0) |
                                        (last ? 0 : frame_flags::more));
    h.length = static_cast<std::uint32_t>(len);
    write_frame_header(l.arena(frame_header_size, false), h);
    l.add(data + off, len, last ? end_of_frame | release_owner : end_of_frame);
  }
  return {};
}

std::size_t write_queue::gather(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes,
                                std::size_t max_buffers) {
  out.clear();
  plan_size_ = 0;
  plan_pos_ = 0;
  std::size_t budget = max_bytes;
  std::size_t total = 0;
  const auto run = [&](lane& l, lane::cursor& c, bool one_frame) {
    std::size_t taken = 0;
    const bool finished = l.emit(c, out, budget, max_buffers, one_frame, taken);
    if (taken != 0) {
      if (plan_size_ != 0 && plan_[plan_size_ - 1].l == &l) {
        plan_[plan_size_ - 1].bytes += taken;
      } else {
        plan_[plan_size_++] = step{&l, taken};
      }
      total += taken;
    }
    return finished;
  };
  lane::cursor cc = control_->start();
  lane::cursor bc = bulk_->start();
  // A partly written frame goes first (at most one lane can have one), then
  // every control frame, then bulk frames.
  if (control_->mid_frame()) {
    if (!run(*control_, cc, true)) return total;
  } else if (bulk_->mid_frame()) {
    if (!run(*bulk_, bc, true)) return total;
  }
  if (!run(*control_, cc, false)) return total;
  run(*bulk_, bc, false);
  return total;
}

void write_queue::consumed(std::size_t n) noexcept {
  while (n > 0 && plan_pos_ < plan_size_) {
    step& s = plan_[plan_pos_];
    const std::size_t k = std::min(n, s.bytes);
    s.l->consume(k);
    s.bytes -= k;
    n -= k;
    if (s.bytes == 0) ++plan_pos_;
  }
}

bool write_queue::empty() const noexcept { return queued_bytes() == 0; }
std::size_t write_queue::queued_bytes() const noexcept { return control_bytes() + bulk_bytes(); }
std::size_t write_queue::control_bytes() const noexcept { return control_->bytes(); }
std::size_t write_queue::bulk_bytes() const noexcept { return bulk_->bytes(); }

}  // namespace troupe::net
