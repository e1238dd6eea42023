#pragma once

// The protobuf adapter: include this header and every protobuf message type
// (anything derived from google::protobuf::MessageLite, full or lite runtime)
// can travel inside troupe values — as a message field, in a vector, an
// optional, a variant — with no other code. See docs/codec-protobuf.md.
//
// Wire format: the message's own protobuf serialization as a byte string
// (varint length, then the bytes), exactly what binary_writer::bytes writes.

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <google/protobuf/message.h>
#include <google/protobuf/message_lite.h>

#include "troupe/codec/type_id.hpp"
#include "troupe/codec/value_codec.hpp"

namespace troupe::codec {

/// True for protobuf message types (full and lite runtime alike).
template <class T>
concept protobuf_message = std::is_base_of_v<google::protobuf::MessageLite, T>;

/// Returns T's full protobuf name ("package.Message"): the same in every
/// build and on every node, so it can serve as a message's wire name. The
/// view refers to storage that lives as long as the program.
template <protobuf_message T>
std::string_view protobuf_type_name() {
  static const std::string name = T::default_instance().GetTypeName();
  return name;
}

/// Every protobuf message's wire name is its full name, so that protobuf
/// messages can be listed in an actor's handles<...> like any other.
template <class T>
struct wire_name<T, std::enable_if_t<std::is_base_of_v<google::protobuf::MessageLite, T>>> {
  static std::string_view get() { return protobuf_type_name<T>(); }
};

namespace detail {

/// Sizes the stack buffer a message is serialized into before its bytes are
/// appended to the writer; larger messages pass through it in chunks.
inline constexpr std::size_t protobuf_chunk = 1024;

/// Hands protobuf one caller-owned buffer at a time and appends each filled
/// buffer to a binary_writer: serializes messages of any size with one copy
/// and no allocation of its own.
class protobuf_chunk_stream final : public google::protobuf::io::ZeroCopyOutputStream {
 public:
  protobuf_chunk_stream(binary_writer& w, std::span<std::byte> chunk) noexcept
      : w_(w), chunk_(chunk) {}

  /// Appends the bytes protobuf wrote since the last Next() to the writer.
  void flush() {
    w_.raw(chunk_.first(used_));
    flushed_ += static_cast<std::int64_t>(used_);
    used_ = 0;
  }

  bool Next(void** data, int* size) override {
    flush();
    used_ = chunk_.size();
    *data = chunk_.data();
    *size = static_cast<int>(chunk_.size());
    return true;
  }
  void BackUp(int count) override { used_ -= static_cast<std::size_t>(count); }
  [[nodiscard]] std::int64_t ByteCount() const override {
    return flushed_ + static_cast<std::int64_t>(used_);
  }

 private:
  binary_writer& w_;
  std::span<std::byte> chunk_;
  std::size_t used_ = 0;
  std::int64_t flushed_ = 0;
};

/// Writes `m` as a length-prefixed byte string. Throws std::length_error for
/// a message over 2 GiB (protobuf cannot serialize it).
inline void protobuf_encode(binary_writer& w, const google::protobuf::MessageLite& m) {
  // Computes and caches the sizes of all submessages, which the
  // serialization below reuses.
  const std::size_t size = m.ByteSizeLong();
  if (size > static_cast<std::size_t>(INT_MAX)) {
    throw std::length_error("troupe: protobuf message " + m.GetTypeName() + " exceeds 2 GiB");
  }
  w.varint(size);
  std::byte buf[protobuf_chunk];
  if (size <= protobuf_chunk) {
    m.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(buf));
    w.raw(std::span<const std::byte>(buf, size));
    return;
  }
  protobuf_chunk_stream stream(w, buf);
  {
    google::protobuf::io::CodedOutputStream out(&stream);
    m.SerializeWithCachedSizes(&out);
  }  // ~CodedOutputStream hands back (BackUp) the unused end of the chunk
  stream.flush();
}

/// Reads a length-prefixed protobuf message into `m`; problems go to `r`.
inline void protobuf_decode(binary_reader& r, google::protobuf::MessageLite& m) {
  // The length is checked against max_elements and the remaining input.
  const std::span<const std::byte> body = r.bytes();
  if (!r.ok()) return;
  if (body.size() > static_cast<std::size_t>(INT_MAX)) {
    r.fail("protobuf message exceeds 2 GiB");
    return;
  }
  if (!r.enter()) return;
  namespace pio = google::protobuf::io;
  // Nested messages inside the body count against what is left of
  // max_depth (enter() above guarantees depth() <= max_depth).
  const int budget =
      static_cast<int>(std::min<std::size_t>(r.limits().max_depth - r.depth(), INT_MAX));
  // Each level of nesting takes two bytes at least (a tag and a length, or
  // a group's start and end tags), so a short body cannot nest deeper than
  // either our limit or protobuf's own: it takes the faster parse, which
  // only knows protobuf's. Partial parses, then IsInitialized(): a full
  // parse logs every message that lacks required fields to stderr, which a
  // hostile peer could use to flood the log.
  bool parsed = false;
  if (body.size() / 2 <= static_cast<std::size_t>(
                             std::min(budget, pio::CodedInputStream::GetDefaultRecursionLimit()))) {
    parsed = m.ParsePartialFromArray(body.data(), static_cast<int>(body.size()));
  } else {
    pio::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(body.data()),
                             static_cast<int>(body.size()));
    in.SetRecursionLimit(budget);
    parsed = m.ParsePartialFromCodedStream(&in) && in.ConsumedEntireMessage();
  }
  if (!parsed) {
    r.fail("protobuf message failed to parse");
  } else if (!m.IsInitialized()) {
    r.fail("protobuf message is missing required fields");
  }
  r.leave();
}

}  // namespace detail

/// Encodes every protobuf message type as its own serialization in a
/// length-prefixed byte string. Stateless: any thread may use it, but a
/// message must not be modified while it is encoded.
template <class T>
struct codec_traits<T, std::enable_if_t<std::is_base_of_v<google::protobuf::MessageLite, T>>> {
  /// Writes `m`'s serialization behind its length (a varint). Required
  /// fields (proto2) are not checked here: a message without them fails to
  /// decode.
  static void encode(binary_writer& w, const T& m) { detail::protobuf_encode(w, m); }
  /// Reads a message; a body that protobuf refuses, or one that lacks
  /// required fields, is a decode_error.
  static void decode(binary_reader& r, T& m) { detail::protobuf_decode(r, m); }
  /// Prints the full type name, then the fields in protobuf text format on
  /// one line (`pkg.Order{id: 7 customer: "ann"}`), or, for the lite
  /// runtime, which has no reflection, the serialized size
  /// (`pkg.Note(12 bytes)`). codec::print and the message registry use it.
  static void print(std::ostream& os, const T& m) {
    if constexpr (std::is_base_of_v<google::protobuf::Message, T>) {
      os << m.GetTypeName() << '{' << m.ShortDebugString() << '}';
    } else {
      os << m.GetTypeName() << '(' << m.ByteSizeLong() << " bytes)";
    }
  }
};

}  // namespace troupe::codec
