#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/cluster/dns_discovery.hpp"
#include "troupe/cluster/mdns.hpp"
#include "troupe/core/clock.hpp"
#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// Says which mechanism a discovery event comes from.
enum class discovery_source : std::uint8_t { mdns, dns };

/// Returns "mdns" or "dns".
[[nodiscard]] std::string_view to_string(discovery_source s) noexcept;

/// Tells what discovery did (cluster_config::discovery's on_event).
struct discovery_event {
  enum class kind : std::uint8_t {
    started,  ///< mDNS runs: `instance` is this node as advertised
    found,    ///< addresses were found, and joined
    gone,     ///< an mDNS instance said goodbye or its records expired
    failed,   ///< a DNS lookup failed, or membership refused a join
  };
  kind what = kind::found;
  discovery_source source = discovery_source::mdns;
  /// mDNS: the instance found or gone (its name, host, address and TXT); at
  /// `started`, this node as it is advertised.
  mdns_instance instance;
  /// mDNS `started`: the IPv4 address of the interface it runs on.
  std::string interface_address;
  /// `found`: the gossip addresses joined (mDNS: the instance's; DNS: every
  /// address the lookup found, sorted).
  std::vector<std::string> addresses;
  /// `failed`: why.
  error failure;
};

/// Configures how a cluster member finds other members while it runs (see
/// docs/cluster.md, "Discovery"). Nothing is on by default. What is found
/// is joined as seeds (membership::join()): discovery only adds addresses
/// to contact; who is a member stays membership's decision.
struct discovery_config {
  /// Advertises this node by mDNS / DNS-SD (`<node name>._troupe._tcp.local`
  /// on the link) and joins every node found that way.
  bool mdns = false;
  /// The mDNS settings (interface, host name, cluster, TXT, TTL, browsing
  /// back-off). Leave `instance`, `incarnation` and `address` empty: they
  /// are the node's name, incarnation and listen address.
  mdns_config mdns_options;
  /// Names whose A/AAAA records are members' hosts (a Kubernetes headless
  /// service), each address taken with this node's port.
  std::vector<std::string> dns_names;
  /// SRV names (`_troupe._tcp.<domain>`) whose targets and ports are members.
  std::vector<std::string> srv_names;
  /// The DNS server to ask, "ip", "ip:port" or "[v6]:port". Empty: names go
  /// to the system resolver (getaddrinfo) and SRV queries to the first
  /// nameserver of /etc/resolv.conf.
  std::string dns_server;
  /// Looks the DNS names up again this often (1 ms or more).
  duration refresh = std::chrono::seconds(30);
  /// Bounds one DNS query (1 ms or more).
  duration dns_timeout = std::chrono::seconds(2);
  /// Hears every mDNS event, and every DNS lookup whose outcome differs from
  /// the one before. Runs on discovery's own threads, one event at a time;
  /// keep it short, and do not stop or leave the cluster from it.
  std::function<void(const discovery_event&)> on_event;

  /// Returns true when any discovery is asked for.
  [[nodiscard]] bool enabled() const noexcept {
    return mdns || !dns_names.empty() || !srv_names.empty();
  }
};

/// Runs the discovery a discovery_config asks for (mdns, dns_discovery) and
/// hands each address found to a join function: what cluster::start runs
/// beside membership.
///
/// Thread safety: every member may be called from any thread. The join
/// function and on_event run on the mDNS and DNS threads, one call at a
/// time; neither may call stop().
class discovery {
 public:
  /// Joins addresses (membership::join()).
  using join_fn = std::function<result<void>(const std::vector<std::string>&)>;

  /// Checks `config` for a node listening on `address` ("host:port")
  /// without starting anything: fails with errc::invalid_argument for a
  /// refresh or timeout under 1 ms, a DNS server without names, mDNS
  /// options that set the instance, incarnation or address, or what
  /// dns_discovery::check() refuses (errc::invalid_name for a name that is
  /// not a DNS name). mDNS's interface is checked by start().
  [[nodiscard]] static result<void> check(const discovery_config& config, std::string_view address);
  /// Checks `config` and starts it for the node `name` (of `incarnation`,
  /// listening on `address`): mDNS first (fails as mdns::start() does),
  /// then DNS, whose first lookup runs at once. Nothing runs after a
  /// failure. Every error's detail starts with "discovery: ".
  static result<std::unique_ptr<discovery>> start(discovery_config config, std::string_view name,
                                                  std::uint64_t incarnation,
                                                  std::string_view address, join_fn join);
  /// Stops (see stop()).
  ~discovery();
  discovery(const discovery&) = delete;
  discovery& operator=(const discovery&) = delete;

  /// Stops mDNS (it says goodbye) and DNS (after a lookup under way). No
  /// callback runs after it returns; calling it again does nothing.
  void stop() noexcept;
  /// Returns mDNS's advertised address ("a.b.c.d:port"); empty without
  /// mDNS or after stop().
  [[nodiscard]] std::string mdns_address() const;
  /// Returns how many DNS lookups ran.
  [[nodiscard]] std::uint64_t dns_lookups() const;

 private:
  discovery(discovery_config config, join_fn join);
  void on_mdns(const mdns_event& e);
  void on_dns(const result<std::vector<std::string>>& found);
  void tell(const discovery_event& e);

  discovery_config config_;
  join_fn join_;
  // Serializes the callbacks of the two threads (and guards last_dns_).
  std::mutex event_mu_;
  std::string last_dns_;  // the last DNS outcome told, to tell only changes
  // Guards the two below against stop() on two threads at once.
  mutable std::mutex stop_mu_;
  std::unique_ptr<mdns> mdns_;
  std::unique_ptr<dns_discovery> dns_;
};

}  // namespace troupe::cluster
