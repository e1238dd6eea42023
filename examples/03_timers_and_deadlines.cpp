// Example 3: timers, ask deadlines and bounded mailboxes, on the deterministic
// runtime, where time moves only when the program says so.
//
// - A metronome ticks with send_interval every 100 ms of virtual time and
//   rings once with send_after; cancelling the interval stops the ticks.
// - An ask to a slow actor ends with errc::timeout at its deadline.
// - A bounded mailbox refuses a message with errc::mailbox_full; another
//   drops its oldest message instead.
//
// The program exits non-zero on any mismatch.

#include <chrono>
#include <cstdio>
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

long long ms(troupe::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// ---- timers -----------------------------------------------------------------

struct tick {
  static constexpr std::string_view type_name = "example.tick";
};
struct ring {
  static constexpr std::string_view type_name = "example.ring";
};
struct stop_ticking {
  static constexpr std::string_view type_name = "example.stop_ticking";
};
struct counts {
  int ticks = 0;
  int rings = 0;
};
struct get_counts {
  using reply = counts;
  static constexpr std::string_view type_name = "example.get_counts";
};

class metronome : public troupe::actor<metronome> {
 public:
  using handles = troupe::handles<tick, ring, stop_ticking, get_counts>;

  void post_start() {
    ticker_ = send_interval(100ms, tick{});  // at +100 ms, +200 ms, ...
    send_after(250ms, ring{});               // once, at +250 ms
  }
  void handle(tick) { ++counts_.ticks; }
  void handle(ring) { ++counts_.rings; }
  void handle(stop_ticking) { ticker_.cancel(); }
  counts handle(get_counts) { return counts_; }

 private:
  troupe::timer_handle ticker_;
  counts counts_;
};

void timers() {
  std::printf("timers on the manual clock:\n");
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto m = sys.spawn<metronome>().value();

  rt.advance(1s);  // fires every timer due within the next second, in order
  counts c = m.ask(get_counts{}).get().value();
  check(c.ticks == 10 && c.rings == 1, "after 1 s: " + std::to_string(c.ticks) + " ticks, " +
                                           std::to_string(c.rings) + " ring (want 10, 1)");

  rt.advance(250ms);
  c = m.ask(get_counts{}).get().value();
  check(c.ticks == 12, "after 1.25 s: " + std::to_string(c.ticks) + " ticks (want 12)");

  m.tell(stop_ticking{});
  rt.advance(1s);
  c = m.ask(get_counts{}).get().value();
  check(c.ticks == 12, "cancelled, 1 s later: still " + std::to_string(c.ticks) + " ticks");
}

// ---- deadlines --------------------------------------------------------------

struct lookup {
  using reply = std::string;
  static constexpr std::string_view type_name = "example.lookup";
  std::string key;
};

// Takes one second (of virtual time) to answer each lookup.
class slow_directory : public troupe::actor<slow_directory> {
 public:
  using handles = troupe::handles<lookup>;
  troupe::task<std::string> handle(lookup m) {
    co_await sleep_for(1s);
    co_return "value of " + m.key;
  }
};

void deadlines() {
  std::printf("ask deadlines:\n");
  troupe::sim::runtime rt;
  troupe::system_config cfg = rt.config();
  cfg.default_ask_timeout = 3s;  // asks without their own deadline get this one
  troupe::system sys(cfg);
  auto dir = sys.spawn<slow_directory>().value();

  const troupe::time_point start = rt.now();
  troupe::result<std::string> r = dir.ask(lookup{"alpha"}, 100ms).get();
  check(!r && r.error() == troupe::errc::timeout,
        "ask with a 100 ms deadline: " + (r ? *r : r.error().message()) + " after " +
            std::to_string(ms(rt.now() - start)) + " ms");

  // The timed-out handler still runs to its end (its late reply is
  // discarded); this ask waits behind it, then takes its own second.
  troupe::result<std::string> r2 = dir.ask(lookup{"beta"}).get();
  check(r2 && *r2 == "value of beta" && rt.now() - start == 2s,
        "ask with the default 3 s deadline: " + (r2 ? *r2 : r2.error().message()) + " after " +
            std::to_string(ms(rt.now() - start)) + " ms");
}

// ---- bounded mailboxes --------------------------------------------------------

struct item {
  static constexpr std::string_view type_name = "example.item";
  int n;
};
struct get_items {
  using reply = std::vector<int>;
  static constexpr std::string_view type_name = "example.get_items";
};

class sink : public troupe::actor<sink> {
 public:
  using handles = troupe::handles<item, get_items>;
  void handle(const item& m) { items_.push_back(m.n); }
  std::vector<int> handle(get_items) { return items_; }

 private:
  std::vector<int> items_;
};

std::string show(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

void bounded_mailboxes() {
  std::printf("bounded mailboxes:\n");
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());

  // Nothing runs until the runtime is driven, so the mailbox fills up.
  troupe::spawn_options strict;
  strict.mailbox = {.capacity = 2, .policy = troupe::overflow::reject};
  auto s = sys.spawn_with<sink>(strict).value();
  const bool first = s.tell(item{1}).ok();
  const bool second = s.tell(item{2}).ok();
  troupe::send_result third = s.tell(item{3});
  check(first && second, "capacity 2: the first two tells are accepted");
  check(!third.ok() && third.error() == troupe::errc::mailbox_full,
        "the third tell is refused: " + std::string(troupe::to_string(third.error())));
  troupe::result<std::vector<int>> refused = s.ask(get_items{}).get();
  check(!refused && refused.error() == troupe::errc::mailbox_full,
        "an ask to the full mailbox ends with " + refused.error().message());
  rt.run();  // the sink handles its two messages; the mailbox empties
  std::vector<int> got = s.ask(get_items{}).get().value();
  check(got == std::vector<int>{1, 2}, "once drained the sink has " + show(got));

  troupe::spawn_options lossy;
  lossy.mailbox = {.capacity = 2, .policy = troupe::overflow::drop_oldest};
  auto l = sys.spawn_with<sink>(lossy).value();
  for (int i = 1; i <= 5; ++i) (void)l.tell(item{i});  // all accepted
  rt.run();
  got = l.ask(get_items{}).get().value();
  check(got == std::vector<int>{4, 5}, "drop_oldest keeps the newest two: " + show(got));
}

}  // namespace example

int main() {
  using namespace example;
  timers();
  deadlines();
  bounded_mailboxes();
  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
