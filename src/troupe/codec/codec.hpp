#pragma once

// troupe's codec in one include: encoding and decoding of values
// (value_codec.hpp), the debug printer (print.hpp), type ids and the message
// registry (message_registry.hpp). The protobuf adapter is separate:
// troupe/codec/protobuf.hpp.

#include "troupe/codec/binary_reader.hpp"      // IWYU pragma: export
#include "troupe/codec/binary_writer.hpp"      // IWYU pragma: export
#include "troupe/codec/endpoint_resolver.hpp"  // IWYU pragma: export
#include "troupe/codec/message_registry.hpp"   // IWYU pragma: export
#include "troupe/codec/print.hpp"              // IWYU pragma: export
#include "troupe/codec/type_id.hpp"            // IWYU pragma: export
#include "troupe/codec/value_codec.hpp"        // IWYU pragma: export
