// Example 2: handler coroutines.
//
// A `combiner` handles `combine{a, b}` with a coroutine: it asks an adder for
// a + b and a multiplier for a * b (both asks in flight at once), sleeps for
// 10 ms, then awaits both replies and returns their sum. The same actors run
// twice: on the deterministic runtime (virtual time, one thread) and on the
// real thread pool. The program exits non-zero on any mismatch.

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/sim/runtime.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

// Named, not anonymous: clang warns about the unused type_name of messages in
// an anonymous namespace (the local runtime does not read it yet).
namespace example {

struct add {
  using reply = int;
  static constexpr std::string_view type_name = "example.add";
  int a;
  int b;
};

struct multiply {
  using reply = int;
  static constexpr std::string_view type_name = "example.multiply";
  int a;
  int b;
};

struct combine {
  using reply = int;
  static constexpr std::string_view type_name = "example.combine";
  int a;
  int b;
};

class adder : public troupe::actor<adder> {
 public:
  using handles = troupe::handles<add>;
  int handle(const add& m) { return m.a + m.b; }
};

class multiplier : public troupe::actor<multiplier> {
 public:
  using handles = troupe::handles<multiply>;
  int handle(const multiply& m) { return m.a * m.b; }
};

// Reentrant = false (the default): while one combine is suspended, the next
// waits in the mailbox. Reentrant = true: suspended combines interleave.
template <bool Reentrant>
class combiner : public troupe::actor<combiner<Reentrant>> {
 public:
  using handles = troupe::handles<combine>;
  static constexpr bool reentrant = Reentrant;

  combiner(troupe::endpoint<adder> a, troupe::endpoint<multiplier> m)
      : adder_(std::move(a)), multiplier_(std::move(m)) {}

  troupe::task<int> handle(combine m) {
    // Build messages in named locals, never inside a co_await expression.
    add sum_request{m.a, m.b};
    multiply product_request{m.a, m.b};
    troupe::response<int> sum = adder_.ask(sum_request);
    troupe::response<int> product = multiplier_.ask(product_request);
    co_await this->sleep_for(10ms);  // both asks are in flight meanwhile
    int s = co_await value_of(sum, "add");
    int p = co_await value_of(product, "multiply");
    co_return s + p;
  }

 private:
  // A helper coroutine: awaiting a task runs it inside the caller's turn. An
  // error becomes an exception, which fails the handler (its ask ends with
  // handler_failed, carrying the text).
  static troupe::task<int> value_of(troupe::response<int>& pending, const char* what) {
    troupe::result<int> r = co_await pending;
    if (!r) throw std::runtime_error(std::string(what) + " failed: " + r.error().message());
    co_return *r;
  }

  troupe::endpoint<adder> adder_;
  troupe::endpoint<multiplier> multiplier_;
};

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

long long ms(troupe::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Sends three combines at once and checks every reply. Returns the time the
// three took on the system's clock.
template <bool Reentrant>
troupe::duration three_combines(troupe::system& sys) {
  auto adder_ep = sys.spawn<adder>().value();
  auto multiplier_ep = sys.spawn<multiplier>().value();
  auto c = sys.spawn<combiner<Reentrant>>(adder_ep, multiplier_ep).value();

  const troupe::time_point start = sys.time().now();
  std::vector<combine> inputs = {{2, 3}, {4, 5}, {10, -1}};
  std::vector<troupe::response<int>> replies;
  for (const combine& in : inputs) replies.push_back(c.ask(in));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    troupe::result<int> r = replies[i].get();
    const int want = (inputs[i].a + inputs[i].b) + (inputs[i].a * inputs[i].b);
    check(r && *r == want, "combine{" + std::to_string(inputs[i].a) + ", " +
                               std::to_string(inputs[i].b) +
                               "} = " + (r ? std::to_string(*r) : r.error().message()) + " (want " +
                               std::to_string(want) + ")");
  }
  return sys.time().now() - start;
}

void on_the_deterministic_runtime() {
  std::printf("deterministic runtime (virtual time, one thread):\n");
  {
    troupe::sim::runtime rt(42);
    troupe::system sys(rt.config());
    // get() drives the runtime: it runs ready actors and moves virtual time
    // from timer to timer until the reply is there.
    troupe::duration took = three_combines<false>(sys);
    check(took == 30ms, "one at a time: 3 x 10 ms sleeps took " + std::to_string(ms(took)) +
                            " ms of virtual time (want 30)");
  }
  {
    troupe::sim::runtime rt(42);
    troupe::system sys(rt.config());
    troupe::duration took = three_combines<true>(sys);
    check(took == 10ms, "reentrant: 3 overlapping 10 ms sleeps took " + std::to_string(ms(took)) +
                            " ms of virtual time (want 10)");
  }
  {
    // When a helper is gone, its ask ends with actor_not_found; the helper
    // coroutine turns that into an exception, so the combine ends with
    // handler_failed and the combiner fails.
    troupe::sim::runtime rt(42);
    troupe::system sys(rt.config());
    auto adder_ep = sys.spawn<adder>().value();
    auto multiplier_ep = sys.spawn<multiplier>().value();
    auto c = sys.spawn<combiner<false>>(adder_ep, multiplier_ep).value();
    multiplier_ep.stop();
    rt.run();
    troupe::result<int> r = c.ask(combine{1, 2}).get();
    check(!r && r.error() == troupe::errc::handler_failed,
          "with the multiplier stopped: " + (r ? std::to_string(*r) : r.error().message()));
    troupe::result<int> after = c.ask(combine{1, 2}).get();
    check(!after && after.error() == troupe::errc::actor_not_found,
          "the failed combiner is gone: " +
              (after ? std::to_string(*after) : after.error().message()));
  }
}

void on_the_thread_pool() {
  std::printf("real thread pool (2 workers, steady clock):\n");
  {
    troupe::system sys(troupe::system_config{.workers = 2});
    troupe::duration took = three_combines<false>(sys);
    // Timers never fire early, so three sleeps in a row take at least 30 ms.
    check(took >= 30ms, "one at a time: took at least 30 ms");
    check(sys.shutdown(5s).clean(), "clean shutdown");
  }
  {
    troupe::system sys(troupe::system_config{.workers = 2});
    (void)three_combines<true>(sys);
    check(sys.shutdown(5s).clean(), "clean shutdown");
  }
}

}  // namespace example

int main() {
  using namespace example;
  on_the_deterministic_runtime();
  on_the_thread_pool();
  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
