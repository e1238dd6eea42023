// A child process of the system and remote tests (argv, no shell): its standard
// output and error lines are collected by a reader thread, it reads lines
// given with say(), and it is ended by its pid.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace test_support {

/// A child process (argv, no shell) whose standard output and error lines
/// are collected by a reader thread; ended by its pid.
class line_process {
 public:
  explicit line_process(std::vector<std::string> args) {
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
      dup2(out[1], 2);
      close(in[1]);
      close(out[0]);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    reader_ = std::thread([this] { read_lines(); });
  }
  ~line_process() { kill_now(); }
  line_process(const line_process&) = delete;
  line_process& operator=(const line_process&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }
  /// Waits (at most `limit`) for a line that `match` accepts; returns it or "".
  std::string wait_for(const std::function<bool(const std::string&)>& match,
                       std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    std::string found;
    cv_.wait_for(lock, limit, [&] {
      for (const auto& l : lines_)
        if (match(l)) {
          found = l;
          return true;
        }
      return false;
    });
    return found;
  }
  /// Returns how many lines were read so far.
  std::size_t size() {
    std::lock_guard lock(mu_);
    return lines_.size();
  }
  /// Waits (at most `limit`) for a line that `match` accepts among those
  /// from the `from`-th on (0: the first); returns it or "".
  std::string wait_for_from(const std::function<bool(const std::string&)>& match, std::size_t from,
                            std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    std::string found;
    cv_.wait_for(lock, limit, [&] {
      for (; from < lines_.size(); ++from)
        if (match(lines_[from])) {
          found = lines_[from];
          return true;
        }
      return false;
    });
    return found;
  }
  void say(const std::string& line) {
    const std::string l = line + "\n";
    if (stdin_ >= 0) (void)!write(stdin_, l.data(), l.size());
  }
  /// Counts the lines `match` accepts.
  std::size_t count(const std::function<bool(const std::string&)>& match) {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& l : lines_)
      if (match(l)) ++n;
    return n;
  }
  /// Returns every line so far.
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  /// Waits (bounded) for the process to exit by itself; returns its status
  /// or -1.
  int wait_exit(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(10000);
    }
    return -1;
  }
  /// Every line so far (for failure reports).
  std::string transcript() {
    std::lock_guard lock(mu_);
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    return all;
  }
  /// Ends the process with SIGKILL and reaps it (bounded).
  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      for (int i = 0; i < 500; ++i) {  // at most 5 s
        if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
        usleep(10000);
      }
      pid_ = -1;
    }
    if (stdin_ >= 0) close(stdin_);
    stdin_ = -1;
    if (reader_.joinable()) reader_.join();
    if (stdout_ >= 0) close(stdout_);
    stdout_ = -1;
  }

 private:
  void read_lines() {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const ssize_t n = read(stdout_, chunk, sizeof chunk);
      if (n <= 0) return;
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        {
          std::lock_guard lock(mu_);
          lines_.push_back(buf.substr(0, nl));
        }
        cv_.notify_all();
        buf.erase(0, nl + 1);
      }
    }
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace test_support
