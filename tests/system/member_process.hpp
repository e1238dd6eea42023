// One `troupe node` process of the system tests (a line_process): its JSON
// event lines are queried by event and member.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../support/line_process.hpp"

namespace system_test {

using test_support::line_process;

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
    proc_ = std::make_unique<line_process>(std::move(args));
  }
  member_process(const member_process&) = delete;
  member_process& operator=(const member_process&) = delete;

  /// Waits (at most `limit`) for a line with event `event` (and member
  /// `member` when not empty); returns it, or "".
  std::string wait_for(const std::string& event, const std::string& member,
                       std::chrono::milliseconds limit) {
    return proc_->wait_for(
        [&](const std::string& l) {
          return json_field(l, "event") == event &&
                 (member.empty() || json_field(l, "member") == member);
        },
        limit);
  }
  /// Counts lines with `event` about `member`.
  std::size_t count(const std::string& event, const std::string& member) {
    return proc_->count([&](const std::string& l) {
      return json_field(l, "event") == event && json_field(l, "member") == member;
    });
  }
  void say(const std::string& line) { proc_->say(line); }
  /// Says `command` and waits (at most `limit`) for the first line with
  /// `event` printed after it was said; returns it, or "". For events that
  /// only commands print (one test thread saying them).
  std::string ask(const std::string& command, const std::string& event,
                  std::chrono::milliseconds limit) {
    const std::size_t from = proc_->size();
    proc_->say(command);
    return proc_->wait_for_from(
        [&](const std::string& l) { return json_field(l, "event") == event; }, from, limit);
  }
  void signal(int sig) { proc_->signal(sig); }
  /// The t_ms of the first line with `event` about `member` at or after
  /// `from_ms`, or -1.
  long long first_ms(const std::string& event, const std::string& member, long long from_ms) {
    for (const auto& l : proc_->lines()) {
      if (json_field(l, "event") != event || json_field(l, "member") != member) continue;
      const long long t = std::stoll(json_field(l, "t_ms"));
      if (t >= from_ms) return t;
    }
    return -1;
  }
  /// Every line printed so far, one per line (for failure reports).
  std::string transcript() { return proc_->transcript(); }
  /// The t_ms of the last line seen (the process's clock now, roughly).
  long long last_ms() {
    const std::vector<std::string> all = proc_->lines();
    return all.empty() ? 0 : std::stoll(json_field(all.back(), "t_ms"));
  }
  /// Ends the process with SIGKILL and reaps it (bounded).
  void kill_now() { proc_->kill_now(); }
  /// Waits (bounded) for the process to exit by itself; returns its status or -1.
  int wait_exit(std::chrono::milliseconds limit) { return proc_->wait_exit(limit); }

 private:
  std::unique_ptr<line_process> proc_;
};

}  // namespace system_test
