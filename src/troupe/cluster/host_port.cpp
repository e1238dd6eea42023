#include "troupe/cluster/host_port.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace troupe::cluster {
namespace {

error bad(std::string_view address, std::string_view why) {
  return error(errc::invalid_argument,
               "bad address '" + std::string(address.substr(0, 300)) + "': " + std::string(why));
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label != 0 || name.size() > 1;  // "a." is a name, "." is not
}

}  // namespace

std::string host_port::to_string() const {
  if (form == kind::ipv6) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

result<host_port> parse_host_port(std::string_view address, bool allow_port_zero) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad(address, "no ':port'");
  std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5) return bad(address, "the port must be 1 to 65535");
  unsigned long p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad(address, "the port must be a number");
    p = p * 10 + static_cast<unsigned long>(c - '0');
  }
  if (p > 65535 || (p == 0 && !allow_port_zero)) return bad(address, "the port must be 1 to 65535");
  host_port out;
  out.port = static_cast<std::uint16_t>(p);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    std::string h(host);
    in6_addr a{};
    if (h.size() > 45 || inet_pton(AF_INET6, h.c_str(), &a) != 1)
      return bad(address, "not an IPv6 address in brackets");
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &a, text, sizeof text);
    out.host = text;
    out.form = host_port::kind::ipv6;
    return out;
  }
  if (host.find(':') != std::string_view::npos)
    return bad(address, "an IPv6 address goes in brackets");
  if (auto v4 = parse_ipv4(host)) {
    out.host = format_ipv4(*v4);
    out.form = host_port::kind::ipv4;
    return out;
  }
  if (!valid_name(host)) return bad(address, "the host is neither an IP address nor a host name");
  // All digits and dots, but not an address ("1.2.3"): refused, not resolved.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos)
    return bad(address, "not an IPv4 address");
  out.host = std::string(host);
  out.form = host_port::kind::name;
  return out;
}

result<std::uint32_t> parse_ipv4(std::string_view text) {
  if (text.empty() || text.size() > 15) return error(errc::invalid_argument, "not an IPv4 address");
  char buf[16];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr a{};
  if (inet_pton(AF_INET, buf, &a) != 1) return error(errc::invalid_argument, "not an IPv4 address");
  return ntohl(a.s_addr);
}

std::string format_ipv4(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

}  // namespace troupe::cluster
