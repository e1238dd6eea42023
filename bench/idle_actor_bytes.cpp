// troupe: memory per idle actor. Spawns N actors that do nothing, waits until
// each has run its post_start on the pool, and reports the growth of the
// resident set divided by N (endpoint storage included).
//
// usage: bench_idle_actor_bytes_troupe [n=1000000] [workers=hardware threads]

#include <atomic>
#include <thread>
#include <vector>

#include <troupe/troupe.hpp>

#include "bench_common.hpp"

namespace {

struct poke {
  static constexpr std::string_view type_name = "bench.poke";
};

class idle : public troupe::actor<idle> {
 public:
  using handles = troupe::handles<poke>;
  explicit idle(std::atomic<std::size_t>* ready) : ready_(ready) {}
  void post_start() { ready_->fetch_add(1, std::memory_order_relaxed); }
  void handle(poke) {}

 private:
  std::atomic<std::size_t>* ready_;
};

}  // namespace

int main(int argc, char** argv) {
  auto n = bench::arg_or(argc, argv, 1, 1'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  troupe::system sys(troupe::system_config{.workers = workers});
  // Resize then clear, so the endpoint storage is resident before the baseline.
  std::vector<troupe::endpoint<idle>> handles(n);
  handles.clear();
  std::atomic<std::size_t> ready{0};
  auto rss_before = bench::rss_bytes();
  auto start = bench::steady::now();
  for (std::size_t i = 0; i < n; ++i) handles.push_back(sys.spawn<idle>(&ready).value());
  while (ready.load(std::memory_order_relaxed) < n)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  auto seconds = bench::seconds_since(start);
  auto growth = static_cast<double>(bench::rss_bytes() - rss_before);
  bench::print_result("idle_actor_bytes", "troupe", n, seconds,
                      " bytes=" + std::to_string(static_cast<long>(growth / n)) +
                          " workers=" + std::to_string(workers));
}
