// Example 5: finding actors.
//
// - The registry: unique names, typed lookup, entries that go with their actor.
// - The receptionist: path-like labels, reception keys, visibility, and
//   listings that follow a key's members as they check in and end (as
//   messages to an actor, or awaited inside a handler coroutine).
// - Process groups: scopes, join and leave, monitors.
//
// Everything runs on the deterministic runtime, so the output is always the
// same. The program exits non-zero on any mismatch.

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "troupe/sim/runtime.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace example {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// ---- the actors -------------------------------------------------------------------

struct get {
  using reply = std::string;
  static constexpr std::string_view type_name = "example.get";
  std::string key;
};

class cache : public troupe::actor<cache> {
 public:
  using handles = troupe::handles<get>;
  std::string handle(const get& m) { return "value of " + m.key; }
};

struct work {
  using reply = int;
  static constexpr std::string_view type_name = "example.work";
  int n;
};

class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<work>;
  int handle(const work& m) { return m.n * 2; }
};

// Follows the members of a reception key: the receptionist sends it one
// listing_event per change, as a message.
class dispatcher : public troupe::actor<dispatcher> {
 public:
  using handles = troupe::handles<troupe::listing_event<worker>>;
  explicit dispatcher(std::vector<std::string>* log) : log_(log) {}

  void handle(const troupe::listing_event<worker>& e) {
    if (e.what == troupe::listing_change::added) {
      log_->push_back("+" + e.label);
    } else {
      log_->push_back("-" + e.label);
    }
  }

 private:
  std::vector<std::string>* log_;
};

struct wait_for_workers {
  using reply = int;
  static constexpr std::string_view type_name = "example.wait_for_workers";
  int count;
};

// Waits inside a handler coroutine until `count` workers have checked in.
class starter : public troupe::actor<starter> {
 public:
  using handles = troupe::handles<wait_for_workers>;

  troupe::task<int> handle(wait_for_workers m) {
    troupe::receptionist& r = self().handle()->core().receptionist();
    troupe::reception_key<worker> key{"workers"};
    troupe::listing<worker> workers = r.subscribe(key).value();
    int ready = 0;
    while (ready < m.count) {
      troupe::result<troupe::listing_event<worker>> e = co_await workers.next(5s);
      if (!e) co_return -1;  // timeout: not enough workers in time
      if (e->what == troupe::listing_change::added) ++ready;
    }
    co_return ready;
  }
};

// ---- the registry -------------------------------------------------------------------

void registry(troupe::sim::runtime& rt, troupe::system& sys) {
  std::printf("the registry:\n");
  // Register at spawn...
  troupe::spawn_options opts;
  opts.name = "cache/main";
  troupe::endpoint<cache> main_cache = sys.spawn_with<cache>(opts).value();

  // ...or later.
  troupe::endpoint<cache> spare = sys.spawn<cache>().value();
  troupe::result<troupe::entry_stamp> added = sys.registry().add("cache/spare", spare);

  // Look up with the type; the wrong type finds nothing.
  troupe::endpoint<cache> found = sys.registry().lookup<cache>("cache/main");
  troupe::endpoint<worker> wrong = sys.registry().lookup<worker>("cache/main");

  // A name names one actor at a time.
  troupe::result<troupe::entry_stamp> taken = sys.registry().add("cache/main", spare);

  check(added.has_value(), "registered cache/spare later");
  check(found == main_cache && found.ask(get{"k"}).get().value() == "value of k",
        "lookup<cache> finds cache/main");
  check(!wrong, "lookup<worker> of a cache is empty");
  check(!taken && taken.error() == troupe::errc::name_taken,
        "a taken name: " + (taken ? std::string("registered?") : taken.error().message()));

  // The entry goes with its actor.
  spare.stop();
  rt.run();
  check(!sys.registry().contains("cache/spare"), "cache/spare went with its actor");
}

// ---- the receptionist ----------------------------------------------------------------

void receptionist(troupe::sim::runtime& rt, troupe::system& sys) {
  std::printf("the receptionist:\n");
  troupe::receptionist& r = sys.receptionist();
  const troupe::reception_key<worker> workers{"workers"};

  std::vector<std::string> log;
  troupe::endpoint<dispatcher> d = sys.spawn<dispatcher>(&log).value();
  troupe::result<troupe::subscription> sub = r.subscribe(workers, d);

  troupe::endpoint<worker> w1 = sys.spawn<worker>().value();
  troupe::endpoint<worker> w2 = sys.spawn<worker>().value();
  troupe::result<troupe::entry_stamp> in1 = r.check_in("pool/worker/1", w1, workers);
  troupe::result<troupe::entry_stamp> in2 =
      r.check_in("pool/worker/2", w2, workers, troupe::visibility::private_);
  troupe::result<troupe::entry_stamp> bad = r.check_in("pool//worker", w1, workers);
  rt.run();

  check(sub.has_value() && in1.has_value() && in2.has_value(),
        "subscribed; two workers checked in");
  check(!bad && bad.error() == troupe::errc::invalid_name,
        "a malformed label: " + (bad ? std::string("accepted?") : bad.error().message()));
  check(r.lookup<worker>("pool/worker/2") == w2, "lookup<worker> by label");
  check(r.find("pool/worker/2")->vis == troupe::visibility::private_, "visibility is recorded");
  check(r.members(workers).size() == 2, "the key has two members");

  // A worker ends: the dispatcher hears of it exactly once.
  w1.kill();
  rt.run();
  check(join(log) == "+pool/worker/1 +pool/worker/2 -pool/worker/1", "dispatcher saw " + join(log));

  // A handler coroutine waits until three workers are there (it sees w2 at
  // once, then the two that check in after it started).
  troupe::endpoint<starter> s = sys.spawn<starter>().value();
  troupe::response<int> ready = s.ask(wait_for_workers{3}, 1min);
  rt.run();
  for (const char* label : {"pool/worker/3", "pool/worker/4"}) {
    troupe::endpoint<worker> w = sys.spawn<worker>().value();
    (void)r.check_in(label, w, workers);
  }
  troupe::result<int> got = ready.get();
  check(got && *got == 3, "the starter saw 3 workers check in");
}

// ---- process groups ---------------------------------------------------------------------

void groups(troupe::sim::runtime& rt, troupe::system& sys) {
  std::printf("process groups:\n");
  troupe::process_groups& g = sys.groups();
  troupe::endpoint<worker> a = sys.spawn<worker>().value();
  troupe::endpoint<worker> b = sys.spawn<worker>().value();

  // The callback runs until `mon` goes (here: at the end of this function),
  // so it never outlives `events`.
  std::vector<std::string> events;
  troupe::result<troupe::scoped_subscription> mon =
      g.monitor("jobs", "resize", [&events](const troupe::group_event& e) {
        events.push_back((e.what == troupe::group_change::joined ? "+" : "-") +
                         std::to_string(e.member.id));
      });

  (void)g.join("jobs", "resize", a);  // scope "jobs", group "resize"
  (void)g.join("jobs", "resize", b);
  (void)g.join("jobs", "encode", a);  // an actor may join many groups
  std::vector<troupe::endpoint<worker>> resizers = g.members<worker>("jobs", "resize");

  check(mon.has_value() && resizers.size() == 2, "two members in jobs/resize");
  check(g.groups("jobs").size() == 2, "jobs has two groups");

  b.stop();  // members leave every group when they stop
  rt.run();
  const std::string b_id = std::to_string(b.id());
  const std::string a_id = std::to_string(a.id());
  check(join(events) == "+" + a_id + " +" + b_id + " -" + b_id, "monitor saw " + join(events));
  check(g.members<worker>("jobs", "resize").size() == 1, "one member left");
}

}  // namespace example

int main() {
  using namespace example;
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  registry(rt, sys);
  receptionist(rt, sys);
  groups(rt, sys);
  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
