#pragma once

// Helpers shared by the TLS tests (tcp_transport.test.cpp and the remoting
// tests between processes): running a program with a deadline, and
// certificates made at test time with the `openssl` command in a temporary
// directory.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "troupe/net/crypto.hpp"
#include "troupe/net/tcp_transport.hpp"

extern char** environ;

namespace troupe::net::testing {

// What a child process did: its exit status (-1 when it could not start or
// was killed at the deadline) and everything it printed.
struct run_result {
  int status = -1;
  bool timed_out = false;
  std::string output;
};

// Runs `args` (args[0] found on PATH) with stdin from /dev/null and its
// output into `log`; waits at most `patience`, then kills it by pid.
inline run_result run_program(const std::vector<std::string>& args,
                              const std::filesystem::path& log,
                              std::chrono::milliseconds patience = std::chrono::seconds(20)) {
  run_result res;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    res.output = std::string("cannot start ") + args[0] + ": " + std::strerror(rc);
    return res;
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  bool exited = false;
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    exited = ::poll(&p, 1, static_cast<int>(patience.count())) == 1;
    ::close(pidfd);
  }
  if (!exited) {
    ::kill(pid, SIGKILL);
    res.timed_out = true;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!res.timed_out && WIFEXITED(status)) res.status = WEXITSTATUS(status);
  std::ifstream in(log);
  res.output.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return res;
}

// A temporary directory of CAs and node certificates (EC P-256, TLS client
// and server use, valid two days), removed again by the destructor. Node
// certificates get serial numbers 2, 3, ... in the order they are made.
class test_certs {
 public:
  test_certs() {
    crypto_random rng;
    dir_ = std::filesystem::temp_directory_path() / ("troupe-certs-" + std::to_string(rng.next()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "openssl.cnf") << "[req]\n"
                                           "distinguished_name = dn\n"
                                           "[dn]\n"
                                           "[ca_ext]\n"
                                           "basicConstraints = critical,CA:TRUE\n"
                                           "keyUsage = critical,keyCertSign,cRLSign\n"
                                           "subjectKeyIdentifier = hash\n"
                                           "[leaf_ext]\n"
                                           "basicConstraints = critical,CA:FALSE\n"
                                           "keyUsage = critical,digitalSignature\n"
                                           "extendedKeyUsage = serverAuth,clientAuth\n"
                                           "subjectKeyIdentifier = hash\n"
                                           "authorityKeyIdentifier = keyid\n";
  }
  ~test_certs() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  test_certs(const test_certs&) = delete;
  test_certs& operator=(const test_certs&) = delete;

  // Makes a self-signed CA `ca` (ca.pem, ca.key); false on failure (see
  // failure()).
  bool make_ca(const std::string& ca) {
    return check(openssl({"req",
                          "-x509",
                          "-new",
                          "-newkey",
                          "ec",
                          "-pkeyopt",
                          "ec_paramgen_curve:prime256v1",
                          "-nodes",
                          "-keyout",
                          file(ca + ".key"),
                          "-out",
                          file(ca + ".pem"),
                          "-days",
                          "2",
                          "-subj",
                          "/CN=troupe test " + ca,
                          "-config",
                          file("openssl.cnf"),
                          "-extensions",
                          "ca_ext"}));
  }
  // Makes node certificate `name` (name.pem, name.key) signed by `ca`.
  bool make_node(const std::string& name, const std::string& ca) {
    return check(
               openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", file(name + ".key"), "-out", file(name + ".csr"),
                        "-subj", "/CN=" + name, "-config", file("openssl.cnf")})) &&
           check(openssl({"x509", "-req", "-in", file(name + ".csr"), "-CA", file(ca + ".pem"),
                          "-CAkey", file(ca + ".key"), "-set_serial", std::to_string(++serial_),
                          "-days", "2", "-out", file(name + ".pem"), "-extfile",
                          file("openssl.cnf"), "-extensions", "leaf_ext"}));
  }

  // Returns the TLS files of node `name`, trusting CA `ca`.
  [[nodiscard]] tls_config node(const std::string& name, const std::string& ca) const {
    return {file(ca + ".pem"), file(name + ".pem"), file(name + ".key")};
  }
  // Returns the path of `name` in the directory.
  [[nodiscard]] std::string file(const std::string& name) const { return (dir_ / name).string(); }
  // Returns what the last failed openssl command printed.
  [[nodiscard]] const std::string& failure() const noexcept { return failure_; }

 private:
  run_result openssl(std::vector<std::string> args) const {
    args.insert(args.begin(), "openssl");
    return run_program(args, dir_ / "openssl.log");
  }
  bool check(const run_result& r) {
    if (r.status == 0) return true;
    failure_ = r.output;
    return false;
  }

  std::filesystem::path dir_;
  std::string failure_;
  int serial_ = 1;
};

}  // namespace troupe::net::testing
