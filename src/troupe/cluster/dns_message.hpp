#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// A domain name as its labels, most specific first ({"_troupe", "_tcp",
/// "local"}); no labels is the root. A label holds any bytes (DNS-SD
/// instance names are UTF-8 and may hold dots), 1 to 63 of them; a name is
/// at most 255 bytes in wire form.
struct dns_name {
  std::vector<std::string> labels;

  /// Parses dotted text: "\." is a dot inside a label and "\\" a backslash;
  /// one trailing dot is allowed; "" and "." are the root. Fails with
  /// errc::invalid_name for an empty or overlong label or an overlong name.
  static result<dns_name> parse(std::string_view text);
  /// Returns the name with `label` put in front. Fails with
  /// errc::invalid_name when the label is empty or over 63 bytes or the
  /// name would be over 255 bytes.
  [[nodiscard]] result<dns_name> prepend(std::string label) const;
  /// Returns the dotted form, dots and backslashes inside labels escaped
  /// with a backslash; "." for the root.
  [[nodiscard]] std::string to_string() const;
  /// Returns the wire size (each label and its length byte, then the root).
  [[nodiscard]] std::size_t wire_size() const noexcept;
  /// Returns true when every label is 1 to 63 bytes and the name is at most
  /// 255 bytes in wire form.
  [[nodiscard]] bool valid() const noexcept;
  /// Compares names as DNS does: ASCII letters without regard to case.
  friend bool operator==(const dns_name& a, const dns_name& b) noexcept;
};

/// Record types used here (others pass through as raw data).
namespace dns_type {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t ptr = 12;
inline constexpr std::uint16_t txt = 16;
inline constexpr std::uint16_t aaaa = 28;
inline constexpr std::uint16_t srv = 33;
inline constexpr std::uint16_t opt = 41;
inline constexpr std::uint16_t nsec = 47;
inline constexpr std::uint16_t any = 255;
}  // namespace dns_type

/// The class IN.
inline constexpr std::uint16_t dns_class_in = 1;

/// One question. In mDNS the top bit of the class asks for a unicast
/// response (RFC 6762, section 5.4); it is split off into
/// `unicast_response`.
struct dns_question {
  dns_name name;
  std::uint16_t type = dns_type::a;
  std::uint16_t klass = dns_class_in;
  bool unicast_response = false;
};

/// One resource record. The data is held by type: `a` for A, `target` for
/// PTR, `priority`, `weight`, `port` and `target` for SRV, `txt` for TXT,
/// and `raw` (the record data as it came) for every other type. In mDNS the
/// top bit of the class is the cache-flush bit (RFC 6762, section 10.2),
/// split off into `cache_flush` (but for OPT, whose class is a size).
struct dns_record {
  dns_name name;
  std::uint16_t type = dns_type::a;
  std::uint16_t klass = dns_class_in;
  bool cache_flush = false;
  std::uint32_t ttl = 0;
  std::uint32_t a = 0;  ///< the IPv4 address, host byte order
  dns_name target;
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::uint16_t port = 0;
  std::vector<std::string> txt;
  std::vector<std::byte> raw;
};

/// A DNS message (RFC 1035, section 4).
struct dns_message {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::vector<dns_question> questions;
  std::vector<dns_record> answers;
  std::vector<dns_record> authorities;
  std::vector<dns_record> additionals;

  static constexpr std::uint16_t flag_response = 0x8000;
  static constexpr std::uint16_t flag_authoritative = 0x0400;
  static constexpr std::uint16_t flag_truncated = 0x0200;
  static constexpr std::uint16_t flag_recursion_desired = 0x0100;

  [[nodiscard]] bool is_response() const noexcept { return (flags & flag_response) != 0; }
  [[nodiscard]] bool truncated() const noexcept { return (flags & flag_truncated) != 0; }
  /// Returns the response code (0: no error, 3: no such name).
  [[nodiscard]] std::uint8_t rcode() const noexcept { return flags & 0x0f; }
};

/// Encodes `m`, compressing the names of questions and records and PTR
/// targets (never SRV targets, RFC 2782). Fails with errc::invalid_name for
/// an invalid name, errc::invalid_argument for a TXT string over 255 bytes,
/// record data over 65535 bytes or a message over `max_size` bytes.
[[nodiscard]] result<std::vector<std::byte>> encode_dns(const dns_message& m,
                                                        std::size_t max_size = 65'535);

/// Decodes one DNS message. Never reads outside `data`, and ends on any
/// input: compression pointers must point backwards and a name may take at
/// most 128 of them and 255 bytes; every count is checked against the bytes
/// left. Fails with errc::decode_error, the detail saying what is wrong.
[[nodiscard]] result<dns_message> decode_dns(std::span<const std::byte> data);

}  // namespace troupe::cluster
