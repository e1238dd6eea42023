#include <gtest/gtest.h>

#include <string>

#include "troupe/core/receptionist.hpp"
#include "troupe/core/router.hpp"
#include "troupe/sim/runtime.hpp"

namespace router_follow_test {

struct whoami {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.whoami";
};

class named : public troupe::actor<named> {
 public:
  using handles = troupe::handles<whoami>;
  explicit named(std::string n) : n_(std::move(n)) {}
  std::string handle(whoami) { return n_; }

 private:
  std::string n_;
};

TEST(router_follow, a_router_follows_a_reception_key) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::reception_key<named> key{"svc"};
  auto a = sys.spawn<named>(std::string("a")).value();
  ASSERT_TRUE(sys.receptionist().check_in("svc/a", a, key));
  troupe::router<named> r(sys, troupe::routing::round_robin);
  {
    auto following = r.follow(sys.receptionist(), key);
    ASSERT_TRUE(following);
    EXPECT_EQ(r.size(), 1u);  // the current member joined at once

    auto b = sys.spawn<named>(std::string("b")).value();
    ASSERT_TRUE(sys.receptionist().check_in("svc/b", b, key));
    EXPECT_EQ(r.size(), 2u);  // a later check-in joins
    std::string first = r.ask(whoami{}).get().value();
    std::string second = r.ask(whoami{}).get().value();
    EXPECT_NE(first, second);  // round robin over both

    ASSERT_TRUE(sys.receptionist().check_out("svc/a"));
    EXPECT_EQ(r.size(), 1u);  // a check-out leaves
    b.stop();
    rt.run();
    EXPECT_EQ(r.size(), 0u);  // an ended actor leaves
    EXPECT_EQ(r.ask(whoami{}).get().error().code(), troupe::errc::no_route);
  }  // following ends here
  auto c = sys.spawn<named>(std::string("c")).value();
  ASSERT_TRUE(sys.receptionist().check_in("svc/c", c, key));
  EXPECT_EQ(r.size(), 0u);  // no longer followed
}

/// Checks itself in from its own on_start, through the actor's accessor.
class self_announcing : public troupe::actor<self_announcing> {
 public:
  using handles = troupe::handles<whoami>;
  explicit self_announcing(std::string n) : n_(std::move(n)) {}
  troupe::result<void> on_start() {
    auto r = receptionist().check_in("auto/" + n_, self(),
                                     troupe::reception_key<self_announcing>{"auto"});
    if (!r) return r.error();
    return {};
  }
  std::string handle(whoami) { return n_; }

 private:
  std::string n_;
};

TEST(router_follow, actors_that_announce_themselves_join_a_following_router) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::router<self_announcing> r(sys, troupe::routing::broadcast);
  auto following = r.follow(sys.receptionist(), troupe::reception_key<self_announcing>{"auto"});
  ASSERT_TRUE(following);
  auto x = sys.spawn<self_announcing>(std::string("x")).value();
  auto y = sys.spawn<self_announcing>(std::string("y")).value();
  EXPECT_EQ(r.size(), 2u);
  auto dup = sys.spawn<self_announcing>(std::string("x"));  // label taken: on_start refuses
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), troupe::errc::start_failed);
  EXPECT_EQ(r.size(), 2u);
}

TEST(router_follow, an_invalid_key_is_refused) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::router<named> r(sys, troupe::routing::random);
  auto bad = r.follow(sys.receptionist(), troupe::reception_key<named>{"/bad/"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), troupe::errc::invalid_name);
}

}  // namespace router_follow_test
