#include "troupe/net/reassembler.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace troupe::net {

namespace {

// Emptied buffers are kept for the next streams, but not too many and not
// too large ones: a session that once received a 16 MiB message should not
// hold 16 MiB forever.
constexpr std::size_t max_spare_buffers = 4;
constexpr std::size_t max_spare_capacity = std::size_t{1} << 20;

}  // namespace

reassembler::reassembler(reassembly_limits limits) : limits_(limits) {
  limits_.max_message_size =
      std::min<std::size_t>(limits_.max_message_size, std::numeric_limits<std::uint32_t>::max());
  streams_.reserve(std::min<std::size_t>(limits_.max_streams, 64));
}

reassembler::stream* reassembler::find(frame_kind kind, std::uint64_t id) noexcept {
  for (stream& s : streams_)
    if (s.id == id && s.kind == kind) return &s;
  return nullptr;
}

result<std::optional<frame>> reassembler::fail(const char* reason) {
  failed_ = reason;
  return error(errc::decode_error, reason);
}

std::vector<std::byte> reassembler::fresh_buffer() noexcept {
  if (spare_.empty()) return {};
  std::vector<std::byte> b = std::move(spare_.back());
  spare_.pop_back();
  b.clear();
  return b;
}

void reassembler::recycle(std::vector<std::byte>&& buf) noexcept {
  if (buf.capacity() == 0 || buf.capacity() > max_spare_capacity) return;
  if (spare_.size() >= max_spare_buffers) return;
  try {
    spare_.push_back(std::move(buf));
  } catch (...) {  // out of memory: the buffer is simply freed
  }
}

result<std::optional<frame>> reassembler::add(const frame& f) {
  if (failed_ != nullptr) [[unlikely]]
    return error(errc::decode_error, failed_);
  const frame_header& h = f.header;
  if (const char* reason = check_frame_header(h, std::numeric_limits<std::uint32_t>::max()))
      [[unlikely]]
    return fail(reason);
  if (f.payload.size() != h.length) [[unlikely]]
    return fail("a payload whose size is not the header's length");
  if (done_.capacity() != 0) {
    recycle(std::move(done_));
    done_ = {};
  }

  if (!h.chunked()) {
    // Message ids of unchunked frames are 0 and stream ids never are, so
    // only requests and responses can collide with an open stream.
    if (!streams_.empty() && h.id != 0 && find(h.kind, h.id) != nullptr)
      return fail("an unchunked frame reuses the id of an open stream");
    return std::optional<frame>{f};
  }

  stream* s = find(h.kind, h.id);
  if (h.first()) {
    if (s != nullptr) return fail("a first chunk for a stream already open");
    if (streams_.size() >= limits_.max_streams) return fail("too many concurrent streams");
  } else if (s == nullptr) {
    return fail("a chunk of a stream that is not open (unknown or finished)");
  }
  const std::size_t have = s != nullptr ? s->data.size() : 0;
  if (f.payload.size() > limits_.max_message_size - have)
    return fail("a chunked payload exceeds max_message_size");
  if (f.payload.size() > limits_.max_buffered - std::min(buffered_, limits_.max_buffered))
    return fail("open streams exceed max_buffered bytes");

  if (s == nullptr) {
    streams_.push_back(stream{h.kind, h.id, fresh_buffer()});
    s = &streams_.back();
  }
  s->data.insert(s->data.end(), f.payload.begin(), f.payload.end());
  buffered_ += f.payload.size();
  if (h.more()) return std::optional<frame>{};

  // The last chunk: hand out the whole payload and close the stream.
  buffered_ -= s->data.size();
  done_ = std::move(s->data);
  const frame whole{frame_header{h.kind, 0, static_cast<std::uint32_t>(done_.size()), h.id},
                    std::span<const std::byte>(done_)};
  if (s != &streams_.back()) *s = std::move(streams_.back());
  streams_.pop_back();
  return std::optional<frame>{whole};
}

std::vector<std::byte> reassembler::take() noexcept { return std::exchange(done_, {}); }

void reassembler::reset() noexcept {
  for (stream& s : streams_) recycle(std::move(s.data));
  streams_.clear();
  done_.clear();
  buffered_ = 0;
  failed_ = nullptr;
}

}  // namespace troupe::net
