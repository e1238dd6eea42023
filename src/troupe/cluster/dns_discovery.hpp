#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "troupe/core/clock.hpp"
#include "troupe/core/result.hpp"

namespace troupe::cluster {

/// Configures discovery through DNS: names with many A (or AAAA) records,
/// as a Kubernetes headless service gives, and/or SRV names
/// (`_troupe._tcp.<domain>`) whose targets and ports are the members. One
/// lookup asks for all of them and joins what they name.
struct dns_discovery_config {
  /// Names whose addresses are members' hosts; each is taken with `port`.
  std::vector<std::string> names;
  /// The members' gossip port for `names` (A records carry none).
  std::uint16_t port = 0;
  /// SRV names whose records name members' hosts and ports.
  std::vector<std::string> srv_names;
  /// The DNS server to ask, "ip", "ip:port" or "[v6]:port" (port 53 when
  /// none). Empty: SRV queries go to the first nameserver of
  /// /etc/resolv.conf, and `names` are resolved by the system resolver
  /// (getaddrinfo); set: all go to this server.
  std::string server;
  /// Resolves again this often.
  std::chrono::milliseconds interval{30'000};
  /// Bounds one query to `server` (sent up to three times within it).
  std::chrono::milliseconds timeout{2'000};
};

/// One SRV record's target, with the addresses found for it.
struct srv_target {
  std::string host;
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
  std::vector<std::string> addresses;  ///< "ip:port", from the additional records or an A query
};

/// Returns the first nameserver of `resolv_conf` as "ip:53" ("[v6]:53"), or
/// errc::invalid_argument when it names none.
[[nodiscard]] result<std::string> first_nameserver(
    const std::string& resolv_conf = "/etc/resolv.conf");

/// Asks `server` for the A records of `name` (following what the server
/// puts in the answer: every A record there counts). Returns "ip:port" for
/// each, sorted, without duplicates; none when the name does not exist or
/// has no A record. Fails with errc::invalid_name for a bad name,
/// errc::invalid_argument for a bad server, errc::timeout when no answer
/// came within `timeout`, errc::node_down when the server failed
/// (SERVFAIL, REFUSED) and errc::decode_error for an answer that does not
/// decode.
[[nodiscard]] result<std::vector<std::string>> query_a(std::string_view name, std::uint16_t port,
                                                       std::string_view server,
                                                       std::chrono::milliseconds timeout);
/// Asks `server` for the SRV records of `name` and the addresses of their
/// targets (from the answer's additional records, else an A query to the
/// same server each). Fails as query_a() does.
[[nodiscard]] result<std::vector<srv_target>> query_srv(std::string_view name,
                                                        std::string_view server,
                                                        std::chrono::milliseconds timeout);
/// Resolves `name` with the system resolver (getaddrinfo): "ip:port" for
/// each address, sorted, without duplicates; none when the name does not
/// exist. Fails with errc::invalid_name for a bad name, errc::node_down
/// when resolution failed otherwise. Blocks for as long as the resolver
/// takes.
[[nodiscard]] result<std::vector<std::string>> resolve_system(std::string_view name,
                                                              std::uint16_t port);
/// Runs one lookup for `config` (each of its names and SRV names): every
/// gossip address found, sorted, without duplicates. Fails with the first
/// error when nothing was found and a query failed.
[[nodiscard]] result<std::vector<std::string>> dns_lookup(const dns_discovery_config& config);

/// Resolves a dns_discovery_config periodically on a thread of its own and
/// reports each lookup's addresses (or its error) to a callback; the
/// cluster joins what it reports (membership::join()).
///
/// Thread safety: every member may be called from any thread. The callback
/// runs on the discovery's thread, one lookup at a time; it must not call
/// stop() or destroy the object.
class dns_discovery {
 public:
  using report_fn = std::function<void(const result<std::vector<std::string>>&)>;

  /// Checks the configuration (check()) and starts: the first lookup at
  /// once.
  static result<std::unique_ptr<dns_discovery>> start(dns_discovery_config config,
                                                      report_fn report);
  /// Checks a configuration without starting: fails with errc::invalid_name
  /// for a bad name or SRV name, errc::invalid_argument when there is none
  /// of either, names are set without a port, the server does not parse, an
  /// interval or timeout is not positive, or no server is set and
  /// /etc/resolv.conf names none while an SRV name is set.
  [[nodiscard]] static result<void> check(const dns_discovery_config& config);
  ~dns_discovery();
  dns_discovery(const dns_discovery&) = delete;
  dns_discovery& operator=(const dns_discovery&) = delete;

  /// Ends the thread after the lookup under way, if any (bounded by the
  /// queries' timeouts, or the system resolver's). No callback runs after
  /// it returns.
  void stop() noexcept;
  /// Returns how many lookups ran.
  [[nodiscard]] std::uint64_t lookups() const;

 private:
  dns_discovery(dns_discovery_config config, report_fn report);
  void loop();

  dns_discovery_config config_;
  report_fn report_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;          // guarded by mu_
  std::uint64_t lookups_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace troupe::cluster
