// Example 7: a supervision tree on the deterministic runtime.
//
//   root (one_for_one)
//   ├── store   (permanent)  a key-value store that crashes on a poisoned key
//   └── feeds   (one_for_all supervisor, permanent)
//       ├── reader  (permanent)
//       └── parser  (transient)
//
// The program crashes actors on purpose and checks that:
// - a crashed child comes back in place: its endpoint keeps working, and
//   messages sent while it waits for its restart reach the new instance;
// - the ask it was handling when it crashed ends with handler_failed;
// - one_for_all restarts both feeds when one fails, stopping the later one
//   first and starting them again in order;
// - a child that crashes too often makes its supervisor give up with
//   restart_limit, and the root restarts that whole subtree.
//
// It prints the supervision events and exits non-zero on any mismatch.

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/core/supervisor.hpp"
#include "troupe/sim/runtime.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace example {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

struct put {
  static constexpr std::string_view type_name = "example.put";
  std::string key;
  std::string value;
};
struct get {
  using reply = std::string;
  static constexpr std::string_view type_name = "example.get";
  std::string key;
};
struct size {
  using reply = std::size_t;
  static constexpr std::string_view type_name = "example.size";
};

/// Loses its contents when it crashes (a restart builds a fresh instance).
class store : public troupe::actor<store> {
 public:
  using handles = troupe::handles<put, get, size>;
  void handle(const put& m) {
    if (m.key == "poison") throw std::runtime_error("poisoned key");
    data_[m.key] = m.value;
  }
  std::string handle(const get& m) {
    if (m.key == "poison") throw std::runtime_error("poisoned lookup");
    auto it = data_.find(m.key);
    return it == data_.end() ? std::string("<none>") : it->second;
  }
  std::size_t handle(size) { return data_.size(); }

 private:
  std::map<std::string, std::string> data_;
};

struct crash {
  static constexpr std::string_view type_name = "example.crash";
};
struct generation {
  using reply = int;
  static constexpr std::string_view type_name = "example.generation";
};

/// Counts its instances in a shared table, to show restarts.
class feed : public troupe::actor<feed> {
 public:
  using handles = troupe::handles<crash, generation>;
  feed(std::string name, std::map<std::string, int>* births)
      : name_(std::move(name)), generation_(++(*births)[name_]) {}
  void handle(crash) { throw std::runtime_error(name_ + " lost its input"); }
  int handle(generation) { return generation_; }

 private:
  std::string name_;
  int generation_;
};

const char* kind_name(troupe::supervision_event::kind k) {
  switch (k) {
    case troupe::supervision_event::kind::started:
      return "started";
    case troupe::supervision_event::kind::exited:
      return "exited";
    case troupe::supervision_event::kind::restarted:
      return "restarted";
    case troupe::supervision_event::kind::stopped:
      return "stopped";
    case troupe::supervision_event::kind::gave_up:
      return "gave up";
  }
  return "?";
}

/// Prints each supervision event with the virtual time it happened at.
std::function<void(const troupe::supervision_event&)> printer(const char* who,
                                                              troupe::sim::runtime* rt) {
  const troupe::time_point t0 = rt->now();
  return [who, rt, t0](const troupe::supervision_event& e) {
    auto t = std::chrono::duration_cast<std::chrono::milliseconds>(rt->now() - t0);
    std::printf("  [%5lld ms] %-5s %-9s %-7s %s\n", static_cast<long long>(t.count()), who,
                kind_name(e.what), e.label.c_str(), e.reason.to_string().c_str());
  };
}

template <class A>
troupe::endpoint<A> child(const troupe::endpoint<troupe::supervisor>& sup, std::size_t i) {
  auto kids = sup.ask(troupe::which_children{}).get().value();
  return troupe::child_endpoint<A>(kids.at(i));
}

int run() {
  troupe::sim::runtime rt;
  std::map<std::string, int> births;
  troupe::system sys(rt.config());

  troupe::supervisor_spec feeds;
  feeds.strategy = troupe::supervision_strategy::one_for_all;
  feeds.intensity = {2, 10s};  // a third restart within 10 s gives up
  feeds.backoff.initial = 50ms;
  feeds.children.push_back(troupe::child_spec::of<feed>("reader", troupe::restart_policy::permanent,
                                                        std::string("reader"), &births));
  feeds.children.push_back(troupe::child_spec::of<feed>("parser", troupe::restart_policy::transient,
                                                        std::string("parser"), &births));
  feeds.on_event = printer("feeds", &rt);

  troupe::supervisor_spec root;
  root.backoff.initial = 100ms;
  root.children.push_back(
      troupe::child_spec::of<store>("store", troupe::restart_policy::permanent));
  root.children.push_back(troupe::child_spec::of<troupe::supervisor>(
      "feeds", troupe::restart_policy::permanent, feeds));
  root.on_event = printer("root", &rt);

  std::printf("starting the tree\n");
  auto top = sys.spawn<troupe::supervisor>(root).value();
  auto db = child<store>(top, 0);
  auto sub = child<troupe::supervisor>(top, 1);
  check(db && sub, "the root's children have the expected types");

  std::printf("\na crash in the store\n");
  db.tell(put{"alice", "admin"});
  auto crashed = db.ask(get{"poison"});
  db.tell(put{"bob", "guest"});  // sent while the store waits for its restart
  rt.advance(1s);
  check(crashed.get().error().code() == troupe::errc::handler_failed,
        "the ask being handled ends with handler_failed");
  check(db.ask(get{"bob"}).get().value() == "guest",
        "a message sent during the backoff reached the new store");
  check(db.ask(get{"alice"}).get().value() == "<none>", "the new store starts empty");

  std::printf("\na crash in one feed restarts both (one_for_all)\n");
  auto parser = child<feed>(sub, 1);
  parser.tell(crash{});
  rt.advance(1s);
  check(births["reader"] == 2 && births["parser"] == 2, "reader and parser were both restarted");
  check(parser.ask(generation{}).get().value() == 2,
        "the parser's old endpoint reaches generation 2");

  std::printf("\nthe parser crashes twice more: feeds gives up, the root restarts it\n");
  parser.tell(crash{});
  rt.advance(1s);
  parser.tell(crash{});
  rt.advance(1s);
  auto sub2 = child<troupe::supervisor>(top, 1);
  auto parser2 = child<feed>(sub2, 1);
  check(sub2 == sub, "the feeds supervisor kept its endpoint across its restart");
  check(parser2.ask(generation{}).get().value() == 4,
        "a fresh subtree runs generation 4 of the parser");
  check(db.ask(get{"bob"}).get().value() == "guest",
        "the store was not touched (one_for_one at the root)");

  std::printf("\nshutting down\n");
  check(sys.shutdown(5s).clean(), "the tree shuts down cleanly");
  std::printf("\n%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace example

int main() { return example::run(); }
