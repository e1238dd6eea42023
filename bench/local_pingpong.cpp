// troupe: local request/response ping-pong between two actors.
//
// The pinger's handler is a coroutine that asks the ponger N times in a row,
// awaiting each reply before sending the next ask. The figure is round trips
// per second over the whole chain.
//
// usage: bench_local_pingpong_troupe [n=1000000] [workers=hardware threads]

#include <troupe/troupe.hpp>

#include "bench_common.hpp"

namespace {

struct ping {
  using reply = int;
  static constexpr std::string_view type_name = "bench.ping";
  int i;
};

class ponger : public troupe::actor<ponger> {
 public:
  using handles = troupe::handles<ping>;
  int handle(const ping& p) { return p.i; }
};

struct run {
  using reply = int;
  static constexpr std::string_view type_name = "bench.run";
  int n;
};

class pinger : public troupe::actor<pinger> {
 public:
  using handles = troupe::handles<run>;
  explicit pinger(troupe::endpoint<ponger> buddy) : buddy_(std::move(buddy)) {}

  troupe::task<int> handle(run r) {
    int done = 0;
    for (int i = 0; i < r.n; ++i) {
      troupe::result<int> reply = co_await buddy_.ask(ping{i});
      if (!reply || *reply != i) co_return done;
      ++done;
    }
    co_return done;
  }

 private:
  troupe::endpoint<ponger> buddy_;
};

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  troupe::system sys(
      troupe::system_config{.workers = workers, .default_ask_timeout = std::chrono::seconds(600)});
  auto buddy = sys.spawn<ponger>().value();
  auto p = sys.spawn<pinger>(buddy).value();
  auto start = bench::steady::now();
  auto done = p.ask(run{static_cast<int>(n)}).get();
  auto seconds = bench::seconds_since(start);
  if (!done || static_cast<std::size_t>(*done) != n) {
    std::fprintf(stderr, "pingpong: only %d round trips completed\n", done ? *done : -1);
    return 1;
  }
  bench::print_result("local_pingpong", "troupe", n, seconds,
                      " workers=" + std::to_string(workers));
}
