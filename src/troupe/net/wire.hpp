#pragma once

#include <cstdint>

#include "troupe/codec/binary_reader.hpp"
#include "troupe/codec/binary_writer.hpp"
#include "troupe/core/actor_handle.hpp"
#include "troupe/core/clock.hpp"
#include "troupe/core/error.hpp"
#include "troupe/core/exit_reason.hpp"

/// The bodies of message, request, response and control frames
/// (docs/protocol.md, "Sessions").
namespace troupe::net::wire {

/// First byte of a response body: the ask succeeded, the reply follows.
/// Any other value is the errc the ask ended with, followed by its detail.
inline constexpr std::uint8_t status_ok = 0;

/// Node-service requests (a request to actor 0): their first byte.
inline constexpr std::uint8_t service_lookup = 1;
inline constexpr std::uint8_t service_spawn = 2;

/// Control frames: their first byte.
inline constexpr std::uint8_t control_watch = 1;
inline constexpr std::uint8_t control_unwatch = 2;
inline constexpr std::uint8_t control_down = 3;
inline constexpr std::uint8_t control_signal = 4;

/// What a signal control frame asks of an actor.
inline constexpr std::uint8_t signal_stop = 1;
inline constexpr std::uint8_t signal_kill = 2;
inline constexpr std::uint8_t signal_drain = 3;

inline void write_u8(codec::binary_writer& w, std::uint8_t v) {
  const std::byte b{v};
  w.raw(std::span(&b, 1));
}
inline std::uint8_t read_u8(codec::binary_reader& r) noexcept {
  auto b = r.raw(1);
  return r.ok() ? std::to_integer<std::uint8_t>(b[0]) : 0;
}

/// The start of a request body: the target actor (0: the node itself) and
/// the time left before the asker's deadline, in microseconds (never
/// negative).
void write_request_head(codec::binary_writer& w, actor_id target, duration left);

/// A response body for an ask that ended with `e`.
void write_error(codec::binary_writer& w, const error& e);
/// Reads the rest of an error response whose status byte was `status`;
/// a status that names no errc, or a malformed detail, is a decode_error.
error read_error_body(codec::binary_reader& r, std::uint8_t status);

void write_watch(codec::binary_writer& w, actor_id target, std::uint64_t token);
void write_unwatch(codec::binary_writer& w, std::uint64_t token);
void write_down(codec::binary_writer& w, std::uint64_t token, const exit_reason& why);
void write_signal(codec::binary_writer& w, actor_id target, std::uint8_t what);

/// Reads an exit reason (kind byte, text); an unknown kind reads as failed.
exit_reason read_exit_reason(codec::binary_reader& r);

}  // namespace troupe::net::wire
