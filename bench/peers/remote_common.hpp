// Helpers for the remote benchmarks: two OS processes on 127.0.0.1, started
// as one command (header-only, no CAF dependency, so troupe benchmark
// programs may include it as well).
//
// Each remote benchmark is one executable. Run normally, it is the client: it
// starts a copy of itself as the server (`<exe> --serve <fd> <same args>`),
// learns the server's port from it, measures, prints the RESULT line and
// stops the server. `main` begins with
//
//   if (auto link = bench::remote::server_link::from_args(argc, argv))
//     return serve(*link, argc, argv);       // this process is the server
//   bench::remote::server_process server{argc, argv};   // the client
//
// Client and server share a Unix socket pair. The server writes its port on
// it; the client closes it (or dies) to tell the server to go. Nothing is
// left running when something fails:
// - both processes arm alarm() (client_time_limit_s, server_time_limit_s);
// - the server gets SIGKILL when the client dies (PR_SET_PDEATHSIG);
// - every wait for the other side is bounded; server_process::stop() waits a
//   grace period, then kills the server by pid and reaps it.
// The server's stdout is redirected to stderr: only the client prints RESULT.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench::remote {

/// Seconds after which SIGALRM ends the client, whatever it is doing.
inline constexpr unsigned client_time_limit_s = 240;
/// The server outlives a client stuck until its own limit by a little.
inline constexpr unsigned server_time_limit_s = client_time_limit_s + 10;
/// How long the client waits for the server to report its port.
inline constexpr int port_report_timeout_ms = 30'000;

/// Prints `what` (and errno's text when set) to stderr and ends the process
/// at once. A client that ends takes its server with it (PR_SET_PDEATHSIG).
[[noreturn]] inline void fail(const char* what, int error = 0) {
  if (error != 0)
    std::fprintf(stderr, "%s: %s\n", what, std::strerror(error));
  else
    std::fprintf(stderr, "%s\n", what);
  std::fflush(stderr);
  std::_Exit(1);
}

[[noreturn]] inline void fail_errno(const char* what) { fail(what, errno); }

/// Peak resident set size of this process in KiB (VmHWM in /proc/self/status).
inline std::uint64_t peak_rss_kb() {
  std::ifstream status{"/proc/self/status"};
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      std::uint64_t kb = 0;
      status >> kb;
      return kb;
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

/// The server side of the link, seen from inside the server process.
class server_link {
 public:
  /// When argv is `<exe> --serve <fd> args...`, this process is the server:
  /// drops the two words so that argv[1] is the client's first argument
  /// again, arms the server's alarm and returns the link. Otherwise nothing.
  static std::optional<server_link> from_args(int& argc, char**& argv) {
    if (argc < 3 || std::strcmp(argv[1], "--serve") != 0) return std::nullopt;
    int fd = std::atoi(argv[2]);
    if (fd <= 2 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) fail("server: bad --serve descriptor");
    alarm(server_time_limit_s);
    signal(SIGPIPE, SIG_IGN);
    argv[2] = argv[0];
    argv += 2;
    argc -= 2;
    return server_link{fd};
  }

  /// Tells the client which port to connect to (once the server listens).
  void report_port(std::uint16_t port) const {
    char line[16];
    int len = std::snprintf(line, sizeof line, "%u\n", static_cast<unsigned>(port));
    if (write(fd_, line, static_cast<std::size_t>(len)) != len) fail_errno("server: report port");
  }

  /// Blocks until the client lets the server go (closes its end or dies).
  void wait_for_release() const {
    char byte;
    for (;;) {
      auto got = read(fd_, &byte, 1);
      if (got == 0) return;
      if (got < 0 && errno != EINTR) return;
    }
  }

 private:
  explicit server_link(int fd) : fd_(fd) {}

  int fd_;
};

/// The server process, seen from the client.
class server_process {
 public:
  /// Arms the client's alarm, starts this executable as the server with the
  /// same arguments and waits (bounded) until it reports its port.
  server_process(int argc, char** argv) {
    alarm(client_time_limit_s);
    signal(SIGPIPE, SIG_IGN);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) fail_errno("socketpair");
    // Everything the child needs is built before fork(): after it, only
    // async-signal-safe calls until exec.
    std::vector<std::string> words{"--serve", std::to_string(pair[1])};
    for (int i = 1; i < argc; ++i) words.emplace_back(argv[i]);
    std::vector<char*> child_argv{argv[0]};
    for (auto& word : words) child_argv.push_back(word.data());
    child_argv.push_back(nullptr);
    pid_t client = getpid();
    pid_ = fork();
    if (pid_ < 0) fail_errno("fork");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != client) _exit(1);  // the client is already gone
      dup2(STDERR_FILENO, STDOUT_FILENO);
      fcntl(pair[1], F_SETFD, 0);  // this end survives exec
      execv("/proc/self/exe", child_argv.data());
      _exit(127);
    }
    close(pair[1]);
    fd_ = pair[0];
    read_port();
  }

  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  ~server_process() {
    if (pid_ > 0) stop(std::chrono::milliseconds{0});
  }

  std::uint16_t port() const { return port_; }

  /// Lets the server go, waits up to `grace` for it to exit, then kills it.
  /// True when it exited on its own with status 0.
  bool stop(std::chrono::milliseconds grace = std::chrono::seconds{5}) {
    if (pid_ <= 0) return clean_;
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    for (;;) {
      auto done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        clean_ = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!clean_) describe_exit(status);
        break;
      }
      if (done < 0 && errno != EINTR) {
        clean_ = false;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        std::fprintf(stderr, "server %d still running after the grace period, killing it\n",
                     static_cast<int>(pid_));
        kill(pid_, SIGKILL);
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        clean_ = false;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
    pid_ = -1;
    return clean_;
  }

 private:
  // Reads "<port>\n" from the server, bounded by port_report_timeout_ms.
  void read_port() {
    std::string line;
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds{port_report_timeout_ms};
    while (line.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      pollfd ready{fd_, POLLIN, 0};
      int polled = left > 0 ? poll(&ready, 1, static_cast<int>(left)) : 0;
      if (polled < 0 && errno == EINTR) continue;
      if (polled <= 0) abandon("server did not report its port in time");
      char chunk[32];
      auto got = read(fd_, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) abandon("server ended before reporting its port");
      line.append(chunk, static_cast<std::size_t>(got));
    }
    auto value = std::strtoul(line.c_str(), nullptr, 10);
    if (value == 0 || value > 65535) abandon("server reported a bad port");
    port_ = static_cast<std::uint16_t>(value);
  }

  [[noreturn]] void abandon(const char* what) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    fail(what);
  }

  void describe_exit(int status) const {
    if (WIFSIGNALED(status))
      std::fprintf(stderr, "server ended by signal %d\n", WTERMSIG(status));
    else if (WIFEXITED(status))
      std::fprintf(stderr, "server exited with status %d\n", WEXITSTATUS(status));
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  bool clean_ = false;
};

/// Latency percentiles (nearest rank) of round-trip samples in nanoseconds,
/// as RESULT fields: " p50_us=<x> p99_us=<y>". Reorders `samples_ns`.
inline std::string latency_fields(std::vector<std::int64_t>& samples_ns) {
  if (samples_ns.empty()) return " p50_us=nan p99_us=nan";
  auto at = [&](double fraction) {
    auto rank =
        static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(samples_ns.size())));
    auto index = std::clamp<std::size_t>(rank, 1, samples_ns.size()) - 1;
    std::nth_element(samples_ns.begin(), samples_ns.begin() + static_cast<std::ptrdiff_t>(index),
                     samples_ns.end());
    return static_cast<double>(samples_ns[index]) / 1e3;
  };
  char text[96];
  double p50 = at(0.50);
  double p99 = at(0.99);
  std::snprintf(text, sizeof text, " p50_us=%.1f p99_us=%.1f", p50, p99);
  return text;
}

/// RESULT field with a byte rate in megabytes (1 MB = 1e6 bytes) per second.
inline std::string mb_per_s_field(std::uint64_t bytes, double seconds) {
  char text[48];
  std::snprintf(text, sizeof text, " mb_s=%.1f", static_cast<double>(bytes) / seconds / 1e6);
  return text;
}

/// RESULT fields with the peak RSS (VmHWM) of both processes, in MiB.
inline std::string peak_rss_fields(std::uint64_t client_kb, std::uint64_t server_kb) {
  char text[80];
  std::snprintf(text, sizeof text, " client_peak_rss_mib=%.1f server_peak_rss_mib=%.1f",
                static_cast<double>(client_kb) / 1024.0, static_cast<double>(server_kb) / 1024.0);
  return text;
}

}  // namespace bench::remote
