// Starting troupe nodes as processes of their own on this machine, for the
// examples that run several nodes (08_two_nodes.cpp, troupe_demo.cpp). This
// is plain POSIX, not troupe API: in production each node is a program of its
// own, started by whatever starts your services.
//
// The parent runs its own executable again (/proc/self/exe) as
//
//   <exe> --node <fd> <args...>
//
// where <fd> is the child's end of a socket pair. The child starts its node
// on 127.0.0.1 port 0 (the OS picks a free port), writes the address it got
// as one line on the socket, and serves until the socket closes: the parent
// closes its end to let the child go, and the socket also closes when the
// parent dies. Nothing is left running when something fails:
// - the parent arms an alarm whose handler kills and reaps every child, then
//   exits with status 1; each child arms a later one of its own;
// - a child gets SIGKILL when its parent dies (PR_SET_PDEATHSIG);
// - every wait for the other side is bounded, and a child that does not exit
//   in time after its release is killed by pid; every child is reaped.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
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

namespace node_process {

namespace detail {

inline constexpr std::size_t max_children = 8;
/// The children started so far, for the alarm handler (0: a free slot).
inline std::atomic<pid_t> children[max_children];  // NOLINT: read by a signal handler

inline void write_stderr(const char* text) noexcept {
  ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// Runs on SIGALRM in the parent: only async-signal-safe calls.
inline void on_parent_alarm(int /*signal*/) {
  write_stderr("FAILED: time limit reached; killing the node processes\n");
  for (auto& slot : children) {
    const pid_t pid = slot.exchange(0);
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  _exit(1);
}

inline void on_child_alarm(int /*signal*/) {
  write_stderr("FAILED: node process: time limit reached\n");
  _exit(1);
}

}  // namespace detail

/// Bounds the whole run of the parent: after `seconds`, every child started
/// with child::start() is killed and reaped and the process exits with
/// status 1. Call it first thing in main().
inline void arm_time_limit(unsigned seconds) {
  signal(SIGPIPE, SIG_IGN);  // a closed socket shows as an error, not a signal
  struct sigaction sa {};
  sa.sa_handler = &detail::on_parent_alarm;
  sigaction(SIGALRM, &sa, nullptr);
  alarm(seconds);
}

/// The child's side: the socket to its parent.
class parent_link {
 public:
  /// When argv is `<exe> --node <fd> args...`, this process is a child node:
  /// arms its own alarm (`seconds`) and returns the link, with args()
  /// holding what follows the descriptor. Otherwise nothing.
  static std::optional<parent_link> from_args(int argc, char** argv, unsigned seconds) {
    if (argc < 3 || std::strcmp(argv[1], "--node") != 0) return std::nullopt;
    const int fd = std::atoi(argv[2]);
    if (fd <= STDERR_FILENO || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
      std::fprintf(stderr, "FAILED: node process: bad --node descriptor\n");
      std::exit(2);
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa {};
    sa.sa_handler = &detail::on_child_alarm;
    sigaction(SIGALRM, &sa, nullptr);
    alarm(seconds);
    parent_link link(fd);
    for (int i = 3; i < argc; ++i) link.args_.emplace_back(argv[i]);
    return link;
  }

  /// Returns the arguments the parent passed after the descriptor.
  [[nodiscard]] const std::vector<std::string>& args() const { return args_; }

  /// Tells the parent where this node listens ("127.0.0.1:41234").
  [[nodiscard]] bool report(const std::string& address) const {
    const std::string line = address + "\n";
    return write(fd_, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  }

  /// Blocks until the parent lets this process go (it closes its end of the
  /// socket, or dies).
  void wait_for_release() const {
    char byte = 0;
    for (;;) {
      const ssize_t got = read(fd_, &byte, 1);
      if (got == 0 || (got < 0 && errno != EINTR)) return;
    }
  }

 private:
  explicit parent_link(int fd) : fd_(fd) {}

  int fd_;
  std::vector<std::string> args_;
};

/// The parent's side: one child node process, ended by pid and reaped on
/// every path (release(), the destructor, or the alarm).
class child {
 public:
  /// Starts this executable as `--node <fd> args...`. Returns nullptr (and
  /// says why on stderr) when the process cannot be started.
  static std::unique_ptr<child> start(const std::vector<std::string>& args) {
    int pair[2];
    // Both ends close on exec: a later child must not inherit this pair, or
    // closing the parent's end would not release this child.
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      std::perror("FAILED: socketpair");
      return nullptr;
    }
    // Everything the child needs is built before fork(): after it, only
    // async-signal-safe calls until exec.
    std::vector<std::string> words{"/proc/self/exe", "--node", std::to_string(pair[1])};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("FAILED: fork");
      close(pair[0]);
      close(pair[1]);
      return nullptr;
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);   // die with the parent ...
      if (getppid() != parent) _exit(1);  // ... even if it died just now
      fcntl(pair[1], F_SETFD, 0);         // this end survives exec
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    close(pair[1]);
    auto c = std::unique_ptr<child>(new child(pid, pair[0]));
    for (auto& slot : detail::children) {
      pid_t free_slot = 0;
      if (slot.compare_exchange_strong(free_slot, pid)) break;
    }
    return c;
  }

  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() { (void)release(std::chrono::milliseconds(0)); }

  /// Returns the child's process id (also after it was reaped).
  [[nodiscard]] pid_t pid() const { return pid_; }

  /// Reads the address the child's node listens on, waiting at most
  /// `timeout`. Nothing if the child ended or said nothing in time.
  std::optional<std::string> read_address(std::chrono::milliseconds timeout) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (line.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      const int polled = poll(&p, 1, static_cast<int>(left));
      if (polled < 0 && errno == EINTR) continue;
      if (polled <= 0) return std::nullopt;
      char chunk[64];
      const ssize_t got = read(fd_, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return std::nullopt;  // the child ended first
      line.append(chunk, static_cast<std::size_t>(got));
    }
    line.resize(line.find('\n'));
    return line;
  }

  /// Lets the child go (closes the socket), waits up to `grace` for it to
  /// exit, then kills it. Returns true when it exited by itself with status
  /// 0; otherwise `how` (if given) says what happened. Later calls return
  /// the first outcome.
  bool release(std::chrono::milliseconds grace, std::string* how = nullptr) {
    if (!reaped_) {
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
      const auto deadline = std::chrono::steady_clock::now() + grace;
      int status = 0;
      for (;;) {
        const pid_t done = waitpid(pid_, &status, WNOHANG);
        if (done == pid_) break;
        if (done < 0 && errno != EINTR) {
          status = -1;
          break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
          kill(pid_, SIGKILL);
          while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
          }
          outcome_ = "still running after " + std::to_string(grace.count()) + " ms: killed";
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      for (auto& slot : detail::children) {
        pid_t mine = pid_;
        if (slot.compare_exchange_strong(mine, 0)) break;
      }
      reaped_ = true;
      clean_ = outcome_.empty() && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (outcome_.empty()) {
        if (status == -1) {
          outcome_ = "could not be waited for";
        } else if (WIFEXITED(status)) {
          outcome_ = "exited with status " + std::to_string(WEXITSTATUS(status));
        } else if (WIFSIGNALED(status)) {
          outcome_ = "ended by signal " + std::to_string(WTERMSIG(status));
        }
      }
    }
    if (how != nullptr) *how = outcome_;
    return clean_;
  }

 private:
  child(pid_t pid, int fd) : pid_(pid), fd_(fd) {}

  pid_t pid_;
  int fd_;
  bool reaped_ = false;
  bool clean_ = false;
  std::string outcome_;
};

}  // namespace node_process
