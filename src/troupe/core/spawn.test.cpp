#include "troupe/core/spawn.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "troupe/core/registry.hpp"
#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

namespace spawn_test {

using namespace std::chrono_literals;

struct add {
  static constexpr std::string_view type_name = "test.add";
  int n;
};
struct total {
  using reply = int;
  static constexpr std::string_view type_name = "test.total";
};

class summer : public troupe::actor<summer> {
 public:
  using handles = troupe::handles<add, total>;
  summer(std::vector<std::string>* log, bool refuse = false) : log_(log), refuse_(refuse) {}
  bool on_start() {
    log_->push_back("on_start");
    return !refuse_;
  }
  void post_start() { log_->push_back("post_start"); }
  void handle(add m) {
    log_->push_back("add " + std::to_string(m.n));
    sum_ += m.n;
  }
  int handle(total) { return sum_; }
  void post_stop(const troupe::exit_reason&) { log_->push_back("post_stop"); }

 private:
  std::vector<std::string>* log_;
  bool refuse_;
  int sum_ = 0;
};

TEST(prepare, a_prepared_actor_queues_until_started) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto p = sys.prepare_with<summer>(troupe::spawn_options{.name = "sum"}, &log).value();
  p.ep.tell(add{1});
  p.ep.tell(add{2});
  auto t = p.ep.ask(total{});
  rt.advance(1s);
  EXPECT_TRUE(log.empty());  // nothing ran, not even on_start
  EXPECT_FALSE(t.ready());
  EXPECT_TRUE(sys.registry().lookup<summer>("sum"));  // but it is registered
  ASSERT_TRUE(p.ready.start());
  EXPECT_FALSE(p.ready.pending());
  EXPECT_EQ(t.get().value(), 3);
  EXPECT_EQ(log, (std::vector<std::string>{"on_start", "post_start", "add 1", "add 2"}));
  EXPECT_EQ(p.ready.start().error().code(), troupe::errc::invalid_argument);  // only once
}

TEST(prepare, dropping_the_handle_unstarted_discards_the_actor) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  troupe::response<int> t = [&] {
    auto p = sys.prepare_with<summer>(troupe::spawn_options{.name = "sum"}, &log).value();
    p.ep.tell(add{1});
    return p.ep.ask(total{});
  }();  // the ready handle is dropped here
  rt.run();
  EXPECT_EQ(t.get().error().code(), troupe::errc::actor_not_found);
  EXPECT_TRUE(log.empty());  // no hook ran
  EXPECT_EQ(sys.live_actors(), 0u);
  EXPECT_FALSE(sys.registry().lookup<summer>("sum"));
  EXPECT_TRUE(
      sys.spawn_with<summer>(troupe::spawn_options{.name = "sum"}, &log));  // name free again
}

TEST(prepare, a_refusing_on_start_discards_it_at_start) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto p = sys.prepare<summer>(&log, true).value();
  auto t = p.ep.ask(total{});
  auto r = p.ready.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), troupe::errc::start_failed);
  rt.run();
  EXPECT_EQ(t.get().error().code(), troupe::errc::actor_not_found);
  EXPECT_EQ(log, (std::vector<std::string>{"on_start"}));
  EXPECT_EQ(sys.live_actors(), 0u);
}

TEST(prepare, shutdown_discards_actors_not_started) {
  troupe::sim::runtime rt;
  std::vector<std::string> log;
  troupe::system sys(rt.config());
  auto p = sys.prepare<summer>(&log).value();
  auto t = p.ep.ask(total{});
  EXPECT_TRUE(sys.shutdown(1s).clean());
  EXPECT_EQ(t.get().error().code(), troupe::errc::actor_not_found);
  EXPECT_EQ(p.ready.start().error().code(), troupe::errc::shutting_down);
  EXPECT_TRUE(log.empty());
}

TEST(prepare, works_on_real_threads) {
  std::vector<std::string> log;
  troupe::system sys(troupe::system_config{.workers = 2});
  auto p = sys.prepare<summer>(&log).value();
  for (int i = 1; i <= 100; ++i) p.ep.tell(add{i});
  ASSERT_TRUE(p.ready.start());
  EXPECT_EQ(p.ep.ask(total{}).get().value(), 5050);
}

}  // namespace spawn_test
