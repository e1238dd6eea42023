// What the discovery system tests share: hosts in network namespaces of
// their own on a bridge (made and removed by the test), and child processes
// (line_process.hpp).
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../support/line_process.hpp"

namespace system_test {

using test_support::line_process;

/// Runs a shell command quietly; returns its exit status.
inline int quiet(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

/// True when `path` is an executable file.
inline bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

/// Hosts in namespaces of their own, each with one veth into a bridge that
/// lives in a namespace too (so nothing touches this machine's network).
/// Host i is <subnet>.(i+1)/24; the bridge itself has <subnet>.254.
class bridged_namespaces {
 public:
  bridged_namespaces(std::size_t n, std::string subnet, const std::string& tag)
      : n_(n), subnet_(std::move(subnet)), tag_(tag + std::to_string(getpid() % 100000)) {
    ok_ = quiet("ip netns add " + sw()) == 0 &&
          quiet("ip -n " + sw() + " link add br0 type bridge") == 0 &&
          quiet("ip -n " + sw() + " addr add " + bridge_ip() + "/24 dev br0") == 0 &&
          quiet("ip -n " + sw() + " link set br0 up") == 0 &&
          quiet("ip -n " + sw() + " link set lo up") == 0;
    for (std::size_t i = 0; ok_ && i < n; ++i) {
      const std::string a = tag_ + "a" + std::to_string(i);  // in the host
      const std::string b = tag_ + "b" + std::to_string(i);  // on the bridge
      ok_ = quiet("ip netns add " + host(i)) == 0 &&
            quiet("ip link add " + a + " type veth peer name " + b) == 0 &&
            quiet("ip link set " + a + " netns " + host(i)) == 0 &&
            quiet("ip link set " + b + " netns " + sw()) == 0 &&
            quiet("ip -n " + sw() + " link set " + b + " master br0") == 0 &&
            quiet("ip -n " + sw() + " link set " + b + " up") == 0 &&
            quiet("ip -n " + host(i) + " addr add " + ip(i) + "/24 dev " + a) == 0 &&
            quiet("ip -n " + host(i) + " link set " + a + " up") == 0 &&
            quiet("ip -n " + host(i) + " link set lo up") == 0;
    }
  }
  ~bridged_namespaces() {
    for (std::size_t i = 0; i < n_; ++i) {
      quiet("ip netns del " + host(i));
      quiet("rm -rf /etc/netns/" + host(i));
    }
    quiet("ip netns del " + sw());
    quiet("rmdir /etc/netns");  // only when empty: nobody else's
  }
  bridged_namespaces(const bridged_namespaces&) = delete;
  bridged_namespaces& operator=(const bridged_namespaces&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string host(std::size_t i) const { return tag_ + "h" + std::to_string(i); }
  [[nodiscard]] std::string sw() const { return tag_ + "sw"; }
  [[nodiscard]] std::string ip(std::size_t i) const {
    return subnet_ + "." + std::to_string(i + 1);
  }
  [[nodiscard]] std::string bridge_ip() const { return subnet_ + ".254"; }
  /// The prefix that runs a command in host i's namespace.
  [[nodiscard]] std::vector<std::string> exec(std::size_t i) const {
    return {"ip", "netns", "exec", host(i)};
  }
  /// The prefix that runs a command in the bridge's namespace.
  [[nodiscard]] std::vector<std::string> exec_bridge() const {
    return {"ip", "netns", "exec", sw()};
  }
  /// Gives host i its own /etc/resolv.conf (`ip netns exec` mounts
  /// /etc/netns/<namespace>/resolv.conf over it); removed with the hosts.
  bool set_resolv_conf(std::size_t i, const std::string& text) {
    const std::string dir = "/etc/netns/" + host(i);
    if (quiet("mkdir -p " + dir) != 0) return false;
    std::FILE* f = std::fopen((dir + "/resolv.conf").c_str(), "w");
    if (f == nullptr) return false;
    const bool ok = std::fputs(text.c_str(), f) >= 0;
    return std::fclose(f) == 0 && ok;
  }

 private:
  std::size_t n_;
  std::string subnet_;
  std::string tag_;
  bool ok_ = false;
};

}  // namespace system_test
