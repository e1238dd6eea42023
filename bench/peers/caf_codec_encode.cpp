// CAF peer: encodes the typical message (codec_message.hpp) with
// caf::binary_serializer, N times on one thread.
//
// Every iteration clears one reused buffer and serializes the message into
// it (a binary_serializer over that buffer, then `sink(msg)`), as the troupe
// program does with its binary_writer. The sum of the encoded sizes and of
// the last bytes is the sink. The figure is messages encoded per second;
// `bytes` is the size of one encoded message.
//
// usage: bench_codec_encode_caf [n=5000000] [workers, ignored: one thread]

#include "caf_codec_message.hpp"

#include "bench_common.hpp"

namespace {

// Serializes `m` into `buf` (cleared first) and returns the encoded size,
// 0 on error. No execution unit: the message holds no actor handles.
std::size_t encode_once(std::vector<char>& buf, bench::codec_message& m) {
  buf.clear();
  caf::binary_serializer sink{nullptr, buf};
  if (auto err = sink(m)) return 0;
  return buf.size();
}

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 5'000'000);
  bench::codec_message msg = bench::make_codec_message();
  std::vector<char> buf;
  const std::size_t bytes = encode_once(buf, msg);
  bench::codec_message decoded;
  caf::binary_deserializer source{nullptr, buf};
  if (bytes == 0 || source(decoded) || source.remaining() != 0 || !(decoded == msg)) {
    std::fprintf(stderr, "codec_encode: the encoded message does not decode to itself\n");
    return 1;
  }
  return bench::time_encode("caf", n, buf,
                            [&](std::vector<char>& b) { return encode_once(b, msg); });
}
