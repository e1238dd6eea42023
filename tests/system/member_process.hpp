// One `troupe node` process of the system tests: started with pipes, its
// JSON event lines collected by a reader thread, ended by its pid.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace system_test {

/// Returns the value of "key" in a flat JSON line (strings unquoted), or "".
inline std::string json_field(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const std::size_t at = line.find(k);
  if (at == std::string::npos) return "";
  std::size_t i = at + k.size();
  if (i < line.size() && line[i] == '"') {
    const std::size_t end = line.find('"', i + 1);
    return end == std::string::npos ? "" : line.substr(i + 1, end - i - 1);
  }
  std::size_t end = i;
  while (end < line.size() && line[end] != ',' && line[end] != '}') ++end;
  return line.substr(i, end - i);
}

class member_process {
 public:
  /// Starts `prefix... troupe node --name name --listen listen --cookie ...
  /// [--seeds seed] extra...` (a prefix such as `ip netns exec ns` runs it in
  /// a network namespace; `extra` adds options).
  member_process(const std::string& name, const std::string& listen, const std::string& seed,
                 std::vector<std::string> prefix = {}, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = std::move(prefix);
    for (const char* a : {TROUPE_PROGRAM, "node", "--name"}) args.emplace_back(a);
    args.push_back(name);
    for (const char* a : {"--listen"}) args.emplace_back(a);
    args.push_back(listen);
    for (const char* a : {"--cookie", "system-test-cookie-1234", "--profile", "lan"})
      args.emplace_back(a);
    if (!seed.empty()) {
      args.push_back("--seeds");
      args.push_back(seed);
    }
    for (auto& a : extra) args.push_back(std::move(a));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int in[2];
    int out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(out[1], 2);  // errors land in the transcript (not JSON: ignored by the queries)
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
  ~member_process() { kill_now(); }
  member_process(const member_process&) = delete;
  member_process& operator=(const member_process&) = delete;

  /// Waits (at most `limit`) for a line with event `event` (and member
  /// `member` when not empty); returns it, or "".
  std::string wait_for(const std::string& event, const std::string& member,
                       std::chrono::milliseconds limit) {
    std::unique_lock lock(mu_);
    std::string found;
    cv_.wait_for(lock, limit, [&] {
      for (const auto& l : lines_)
        if (json_field(l, "event") == event &&
            (member.empty() || json_field(l, "member") == member)) {
          found = l;
          return true;
        }
      return false;
    });
    return found;
  }
  /// Counts lines with `event` about `member`.
  std::size_t count(const std::string& event, const std::string& member) {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& l : lines_)
      if (json_field(l, "event") == event && json_field(l, "member") == member) ++n;
    return n;
  }
  void say(const std::string& line) {
    const std::string l = line + "\n";
    if (stdin_ >= 0) (void)!write(stdin_, l.data(), l.size());
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  /// The t_ms of the first line with `event` about `member` at or after
  /// `from_ms`, or -1.
  long long first_ms(const std::string& event, const std::string& member, long long from_ms) {
    std::lock_guard lock(mu_);
    for (const auto& l : lines_) {
      if (json_field(l, "event") != event || json_field(l, "member") != member) continue;
      const long long t = std::stoll(json_field(l, "t_ms"));
      if (t >= from_ms) return t;
    }
    return -1;
  }
  /// Every line printed so far, one per line (for failure reports).
  std::string transcript() {
    std::lock_guard lock(mu_);
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    return all;
  }
  /// The t_ms of the last line seen (the process's clock now, roughly).
  long long last_ms() {
    std::lock_guard lock(mu_);
    return lines_.empty() ? 0 : std::stoll(json_field(lines_.back(), "t_ms"));
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
  /// Waits (bounded) for the process to exit by itself; returns its status or -1.
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

}  // namespace system_test
