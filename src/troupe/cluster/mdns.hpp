#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "troupe/cluster/mdns_records.hpp"
#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// Configures mDNS / DNS-SD (RFC 6762 / 6763) for one node.
struct mdns_config {
  /// The instance name: the node's name (1 to 63 bytes).
  std::string instance;
  /// The node's incarnation, advertised as TXT "incarnation=<n>" (TXT
  /// "node=<instance>" is always there).
  std::uint64_t incarnation = 0;
  /// The address to advertise, "a.b.c.d:port": the node's listen address
  /// (its gossip address is the same). A wildcard host (0.0.0.0) is
  /// replaced by the interface's address.
  std::string address;
  /// The IPv4 address of the interface that multicasts are sent and
  /// received on. Empty: the host of `address`, or, when that is the
  /// wildcard, the first interface that is up, multicast-capable and not
  /// loopback.
  std::string interface_address;
  /// The host name of the A record ("name.local"); empty:
  /// mdns_host_label(instance) + ".local".
  std::string host_name;
  /// When not empty: advertised as TXT "cluster=<cluster>", and instances
  /// without that TXT are not reported (several clusters on one link).
  std::string cluster;
  /// More TXT entries (key, value).
  std::vector<std::pair<std::string, std::string>> txt;
  /// Answer queries and announce (the responder).
  bool advertise = true;
  /// Query for and report other instances (the browser).
  bool browse = true;
  /// The TTL of the advertised records.
  std::chrono::seconds ttl{120};
  /// Browsing sends its first query within 20 to 120 ms, then after
  /// browse_first, each interval doubling up to browse_max (RFC 6762,
  /// section 5.2). Keep browse_max under half the TTL so that queries
  /// refresh the records before they expire.
  std::chrono::milliseconds browse_first{1000};
  std::chrono::milliseconds browse_max{60'000};
  /// An instance heard again is reported `found` again at most this often
  /// (discovery uses it to renew what it found).
  std::chrono::milliseconds refresh_report{30'000};
};

/// Counters for tests and logs.
struct mdns_stats {
  std::uint64_t queries_sent = 0;
  std::uint64_t responses_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t bad_packets = 0;  ///< did not decode
};

/// mDNS / DNS-SD for troupe nodes over a UDP socket on port 5353 (Boost.Asio),
/// joined to 224.0.0.251 on one interface:
///
/// - the responder announces `<instance>._troupe._tcp.local` at start (twice,
///   a second apart), answers queries for PTR `_troupe._tcp.local`, SRV and
///   TXT of its instance and A of its host, and says goodbye (TTL 0) at
///   stop;
/// - the browser sends PTR queries (backing off from browse_first to
///   browse_max), asks for what an answer left out, and reports instances
///   (name, address, TXT) found and gone; never this node's own.
///
/// It does not probe for name conflicts (RFC 6762, section 8.1): node names
/// must be unique on the link. IPv4 only.
///
/// Thread safety: every member may be called from any thread. The callback
/// runs on the mdns object's own thread, one event at a time; it may call
/// stop() but must not destroy the object.
class mdns {
 public:
  using event_fn = std::function<void(const mdns_event&)>;

  /// Opens the socket, joins the group and starts. Fails with
  /// errc::invalid_name for an instance or host name that is not a valid
  /// DNS name (the instance: 1 to 63 bytes), errc::invalid_argument for an
  /// address or interface that does not parse or that no interface has, or
  /// when the socket cannot be opened, bound or joined (the detail says
  /// which).
  static result<std::unique_ptr<mdns>> start(mdns_config config, event_fn on_event);
  /// Stops (see stop()).
  ~mdns();
  mdns(const mdns&) = delete;
  mdns& operator=(const mdns&) = delete;

  /// Says goodbye (when advertising), closes the socket and ends the
  /// thread. No callback runs after it returns, unless it is called from
  /// the callback.
  void stop() noexcept;
  /// Returns the instances found and not gone, in name order.
  [[nodiscard]] std::vector<mdns_instance> instances() const;
  /// Returns the advertised address ("a.b.c.d:port").
  [[nodiscard]] std::string advertised_address() const;
  /// Returns the interface's address ("a.b.c.d").
  [[nodiscard]] std::string interface_address() const;
  [[nodiscard]] mdns_stats stats() const;

  class impl;

 private:
  explicit mdns(std::shared_ptr<impl> i);
  std::shared_ptr<impl> impl_;
};

/// Returns the IPv4 address of the first interface that is up,
/// multicast-capable and not loopback, or errc::invalid_argument.
[[nodiscard]] result<std::string> default_multicast_interface();

}  // namespace troupe::cluster
