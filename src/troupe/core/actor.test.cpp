#include "troupe/core/actor.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

namespace {

using namespace std::chrono_literals;

struct greet {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.greet";
  std::string name;
};

struct add {
  static constexpr std::string_view type_name = "test.add";
  int n;
};

struct get_total {
  using reply = int;
  static constexpr std::string_view type_name = "test.get_total";
};

struct boom {
  using reply = int;
  static constexpr std::string_view type_name = "test.boom";
};

class greeter : public troupe::actor<greeter> {
 public:
  using handles = troupe::handles<greet, add, get_total, boom>;
  explicit greeter(std::string greeting, std::vector<std::string>* log = nullptr)
      : greeting_(std::move(greeting)), log_(log) {}

  std::string handle(const greet& m) { return greeting_ + ", " + m.name + "!"; }
  void handle(const add& m) { total_ += m.n; }
  int handle(get_total) { return total_; }
  int handle(boom) { throw std::runtime_error("kaboom"); }

  void post_start() {
    if (log_) log_->push_back("post_start");
  }
  void post_stop(const troupe::exit_reason& r) {
    if (log_) log_->push_back("post_stop " + r.to_string());
  }

 private:
  std::string greeting_;
  std::vector<std::string>* log_;
  int total_ = 0;
};

TEST(actor, asks_and_tells_on_the_deterministic_runtime) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto g = sys.spawn<greeter>("Hello").value();
  auto r = g.ask(greet{"world"});
  EXPECT_FALSE(r.ready());  // nothing runs until the runtime is driven
  rt.run();
  ASSERT_TRUE(r.ready());
  EXPECT_EQ(r.get().value(), "Hello, world!");
  for (int i = 1; i <= 10; ++i) EXPECT_TRUE(g.tell(add{i}).ok());
  EXPECT_EQ(g.ask(get_total{}).get().value(), 55);
}

TEST(actor, hooks_run_in_order_and_a_throwing_handler_fails_the_actor) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<std::string> log;
  auto g = sys.spawn<greeter>("Hi", &log).value();
  auto failed = g.ask(boom{});
  auto after = g.ask(get_total{});
  rt.run();
  ASSERT_FALSE(failed.get().has_value());
  EXPECT_EQ(failed.get().error().code(), troupe::errc::handler_failed);
  EXPECT_EQ(after.get().error().code(), troupe::errc::actor_not_found);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], "post_start");
  EXPECT_EQ(log[1], "post_stop failed: kaboom");
  EXPECT_EQ(sys.live_actors(), 0u);
  EXPECT_EQ(g.ask(get_total{}).get().error().code(), troupe::errc::actor_not_found);
  auto before = sys.dead_letters();
  EXPECT_FALSE(g.tell(add{1}).ok());
  EXPECT_EQ(sys.dead_letters(), before + 1);
}

TEST(actor, real_threads_round_trip) {
  troupe::system sys(troupe::system_config{.workers = 2});
  auto g = sys.spawn<greeter>("Hello").value();
  EXPECT_EQ(g.ask(greet{"threads"}).get().value(), "Hello, threads!");
  for (int i = 0; i < 1000; ++i) g.tell(add{1});
  EXPECT_EQ(g.ask(get_total{}).get().value(), 1000);
  EXPECT_TRUE(sys.shutdown(5s).clean());
}

}  // namespace
