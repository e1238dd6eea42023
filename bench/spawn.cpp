// troupe: spawn an actor, tell it one message, it stops; N times from the
// main thread, with at most 100 actors in flight.
//
// usage: bench_spawn_troupe [n=1000000] [workers=hardware threads]

#include <semaphore>

#include <troupe/troupe.hpp>

#include "bench_common.hpp"

namespace {

constexpr std::ptrdiff_t max_in_flight = 100;
using in_flight_limit = std::counting_semaphore<max_in_flight>;

struct job {
  static constexpr std::string_view type_name = "bench.job";
  int i;
};

class one_shot : public troupe::actor<one_shot> {
 public:
  using handles = troupe::handles<job>;
  explicit one_shot(in_flight_limit* slots) : slots_(slots) {}
  void handle(job) {
    slots_->release();
    stop();
  }

 private:
  in_flight_limit* slots_;
};

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  troupe::system sys(troupe::system_config{.workers = workers});
  in_flight_limit slots{max_in_flight};
  auto start = bench::steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    slots.acquire();
    auto worker = sys.spawn<one_shot>(&slots).value();
    worker.tell(job{static_cast<int>(i)});
  }
  for (int i = 0; i < max_in_flight; ++i) slots.acquire();
  auto seconds = bench::seconds_since(start);
  bench::print_result("spawn", "troupe", n, seconds, " workers=" + std::to_string(workers));
}
