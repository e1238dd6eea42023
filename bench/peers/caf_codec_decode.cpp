// CAF peer: decodes the typical message (codec_message.hpp) with
// caf::binary_deserializer, N times on one thread.
//
// The message is serialized once; every iteration deserializes that buffer
// into a fresh message object (a local default-constructed in the loop,
// through a binary_deserializer, then checked for errors and for bytes left
// over), as the troupe program does with its binary_reader. A checksum over
// every decoded field is the sink. The figure is messages decoded per
// second; `bytes` is the size of one encoded message.
//
// usage: bench_codec_decode_caf [n=2000000] [workers, ignored: one thread]

#include "caf_codec_message.hpp"

#include "bench_common.hpp"

namespace {

// Deserializes `buf` into a fresh message and returns its checksum; 0 on
// failure. No execution unit: the message holds no actor handles.
std::uint64_t decode_once(const std::vector<char>& buf) {
  bench::codec_message m;
  caf::binary_deserializer source{nullptr, buf};
  if (auto err = source(m)) return 0;
  if (source.remaining() != 0) return 0;
  return bench::codec_checksum(m);
}

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 2'000'000);
  bench::codec_message msg = bench::make_codec_message();
  std::vector<char> buf;
  caf::binary_serializer serializer{nullptr, buf};
  if (auto err = serializer(msg)) {
    std::fprintf(stderr, "codec_decode: serializing failed\n");
    return 1;
  }
  bench::codec_message decoded;
  caf::binary_deserializer source{nullptr, buf};
  if (source(decoded) || source.remaining() != 0 || !(decoded == msg)) {
    std::fprintf(stderr, "codec_decode: the encoded message does not decode to itself\n");
    return 1;
  }
  return bench::time_decode("caf", n, buf.size(), [&] { return decode_once(buf); });
}
