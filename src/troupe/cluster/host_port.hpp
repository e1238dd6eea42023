#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// A "host:port" address split into its parts. The host is a numeric IPv4
/// address, an IPv6 address (written in brackets: "[::1]:7000") or a host
/// name (the simulated network's hosts, or a name to resolve).
struct host_port {
  enum class kind : std::uint8_t { ipv4, ipv6, name };
  std::string host;  ///< without brackets; numeric hosts in canonical form
  std::uint16_t port = 0;
  kind form = kind::ipv4;

  /// Returns "a.b.c.d:port", "[v6]:port" or "name:port".
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] bool numeric() const noexcept { return form != kind::name; }
};

/// Parses "a.b.c.d:port", "[v6]:port" or "name:port" (a name of letters,
/// digits, '-', '_' and dots, labels of 1 to 63 bytes, 253 bytes at most).
/// The port is 1 to 65535, or 0 too when `allow_port_zero`. Fails with
/// errc::invalid_argument, the detail naming the address and what is wrong.
[[nodiscard]] result<host_port> parse_host_port(std::string_view address,
                                                bool allow_port_zero = false);

/// Returns the numeric form of an IPv4 address written "a.b.c.d", or an
/// error (errc::invalid_argument).
[[nodiscard]] result<std::uint32_t> parse_ipv4(std::string_view text);
/// Returns "a.b.c.d" for an IPv4 address in host byte order.
[[nodiscard]] std::string format_ipv4(std::uint32_t address);

}  // namespace troupe::cluster
