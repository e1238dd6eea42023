// troupe: decodes the typical message (bench/peers/codec_message.hpp) with
// troupe's binary codec, N times on one thread.
//
// The message is encoded once; every iteration decodes that buffer into a
// fresh message object (a local default-constructed in the loop, through a
// binary_reader and codec::decode, then checked with done()), as the CAF
// peer does with caf::binary_deserializer. A checksum over every decoded
// field is the sink. The figure is messages decoded per second; `bytes` is
// the size of one encoded message.
//
// usage: bench_codec_decode_troupe [n=2000000] [workers, ignored: one thread]

#include <troupe/codec/value_codec.hpp>

#include "bench_common.hpp"
#include "codec_message.hpp"

namespace {

namespace codec = troupe::codec;

// Decodes `buf` into a fresh message and returns its checksum; 0 on failure.
std::uint64_t decode_once(std::span<const std::byte> buf) {
  bench::codec_message m;
  codec::binary_reader r(buf);
  codec::decode(r, m);
  if (!r.done()) return 0;
  return bench::codec_checksum(m);
}

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 2'000'000);
  const bench::codec_message msg = bench::make_codec_message();
  const std::vector<std::byte> buf = codec::to_bytes(msg);
  auto decoded = codec::from_bytes<bench::codec_message>(buf);
  if (!decoded || !(*decoded == msg)) {
    std::fprintf(stderr, "codec_decode: the encoded message does not decode to itself\n");
    return 1;
  }
  return bench::time_decode("troupe", n, buf.size(), [&] { return decode_once(buf); });
}
