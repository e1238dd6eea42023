// troupe: encodes the typical message (bench/peers/codec_message.hpp) with
// troupe's binary codec, N times on one thread.
//
// Every iteration clears one reused buffer and encodes the message into it
// (codec::encode through a binary_writer), as the CAF peer does with
// caf::binary_serializer. The sum of the encoded sizes and of the last bytes
// is the sink that keeps the work observable. The figure is messages encoded
// per second; `bytes` is the size of one encoded message.
//
// usage: bench_codec_encode_troupe [n=5000000] [workers, ignored: one thread]

#include <troupe/codec/value_codec.hpp>

#include "bench_common.hpp"
#include "codec_message.hpp"

namespace {

namespace codec = troupe::codec;

// Encodes `m` into `buf` (cleared first) and returns the encoded size.
std::size_t encode_once(std::vector<std::byte>& buf, const bench::codec_message& m) {
  buf.clear();
  codec::binary_writer w(buf);
  codec::encode(w, m);
  return buf.size();
}

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 5'000'000);
  const bench::codec_message msg = bench::make_codec_message();
  std::vector<std::byte> buf;
  encode_once(buf, msg);
  auto decoded = codec::from_bytes<bench::codec_message>(buf);
  if (!decoded || !(*decoded == msg)) {
    std::fprintf(stderr, "codec_encode: the encoded message does not decode to itself\n");
    return 1;
  }
  return bench::time_encode("troupe", n, buf,
                            [&](std::vector<std::byte>& b) { return encode_once(b, msg); });
}
