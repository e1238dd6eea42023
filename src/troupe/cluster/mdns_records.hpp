#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "troupe/cluster/dns_message.hpp"
#include "troupe/core/clock.hpp"
#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// The DNS-SD service type of troupe nodes.
inline constexpr std::string_view mdns_service_type = "_troupe._tcp.local";
/// The mDNS port and IPv4 group (RFC 6762).
inline constexpr std::uint16_t mdns_port = 5353;
inline constexpr std::string_view mdns_group = "224.0.0.251";

/// What one node advertises: the records of its service instance.
struct mdns_service {
  /// The instance label (the node name), 1 to 63 bytes.
  std::string instance;
  /// The host name of the A record and the SRV target ("host.local").
  std::string host;
  /// The IPv4 address (host byte order) and port the SRV and A give.
  std::uint32_t ipv4 = 0;
  std::uint16_t port = 0;
  /// TXT entries, written "key=value" in this order.
  std::vector<std::pair<std::string, std::string>> txt;
  /// The TTL of every record, in seconds (RFC 6762 suggests 120 for these).
  std::uint32_t ttl = 120;
};

/// A service instance found by browsing.
struct mdns_instance {
  std::string name;                        ///< the instance label (a troupe node's name)
  std::string host;                        ///< the SRV target ("host.local")
  std::string address;                     ///< "a.b.c.d:port" from the A record and the SRV
  std::map<std::string, std::string> txt;  ///< keys in lower case
  friend bool operator==(const mdns_instance&, const mdns_instance&) = default;
};

/// What browsing tells: an instance was found (or changed, or was heard
/// again after refresh_report), or it is gone (a goodbye, or its records
/// expired).
struct mdns_event {
  enum class kind : std::uint8_t { found, gone };
  kind what = kind::found;
  mdns_instance instance;
};

/// The responding half of mDNS without I/O: announcements, goodbyes and the
/// answers to queries for PTR `_troupe._tcp.local` (and the DNS-SD service
/// enumeration name), SRV and TXT of the instance and A of its host, with
/// known-answer suppression and the one-second limit on multicasting a
/// record again (RFC 6762, sections 6, 7.1 and 8.3).
///
/// Thread safety: none; one thread at a time.
class mdns_responder {
 public:
  /// Fails with errc::invalid_name for an instance label or host name that
  /// is not a valid DNS name, errc::invalid_argument for a TXT entry over
  /// 255 bytes or a zero port.
  static result<mdns_responder> make(mdns_service service);

  /// A response to send.
  struct reply {
    dns_message message;
    bool unicast = false;  ///< to the querier's address, not to the group
  };

  /// Returns the unsolicited response that announces every record, or with
  /// `goodbye` says they are gone (TTL 0). Counts as a multicast at `now`.
  [[nodiscard]] dns_message announcement(bool goodbye, time_point now);
  /// Returns the replies to `query`, which came from port `from_port`: none
  /// when nothing asked is ours or everything asked was multicast within
  /// the last second (unless asked for a unicast reply); a unicast reply
  /// with the query's id and questions, TTLs of at most 10 s, to a query
  /// from a port other than 5353 (RFC 6762, section 6.7).
  [[nodiscard]] std::vector<reply> answer(const dns_message& query, std::uint16_t from_port,
                                          time_point now);
  [[nodiscard]] const mdns_service& service() const noexcept { return service_; }

 private:
  enum record_id : std::size_t { ptr, srv, txt, a, meta, count };
  mdns_responder() = default;
  [[nodiscard]] dns_record record(std::size_t id, std::uint32_t ttl, bool flush) const;

  mdns_service service_;
  dns_name type_;
  dns_name meta_;
  dns_name instance_;
  dns_name host_;
  time_point last_multicast_[count]{};
  bool multicast_ever_[count]{};
};

/// The browsing half of mDNS without I/O: a cache of the records that
/// responses carry, built into instances of `_troupe._tcp.local`, and the
/// queries that keep it full.
///
/// Thread safety: none; one thread at a time.
class mdns_browser {
 public:
  /// Ignores the instance called `self` (this node's own) and, when
  /// `cluster` is not empty, instances whose TXT does not say
  /// `cluster=<cluster>`. An instance whose records come again is reported
  /// `found` again at most every `refresh_report`.
  mdns_browser(std::string self, std::string cluster, duration refresh_report);

  /// Takes in the records of a response; returns what changed.
  std::vector<mdns_event> on_response(const dns_message& response, time_point now);
  /// Drops expired records; returns the instances that are gone.
  std::vector<mdns_event> expire(time_point now);
  /// Returns the PTR query for `_troupe._tcp.local`, with the PTR records
  /// held that have more than half their TTL left as known answers.
  [[nodiscard]] dns_message query(time_point now) const;
  /// Returns a query for the SRV and TXT of instances named by a PTR but not
  /// yet resolved, and for the A of SRV targets without one, if any.
  [[nodiscard]] std::optional<dns_message> resolve_query(time_point now) const;
  /// Returns every resolved instance, in name order.
  [[nodiscard]] std::vector<mdns_instance> instances(time_point now) const;

  /// The most instances and hosts held (a busy link cannot grow it more).
  static constexpr std::size_t max_entries = 1024;

 private:
  struct entry {
    time_point expires{};
    std::uint32_t ttl = 0;
    time_point received{};
  };
  struct srv_entry : entry {
    dns_name target;
    std::uint16_t port = 0;
  };
  struct txt_entry : entry {
    std::vector<std::string> strings;
  };
  struct host_entry : entry {
    std::uint32_t ipv4 = 0;
  };
  struct reported {
    mdns_instance instance;
    time_point at{};
  };
  [[nodiscard]] std::optional<mdns_instance> resolve(const std::string& key, time_point now) const;
  [[nodiscard]] bool wanted(const mdns_instance& i) const;

  std::string self_;
  std::string cluster_;
  duration refresh_report_;
  dns_name type_;
  std::map<std::string, std::pair<std::string, entry>> ptrs_;  // key: lower-case label
  std::map<std::string, srv_entry> srvs_;
  std::map<std::string, txt_entry> txts_;
  std::map<std::string, host_entry> hosts_;  // key: lower-case dotted host name
  std::map<std::string, reported> reported_;
};

/// Returns a host label made from `instance` ("node-1" stays "node-1";
/// anything else is lower-cased, other bytes become '-', and a hash of the
/// original is appended so that different names stay different).
[[nodiscard]] std::string mdns_host_label(std::string_view instance);

}  // namespace troupe::cluster
