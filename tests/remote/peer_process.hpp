// The peer node process and the in-process node of the multi-process
// remoting tests.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "remote_actors.hpp"
#include "troupe/net/node.hpp"

namespace remote_test {

/// A peer node process: started with pipes on stdin and stdout, ended by pid.
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
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int in[2];
    int out[2];
    if (pipe(in) != 0) return;
    if (pipe(out) != 0) {
      close(in[0]);
      close(in[1]);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    if (pid_ < 0) return;
    // READY <address> <incarnation>, within 20 s.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    char c = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      if (read(stdout_, &c, 1) != 1) break;
      if (c == '\n') break;
      line += c;
    }
    std::istringstream is(line);
    std::string word;
    is >> word >> address >> incarnation;
    ready = word == "READY";
  }
  ~peer_process() { kill_now(); }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;

  /// Ends the process with SIGKILL and reaps it (bounded).
  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      for (int i = 0; i < 500; ++i) {  // at most 5 s
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
        usleep(10000);
      }
    }
    pid_ = -1;
    if (stdin_ >= 0) close(stdin_);
    if (stdout_ >= 0) close(stdout_);
    stdin_ = stdout_ = -1;
  }

  bool ready = false;
  std::string address;
  std::uint64_t incarnation = 0;

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
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
