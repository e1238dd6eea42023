#include "troupe/core/registry.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "troupe/core/system.hpp"
#include "troupe/core/testing/discovery_actors.hpp"
#include "troupe/sim/runtime.hpp"

namespace registry_test {

using troupe::errc;

using troupe::testing::crash;
using troupe::testing::other;
using troupe::testing::ping;
using troupe::testing::quit;
struct name_me {
  using reply = bool;
  static constexpr std::string_view type_name = "test.name_me";
  std::string name;
};

class server : public troupe::actor<server> {
 public:
  using handles = troupe::handles<crash, quit, ping, name_me>;
  void handle(crash) { throw std::runtime_error("crashed"); }
  void handle(quit) { stop(); }
  int handle(ping) { return 1; }
  // Registers itself from inside its own turn.
  bool handle(const name_me& m) {
    return static_cast<bool>(self().handle()->core().registry().add(m.name, self()));
  }
};

/// Refuses to start when told to.
class picky : public troupe::actor<picky> {
 public:
  using handles = troupe::handles<ping>;
  explicit picky(int* post_stops) : post_stops_(post_stops) {}
  int handle(ping) { return 3; }
  void post_stop(const troupe::exit_reason&) { ++*post_stops_; }

 private:
  int* post_stops_;
};

TEST(registry, registers_and_looks_up_with_the_type) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto s = sys.spawn<server>().value();
  auto stamp = sys.registry().add("db", s);
  ASSERT_TRUE(stamp);
  EXPECT_EQ(stamp->origin, troupe::local_origin);
  auto found = sys.registry().lookup<server>("db");
  ASSERT_TRUE(found);
  EXPECT_EQ(found, s);
  EXPECT_EQ(found.ask(ping{}).get().value(), 1);
  auto entry = sys.registry().find("db");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->id, s.id());
  EXPECT_EQ(entry->stamp, *stamp);
  EXPECT_TRUE(entry->type.matches(troupe::actor_type::of<server>()));
  EXPECT_FALSE(sys.registry().lookup<server>("nope"));
}

TEST(registry, a_lookup_with_the_wrong_type_is_empty) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto s = sys.spawn<server>().value();
  ASSERT_TRUE(sys.registry().add("db", s));
  EXPECT_FALSE(sys.registry().lookup<other>("db"));
  EXPECT_TRUE(sys.registry().lookup<server>("db"));
  EXPECT_TRUE(sys.registry().contains("db"));
}

TEST(registry, a_duplicate_name_is_rejected_with_name_taken) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  auto b = sys.spawn<other>().value();
  ASSERT_TRUE(sys.registry().add("db", a));
  auto again = sys.registry().add("db", b);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::name_taken);
  EXPECT_EQ(sys.registry().add("db", a).error(), errc::name_taken);  // even the same actor
  EXPECT_EQ(sys.registry().lookup<server>("db"), a);
  // An actor may have several names.
  EXPECT_TRUE(sys.registry().add("db/primary", a));
  EXPECT_EQ(sys.registry().size(), 2u);
}

TEST(registry, malformed_names_and_empty_endpoints_are_rejected) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  EXPECT_EQ(sys.registry().add("", a).error(), errc::invalid_name);
  EXPECT_EQ(sys.registry().add("tab\there", a).error(), errc::invalid_name);
  EXPECT_EQ(sys.registry().add(std::string(256, 'x'), a).error(), errc::invalid_name);
  EXPECT_TRUE(sys.registry().add(std::string(255, 'x'), a));
  EXPECT_EQ(sys.registry().add("empty", troupe::endpoint<server>{}).error(), errc::actor_not_found);
  troupe::sim::runtime rt2;
  troupe::system other_sys(rt2.config());
  auto foreign = other_sys.spawn<server>().value();
  EXPECT_EQ(sys.registry().add("foreign", foreign).error(), errc::invalid_argument);
  EXPECT_EQ(sys.registry().size(), 1u);
}

TEST(registry, an_entry_goes_when_its_actor_ends_however_it_ends) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  auto b = sys.spawn<server>().value();
  auto c = sys.spawn<server>().value();
  ASSERT_TRUE(sys.registry().add("a", a));
  ASSERT_TRUE(sys.registry().add("a2", a));
  ASSERT_TRUE(sys.registry().add("b", b));
  ASSERT_TRUE(sys.registry().add("c", c));
  rt.run();
  a.tell(quit{});
  b.kill();
  c.tell(crash{});
  rt.run();
  EXPECT_EQ(sys.registry().size(), 0u);
  EXPECT_FALSE(sys.registry().lookup<server>("a"));
  // The name is free again.
  auto d = sys.spawn<server>().value();
  EXPECT_TRUE(sys.registry().add("a", d));
  EXPECT_EQ(sys.registry().lookup<server>("a"), d);
}

TEST(registry, registering_an_actor_that_has_ended_fails_and_leaves_nothing) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  a.kill();
  rt.run();
  auto r = sys.registry().add("late", a);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::actor_not_found);
  EXPECT_FALSE(sys.registry().contains("late"));
}

TEST(registry, a_stale_removal_never_evicts_a_newer_registration) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto old_actor = sys.spawn<server>().value();
  auto new_actor = sys.spawn<server>().value();
  auto old_stamp = sys.registry().add("svc", old_actor).value();
  EXPECT_TRUE(sys.registry().remove("svc"));
  auto new_stamp = sys.registry().add("svc", new_actor).value();
  EXPECT_GT(new_stamp.version, old_stamp.version);
  // The old registration's removal comes late: it names its own stamp.
  EXPECT_FALSE(sys.registry().remove("svc", old_stamp));
  EXPECT_EQ(sys.registry().lookup<server>("svc"), new_actor);
  // The old actor's end changes nothing either.
  old_actor.kill();
  rt.run();
  EXPECT_EQ(sys.registry().lookup<server>("svc"), new_actor);
  EXPECT_TRUE(sys.registry().remove("svc", new_stamp));
  EXPECT_FALSE(sys.registry().remove("svc"));
}

TEST(registry, an_explicit_removal_also_drops_the_watch) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(sys.registry().add("cycle", a));
    ASSERT_TRUE(sys.registry().remove("cycle"));
  }
  // Nothing is left on the actor: a later registration is removed exactly
  // once when it ends, and the registry is empty.
  ASSERT_TRUE(sys.registry().add("cycle", a));
  a.kill();
  rt.run();
  EXPECT_EQ(sys.registry().size(), 0u);
}

TEST(registry, versions_grow_with_every_registration) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  auto s1 = sys.registry().add("x", a).value();
  auto s2 = sys.registry().add("y", a).value();
  EXPECT_LT(s1.version, s2.version);
  auto names = sys.registry().names();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], "x");
  EXPECT_EQ(names[1], "y");
  auto all = sys.registry().entries();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].stamp, s2);
}

TEST(registry, an_actor_registers_itself_from_its_own_turn) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  EXPECT_TRUE(a.ask(name_me{"me"}).get().value());
  EXPECT_FALSE(a.ask(name_me{"me"}).get().value());  // taken (by itself)
  EXPECT_EQ(sys.registry().lookup<server>("me"), a);
}

TEST(registry, spawn_registers_the_name_before_the_actor_runs) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::spawn_options opts;
  opts.name = "main";
  auto a = sys.spawn_with<server>(opts);
  ASSERT_TRUE(a);
  EXPECT_EQ(sys.registry().lookup<server>("main"), *a);  // before rt.run()
  // The same name again fails the spawn; the second actor is discarded
  // without post_stop and leaves nothing behind.
  int post_stops = 0;
  auto b = sys.spawn_with<picky>(opts, &post_stops);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), errc::name_taken);
  rt.run();
  EXPECT_EQ(post_stops, 0);
  EXPECT_EQ(sys.live_actors(), 1u);
  EXPECT_EQ(sys.registry().lookup<server>("main"), *a);
  opts.name = "bad\nname";
  EXPECT_EQ(sys.spawn_with<server>(opts).error(), errc::invalid_name);
  EXPECT_EQ(sys.live_actors(), 1u);
}

TEST(registry, a_label_that_fails_at_spawn_takes_the_name_back) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::spawn_options opts;
  opts.name = "n";
  opts.label = "not a label";
  auto a = sys.spawn_with<server>(opts);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), errc::invalid_name);
  EXPECT_FALSE(sys.registry().contains("n"));
  EXPECT_EQ(sys.live_actors(), 0u);
}

TEST(registry, shutdown_empties_it) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<server>().value();
  ASSERT_TRUE(sys.registry().add("a", a));
  sys.shutdown(std::chrono::seconds(1));
  EXPECT_EQ(sys.registry().size(), 0u);
}

}  // namespace registry_test
