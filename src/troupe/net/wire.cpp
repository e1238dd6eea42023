#include "troupe/net/wire.hpp"

#include <algorithm>
#include <chrono>
#include <string>

namespace troupe::net::wire {

void write_request_head(codec::binary_writer& w, actor_id target, duration left) {
  w.varint(target);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
  w.varint(static_cast<std::uint64_t>(std::max<std::int64_t>(0, us)));
}

void write_error(codec::binary_writer& w, const error& e) {
  write_u8(w, static_cast<std::uint8_t>(e.code()));
  w.string(e.detail());
}

error read_error_body(codec::binary_reader& r, std::uint8_t status) {
  std::string detail = r.string();
  if (r.ok() && !r.done()) r.fail("bytes left after an error response");
  if (!r.ok()) return r.failure();
  const auto code = static_cast<errc>(status);
  if (status > static_cast<std::uint8_t>(errc::invalid_name) || to_string(code) == "unknown")
    return error(errc::decode_error, "a response with an unknown status " + std::to_string(status));
  return error(code, std::move(detail));
}

void write_watch(codec::binary_writer& w, actor_id target, std::uint64_t token) {
  write_u8(w, control_watch);
  w.varint(target);
  w.varint(token);
}

void write_unwatch(codec::binary_writer& w, std::uint64_t token) {
  write_u8(w, control_unwatch);
  w.varint(token);
}

void write_down(codec::binary_writer& w, std::uint64_t token, const exit_reason& why) {
  write_u8(w, control_down);
  w.varint(token);
  write_u8(w, static_cast<std::uint8_t>(why.what()));
  w.string(why.text());
}

void write_signal(codec::binary_writer& w, actor_id target, std::uint8_t what) {
  write_u8(w, control_signal);
  w.varint(target);
  write_u8(w, what);
}

exit_reason read_exit_reason(codec::binary_reader& r) {
  const std::uint8_t kind = read_u8(r);
  std::string text = r.string();
  if (!r.ok()) return {};
  if (kind > static_cast<std::uint8_t>(exit_reason::kind::node_down))
    return exit_reason::failed("an exit reason this node does not know: " + text);
  return exit_reason(static_cast<exit_reason::kind>(kind), std::move(text));
}

}  // namespace troupe::net::wire
