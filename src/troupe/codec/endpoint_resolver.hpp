#pragma once

#include "troupe/core/actor_address.hpp"
#include "troupe/core/actor_handle.hpp"
#include "troupe/core/ref_counted.hpp"

namespace troupe::codec {

/// Turns endpoints inside messages into addresses on the wire and back.
///
/// A writer or reader without a resolver cannot carry endpoints: encoding
/// writes the bare local id with an empty node name (meaningful only inside
/// this process), and decoding one is a decode_error. Remoting supplies the
/// resolver that makes an address from another node a usable endpoint.
///
/// Thread safety: implementations are called from any thread that encodes
/// or decodes.
class endpoint_resolver {
 public:
  virtual ~endpoint_resolver() = default;
  /// Returns the address `h` is sent as.
  [[nodiscard]] virtual actor_address address_of(const actor_handle& h) const = 0;
  /// Returns the handle for a received address; an empty handle makes an empty
  /// endpoint (an actor that cannot be reached: sends fail with
  /// actor_not_found).
  [[nodiscard]] virtual ref_ptr<actor_handle> resolve(const actor_address& a) const = 0;
};

}  // namespace troupe::codec
