// The peer node process and the in-process node of the multi-process
// remoting tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../support/line_process.hpp"
#include "remote_actors.hpp"
#include "troupe/net/node.hpp"

namespace remote_test {

/// A peer node process (a line_process): ready once it printed its address.
class peer_process {
 public:
  /// Runs the peer program as `prefix... peer name listen cookie [tls...]`
  /// (a prefix such as `ip netns exec ns` runs it in a network namespace;
  /// `tls` adds its CA, certificate and key files).
  peer_process(const std::string& name, const std::string& listen,
               std::vector<std::string> prefix = {},
               const std::optional<troupe::net::tls_config>& tls = std::nullopt) {
    std::vector<std::string> args = std::move(prefix);
    for (const char* a : {TROUPE_PEER_NODE, name.c_str(), listen.c_str(), "cookie-42"})
      args.emplace_back(a);
    if (tls) {
      args.push_back(tls->ca_file);
      args.push_back(tls->cert_file);
      args.push_back(tls->key_file);
    }
    proc_ = std::make_unique<test_support::line_process>(std::move(args));
    // READY <address> <incarnation>, within 20 s.
    const std::string line = proc_->wait_for(
        [](const std::string& l) { return l.rfind("READY ", 0) == 0; }, std::chrono::seconds(20));
    std::istringstream is(line);
    std::string word;
    is >> word >> address >> incarnation;
    ready = word == "READY";
  }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;

  /// Ends the process with SIGKILL and reaps it (bounded).
  void kill_now() { proc_->kill_now(); }

  bool ready = false;
  std::string address;
  std::uint64_t incarnation = 0;

 private:
  std::unique_ptr<test_support::line_process> proc_;
};

/// A node in the test's own process, started from its config alone (TLS
/// when `tls` is set).
struct local_node {
  explicit local_node(std::string name = "local",
                      std::optional<troupe::net::tls_config> tls = std::nullopt) {
    troupe::net::node_config cfg;
    cfg.name = std::move(name);
    cfg.cookie = "cookie-42";
    cfg.tls = std::move(tls);
    cfg.log = [](std::string_view) {};
    n = troupe::net::node::start(sys, cfg, types()).value();
  }
  ~local_node() { n->stop(); }
  local_node(const local_node&) = delete;
  local_node& operator=(const local_node&) = delete;
  troupe::system sys;
  std::unique_ptr<troupe::net::node> n;
};

}  // namespace remote_test
