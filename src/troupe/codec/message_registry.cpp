#include "troupe/codec/message_registry.hpp"

#include <boost/core/demangle.hpp>
#include <cstdio>

namespace troupe::codec {

namespace {

std::string hex_id(type_id id) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::string describe(std::string_view name, const std::type_info& t) {
  return "'" + std::string(name) + "' (" + boost::core::demangle(t.name()) + ")";
}

}  // namespace

std::string message_info::cxx_name() const { return boost::core::demangle(message->type->name()); }

result<type_id> message_registry::add_erased(std::string_view name, const value_ops* message,
                                             const value_ops* reply) {
  if (name.empty()) {
    return error(
        errc::invalid_name,
        "message type " + boost::core::demangle(message->type->name()) + " has an empty wire name");
  }
  const type_id id = ids_(name);
  if (const message_info* same = find_type(*message->type); same != nullptr) {
    if (same->name == name) return id;  // added again, e.g. by two actors
    return error(errc::name_taken, "message type " + boost::core::demangle(message->type->name()) +
                                       " is registered as '" + same->name +
                                       "' and cannot also be '" + std::string(name) + "'");
  }
  if (auto it = by_id_.find(id); it != by_id_.end()) {
    const message_info& other = *it->second;
    if (other.name == name) {
      return error(errc::name_taken,
                   "two message types have the wire name '" + std::string(name) +
                       "': " + boost::core::demangle(other.message->type->name()) + " and " +
                       boost::core::demangle(message->type->name()));
    }
    return error(errc::name_taken,
                 "type ids collide: " + describe(other.name, *other.message->type) + " and " +
                     describe(name, *message->type) + " both have id " + hex_id(id) +
                     "; rename one of them");
  }
  auto info = std::make_unique<message_info>();
  info->id = id;
  info->name = std::string(name);
  info->message = message;
  info->reply = reply;
  by_type_.emplace(std::type_index(*message->type), info.get());
  by_id_.emplace(id, std::move(info));
  return id;
}

const message_info* message_registry::find(type_id id) const noexcept {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

const message_info* message_registry::find_type(const std::type_info& t) const noexcept {
  auto it = by_type_.find(std::type_index(t));
  return it == by_type_.end() ? nullptr : it->second;
}

error message_registry::not_registered(const std::type_info& t) {
  return error(errc::invalid_argument,
               "message type " + boost::core::demangle(t.name()) + " is not registered");
}

void message_registry::write_id(binary_writer& w, type_id id) {
  std::byte le[8];
  for (std::size_t i = 0; i < 8; ++i) le[i] = static_cast<std::byte>(id >> (8 * i));
  w.raw(le);
}

any_message message_registry::decode(binary_reader& r) const {
  std::span<const std::byte> le = r.raw(8);
  if (!r.ok()) return {};
  type_id id = 0;
  for (std::size_t i = 0; i < 8; ++i) id |= static_cast<type_id>(le[i]) << (8 * i);
  const message_info* info = find(id);
  if (info == nullptr) {
    r.fail("unknown message type id " + hex_id(id));
    return {};
  }
  void* p = info->message->decode(r);
  if (p == nullptr) return {};
  return any_message(info, p);
}

result<any_message> message_registry::decode(std::span<const std::byte> in, decode_limits limits,
                                             const endpoint_resolver* resolver) const {
  binary_reader r(in, limits, resolver);
  any_message m = decode(r);
  if (r.ok() && !r.done()) r.fail("bytes left after the message");
  if (!r.ok()) return r.failure();
  return m;
}

}  // namespace troupe::codec
