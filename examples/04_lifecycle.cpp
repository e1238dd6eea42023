// Example 4: the life of an actor.
//
// - on_start may refuse to start: spawn() then returns start_failed.
// - stop() ends the actor after the current message; messages still queued
//   are rejected (tells count as dead letters). A suspended handler
//   coroutine finishes first.
// - drain() refuses new messages, handles the queued ones, then stops.
// - kill() ends the actor at its next turn; a suspended handler coroutine is
//   destroyed without resuming and its ask ends with actor_not_found.
// - post_stop runs exactly once, with the reason.
// - An actor that blocks runs on a thread of its own (dedicated_thread).
//
// The program exits non-zero on any mismatch.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/sim/runtime.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

// Named, not anonymous: clang warns about the unused type_name of messages in
// an anonymous namespace (the local runtime does not read it yet).
namespace example {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " | ") + x;
  return s;
}

using journal = std::vector<std::string>;  // the deterministic runtime is single-threaded

// ---- on_start -----------------------------------------------------------------

class picky : public troupe::actor<picky> {
 public:
  using handles = troupe::handles<>;
  explicit picky(int threads) : threads_(threads) {}
  // Returning false (or an error result, or throwing) refuses the start.
  bool on_start() { return threads_ > 0; }

 private:
  int threads_;
};

// ---- stop, drain, kill ----------------------------------------------------------

struct note {
  static constexpr std::string_view type_name = "example.note";
  std::string text;
};

struct nap {
  using reply = int;
  static constexpr std::string_view type_name = "example.nap";
  troupe::duration how_long;
};

/// Records its own destruction: shows when a coroutine frame is destroyed.
struct frame_guard {
  journal* log;
  ~frame_guard() { log->push_back("frame destroyed"); }
};

class recorder : public troupe::actor<recorder> {
 public:
  using handles = troupe::handles<note, nap>;
  explicit recorder(journal* log) : log_(log) {}

  void post_start() { log_->push_back("post_start"); }
  void handle(const note& m) { log_->push_back(m.text); }
  troupe::task<int> handle(nap m) {
    frame_guard guard{log_};
    co_await sleep_for(m.how_long);
    log_->push_back("woke up");  // never runs if the actor is killed meanwhile
    co_return 1;
  }
  void post_stop(const troupe::exit_reason& why) {
    log_->push_back("post_stop " + why.to_string());
  }

 private:
  journal* log_;
};

void lifecycle() {
  std::printf("on the deterministic runtime:\n");
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());

  {
    troupe::result<troupe::endpoint<picky>> p = sys.spawn<picky>(0);
    check(!p && p.error() == troupe::errc::start_failed,
          "on_start refused: " + (p ? std::string("spawned") : p.error().message()));
  }
  {
    // stop: the system lane is read before the user lane, so the stop
    // overtakes the three queued notes, which become dead letters.
    journal log;
    auto r = sys.spawn<recorder>(&log).value();
    const auto dead_before = sys.dead_letters();
    for (const char* t : {"one", "two", "three"}) r.tell(note{t});
    r.stop();
    rt.run();
    check(join(log) == "post_start | post_stop normal", "stop: " + join(log));
    check(sys.dead_letters() == dead_before + 3, "stop: the 3 queued notes are dead letters");
  }
  {
    // drain: the queued notes are handled, later ones are refused.
    journal log;
    auto r = sys.spawn<recorder>(&log).value();
    for (const char* t : {"one", "two", "three"}) r.tell(note{t});
    r.drain();
    troupe::send_result late = r.tell(note{"late"});
    rt.run();
    check(!late.ok() && late.error() == troupe::errc::actor_not_found,
          "drain: a tell after drain() is refused with actor_not_found");
    check(join(log) == "post_start | one | two | three | post_stop normal", "drain: " + join(log));
  }
  {
    // stop with a suspended handler: the handler finishes first.
    journal log;
    auto r = sys.spawn<recorder>(&log).value();
    troupe::response<int> napping = r.ask(nap{1s});
    rt.run();  // the handler starts and suspends in sleep_for
    r.stop();
    rt.run();
    check(log.size() == 1, "stop: the actor waits for its suspended handler");
    rt.advance(1s);
    troupe::result<int> got = napping.get();
    check(got && *got == 1, "stop: the suspended handler finished and replied");
    check(join(log) == "post_start | woke up | frame destroyed | post_stop normal",
          "stop: " + join(log));
  }
  {
    // kill with a suspended handler: the frame is destroyed, never resumed.
    journal log;
    auto r = sys.spawn<recorder>(&log).value();
    troupe::response<int> napping = r.ask(nap{1s});
    rt.run();
    r.kill();
    troupe::result<int> got = napping.get();
    check(!got && got.error() == troupe::errc::actor_not_found,
          "kill: the suspended handler's ask ends with " + got.error().message());
    check(join(log) == "post_start | frame destroyed | post_stop killed", "kill: " + join(log));
    rt.advance(2s);
    check(log.size() == 3, "kill: nothing runs afterwards (post_stop ran once)");
  }
  check(sys.live_actors() == 0, "no actor left");
}

// ---- a dedicated thread ------------------------------------------------------------

struct file_size {
  using reply = std::size_t;
  static constexpr std::string_view type_name = "example.file_size";
  std::string path;
};

// Reads files with blocking calls: it runs on a thread of its own, so the
// pool's workers never wait for the disk.
class file_reader : public troupe::actor<file_reader> {
 public:
  using handles = troupe::handles<file_size>;
  std::size_t handle(const file_size& m) {
    std::ifstream in(m.path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + m.path);
    std::size_t n = 0;
    char buf[4096];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) n += static_cast<std::size_t>(in.gcount());
    return n;
  }
};

void dedicated_thread() {
  std::printf("on a dedicated thread:\n");
  troupe::system sys(troupe::system_config{.workers = 2});
  troupe::spawn_options opts;
  opts.dedicated_thread = true;
  auto reader = sys.spawn_with<file_reader>(opts).value();

  const std::string path = "troupe_example_04.txt";
  std::ofstream(path) << std::string(10'000, 'x');
  troupe::result<std::size_t> size = reader.ask(file_size{path}).get();
  check(size && *size == 10'000,
        "read " + (size ? std::to_string(*size) + " bytes" : size.error().message()));
  troupe::result<std::size_t> missing = reader.ask(file_size{"/no/such/file"}).get();
  check(!missing && missing.error() == troupe::errc::handler_failed,
        "a missing file: " + (missing ? std::string("?") : missing.error().message()));
  std::remove(path.c_str());
  // The reader failed and ended; its thread ended with it.
  check(sys.shutdown(5s).clean(), "clean shutdown: no thread left behind");
}

}  // namespace example

int main() {
  using namespace example;
  lifecycle();
  dedicated_thread();
  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
