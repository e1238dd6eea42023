#pragma once

// The messages of the decode_dispatch fuzz target (and its seeds): a few
// actors' worth, registered by type id the way a node registers them.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rich_message.hpp"
#include "troupe/codec/message_registry.hpp"
#include "troupe/core/actor.hpp"

namespace troupe_fuzz {

struct ping {
  using reply = std::int64_t;
  static constexpr std::string_view type_name = "fuzz.ping";
  std::int64_t n = 0;
};

struct put {
  using reply = bool;
  static constexpr std::string_view type_name = "fuzz.kv.put";
  std::string key;
  std::vector<std::byte> value;
  std::optional<std::uint32_t> ttl_seconds;
};

struct get {
  using reply = std::optional<std::vector<std::byte>>;
  static constexpr std::string_view type_name = "fuzz.kv.get";
  std::string key;
};

/// Not an aggregate: its inspect() refuses a negative amount.
class transfer {
 public:
  static constexpr std::string_view type_name = "fuzz.bank.transfer";
  transfer() = default;
  transfer(std::string from, std::string to, std::int64_t cents)
      : from_(std::move(from)), to_(std::move(to)), cents_(cents) {}
  template <class Inspector>
  friend void inspect(Inspector& f, transfer& t) {
    f.field("from", t.from_);
    f.field("to", t.to_);
    f.field("cents", t.cents_);
    if constexpr (Inspector::loading) {
      if (t.cents_ < 0) f.fail("negative transfer");
    }
  }

 private:
  std::string from_;
  std::string to_;
  std::int64_t cents_ = 0;
};

class kv_actor : public troupe::actor<kv_actor> {
 public:
  using handles = troupe::handles<ping, put, get>;
  std::int64_t handle(const ping& p) { return p.n; }
  bool handle(const put&) { return true; }
  std::optional<std::vector<std::byte>> handle(const get&) { return std::nullopt; }
};

class bank_actor : public troupe::actor<bank_actor> {
 public:
  using handles = troupe::handles<ping, transfer>;
  std::int64_t handle(const ping& p) { return p.n; }
  void handle(const transfer&) {}
};

/// The registry a node with these actors builds at start-up, plus the rich
/// message under a name given at registration.
inline troupe::result<troupe::codec::message_registry> dispatch_registry() {
  auto reg = troupe::codec::message_registry::for_actors<kv_actor, bank_actor>();
  if (!reg) return reg;
  if (auto r = reg->add<rich_message>("fuzz.rich"); !r) return r.error();
  return reg;
}

}  // namespace troupe_fuzz
