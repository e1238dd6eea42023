// troupe: N:1 fan-in. 8 sender actors each tell 2,000,000 ints to one
// counting actor. A sender sends 1,000 messages per handler invocation and
// then tells itself `next`, so it never holds a worker for its whole run. The
// figure is messages per second until the counter has seen all of them.
//
// usage: bench_local_fanin_troupe [per_sender=2000000] [workers=hardware threads]
// (n in the RESULT line is the total: 8 * per_sender)

#include <algorithm>
#include <future>
#include <vector>

#include <troupe/troupe.hpp>

#include "bench_common.hpp"

namespace {

constexpr std::size_t senders = 8;
constexpr std::size_t chunk = 1'000;

struct value {
  static constexpr std::string_view type_name = "bench.value";
  int v;
};

class counter : public troupe::actor<counter> {
 public:
  using handles = troupe::handles<value>;
  counter(std::size_t total, std::promise<void>* done) : total_(total), done_(done) {}
  void handle(value) {
    if (++seen_ == total_) done_->set_value();
  }

 private:
  std::size_t total_;
  std::size_t seen_ = 0;
  std::promise<void>* done_;
};

struct next {
  static constexpr std::string_view type_name = "bench.next";
};

class sender : public troupe::actor<sender> {
 public:
  using handles = troupe::handles<next>;
  sender(troupe::endpoint<counter> sink, std::size_t count)
      : sink_(std::move(sink)), left_(count) {}
  void handle(next) {
    auto burst = std::min(chunk, left_);
    for (std::size_t i = 0; i < burst; ++i) sink_.tell(value{static_cast<int>(i)});
    left_ -= burst;
    if (left_ > 0) {
      self().tell(next{});
    } else {
      stop();
    }
  }

 private:
  troupe::endpoint<counter> sink_;
  std::size_t left_;
};

}  // namespace

int main(int argc, char** argv) {
  auto per_sender = bench::arg_or(argc, argv, 1, 2'000'000);
  auto workers = bench::arg_or(argc, argv, 2, bench::default_workers());
  auto total = senders * per_sender;
  troupe::system sys(troupe::system_config{.workers = workers});
  std::promise<void> done;
  auto finished = done.get_future();
  auto sink = sys.spawn<counter>(total, &done).value();
  std::vector<troupe::endpoint<sender>> sources;
  for (std::size_t i = 0; i < senders; ++i)
    sources.push_back(sys.spawn<sender>(sink, per_sender).value());
  auto start = bench::steady::now();
  for (auto& s : sources) s.tell(next{});
  finished.wait();
  auto seconds = bench::seconds_since(start);
  bench::print_result("local_fanin", "troupe", total, seconds,
                      " workers=" + std::to_string(workers));
}
