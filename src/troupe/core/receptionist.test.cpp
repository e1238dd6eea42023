#include "troupe/core/receptionist.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/core/system.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/testing/discovery_actors.hpp"
#include "troupe/sim/runtime.hpp"

namespace receptionist_test {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::listing_change;

using troupe::testing::crash;
using troupe::testing::other;
using troupe::testing::ping;
using troupe::testing::quit;
using troupe::testing::worker;

/// Records the listing events it receives: "+label" / "-label".
class watcher : public troupe::actor<watcher> {
 public:
  using handles = troupe::handles<troupe::listing_event<worker>, quit>;
  explicit watcher(std::vector<std::string>* log) : log_(log) {}
  void handle(const troupe::listing_event<worker>& e) {
    log_->push_back((e.what == listing_change::added ? "+" : "-") + e.label);
  }
  void handle(quit) { stop(); }

 private:
  std::vector<std::string>* log_;
};

struct follow {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.follow";
  int count;
  troupe::duration timeout;
};

/// Reads a listing inside a handler coroutine.
class follower : public troupe::actor<follower> {
 public:
  using handles = troupe::handles<follow>;
  troupe::task<std::string> handle(follow m) {
    troupe::reception_key<worker> key{"workers"};
    troupe::listing<worker> l = self().handle()->core().receptionist().subscribe(key).value();
    std::string seen;
    for (int i = 0; i < m.count; ++i) {
      troupe::result<troupe::listing_event<worker>> e = co_await l.next(m.timeout);
      if (!e) {
        seen += "<" + e.error().message() + ">";
        break;
      }
      seen += (e->what == listing_change::added ? "+" : "-") + e->label + " ";
    }
    co_return seen;
  }
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

const troupe::reception_key<worker> workers{"workers"};

TEST(receptionist, checks_in_and_looks_up_by_label_with_the_type) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  auto stamp = sys.receptionist().check_in("cache/user/7", w);
  ASSERT_TRUE(stamp);
  EXPECT_EQ(sys.receptionist().lookup<worker>("cache/user/7"), w);
  EXPECT_FALSE(sys.receptionist().lookup<other>("cache/user/7"));  // wrong type: empty
  EXPECT_FALSE(sys.receptionist().lookup<worker>("cache/user/8"));
  auto e = sys.receptionist().find("cache/user/7");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, w.id());
  EXPECT_EQ(e->key, "");
  EXPECT_EQ(e->vis, troupe::visibility::public_);
  EXPECT_EQ(e->stamp, *stamp);
  EXPECT_EQ(e->stamp.origin, troupe::local_origin);
}

TEST(receptionist, malformed_labels_and_keys_are_rejected) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  for (const char* bad :
       {"", "/cache", "cache/", "cache//7", "/", "cache user", "caché", "a/b\n", "a?b", "a*"}) {
    auto r = sys.receptionist().check_in(bad, w);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), errc::invalid_name) << bad;
  }
  EXPECT_EQ(sys.receptionist().check_in(std::string(256, 'a'), w).error(), errc::invalid_name);
  EXPECT_EQ(sys.receptionist().check_in("x", w, troupe::reception_key<worker>{"a//b"}).error(),
            errc::invalid_name);
  EXPECT_EQ(sys.receptionist().subscribe(troupe::reception_key<worker>{""}).error(),
            errc::invalid_name);
  EXPECT_EQ(sys.receptionist().size(), 0u);
  const std::vector<std::string> good_labels = {"cache/user/7", "a", "A.b-c_d:e/0",
                                                std::string(255, 'z')};
  for (const std::string& good : good_labels) {
    EXPECT_TRUE(sys.receptionist().check_in(good, w)) << good;
  }
  EXPECT_EQ(sys.receptionist().check_in("e", troupe::endpoint<worker>{}).error(),
            errc::actor_not_found);
}

TEST(receptionist, a_taken_label_is_rejected) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<worker>().value();
  auto b = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("svc", a));
  EXPECT_EQ(sys.receptionist().check_in("svc", b).error(), errc::name_taken);
  EXPECT_EQ(sys.receptionist().lookup<worker>("svc"), a);
}

TEST(receptionist, visibility_and_stamps_are_recorded_per_entry) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  auto s1 = sys.receptionist().check_in("p", w, troupe::visibility::private_).value();
  auto s2 = sys.receptionist().check_in("i", w, workers, troupe::visibility::internal).value();
  auto s3 = sys.receptionist().check_in("u", w, workers).value();
  EXPECT_EQ(sys.receptionist().find("p")->vis, troupe::visibility::private_);
  EXPECT_EQ(sys.receptionist().find("i")->vis, troupe::visibility::internal);
  EXPECT_EQ(sys.receptionist().find("u")->vis, troupe::visibility::public_);
  EXPECT_EQ(troupe::to_string(troupe::visibility::private_), "private");
  EXPECT_LT(s1.version, s2.version);
  EXPECT_LT(s2.version, s3.version);
  EXPECT_EQ(sys.receptionist().find("i")->key, "workers");
  auto v = sys.receptionist().versions();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (troupe::entry_stamp{troupe::local_origin, s3.version}));
}

TEST(receptionist, members_of_a_key_are_typed) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<worker>().value();
  auto b = sys.spawn<worker>().value();
  auto o = sys.spawn<other>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w/b", b, workers));
  ASSERT_TRUE(sys.receptionist().check_in("w/a", a, workers));
  ASSERT_TRUE(sys.receptionist().check_in("w/none", a));  // no key
  // A key of the same name for another type is another key.
  ASSERT_TRUE(sys.receptionist().check_in("o", o, troupe::reception_key<other>{"workers"}));
  auto m = sys.receptionist().members(workers);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], a);  // sorted by label
  EXPECT_EQ(m[1], b);
  auto mo = sys.receptionist().members(troupe::reception_key<other>{"workers"});
  ASSERT_EQ(mo.size(), 1u);
  EXPECT_EQ(mo[0], o);
  EXPECT_TRUE(sys.receptionist().members(troupe::reception_key<worker>{"idle"}).empty());
}

TEST(receptionist, an_actor_listing_sees_members_then_exactly_one_removed_per_dead_actor) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<std::string> log;
  auto w1 = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w/1", w1, workers));
  auto sub = sys.spawn<watcher>(&log).value();
  auto s = sys.receptionist().subscribe(workers, sub);
  ASSERT_TRUE(s);
  rt.run();
  EXPECT_EQ(join(log), "+w/1");  // the current member first

  auto w2 = sys.spawn<worker>().value();
  auto w3 = sys.spawn<worker>().value();
  auto w4 = sys.spawn<worker>().value();
  auto o = sys.spawn<other>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w/2", w2, workers));
  ASSERT_TRUE(sys.receptionist().check_in("w/3", w3, workers));
  ASSERT_TRUE(sys.receptionist().check_in("w/4", w4, workers));
  ASSERT_TRUE(sys.receptionist().check_in("w/plain", w4));  // not in the key
  ASSERT_TRUE(sys.receptionist().check_in("o", o, troupe::reception_key<other>{"workers"}));
  rt.run();
  EXPECT_EQ(join(log), "+w/1 +w/2 +w/3 +w/4");

  log.clear();
  w1.tell(quit{});
  w2.kill();
  w3.tell(crash{});
  EXPECT_TRUE(sys.receptionist().check_out("w/4"));  // checked out, then dies
  rt.run();
  w4.kill();
  w4.kill();
  rt.run();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0], "-w/4");  // the check-out came first; the ends in any order
  std::sort(log.begin(), log.end());
  EXPECT_EQ(join(log), "-w/1 -w/2 -w/3 -w/4");
  std::map<std::string, int> removed;
  for (const auto& e : log) ++removed[e];
  for (const auto& [label, n] : removed) EXPECT_EQ(n, 1) << label;
  EXPECT_TRUE(sys.receptionist().members(workers).empty());
  rt.advance(10s);
  EXPECT_EQ(log.size(), 4u);
}

TEST(receptionist, a_listing_stream_reads_members_then_changes) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w1 = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w/1", w1, workers));
  auto l = sys.receptionist().subscribe(workers).value();
  EXPECT_EQ(sys.receptionist().subscriptions(), 1u);
  auto first = l.next().get();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->what, listing_change::added);
  EXPECT_EQ(first->actor, w1);
  EXPECT_EQ(first->label, "w/1");
  EXPECT_EQ(first->actor.ask(ping{}).get().value(), 1);

  // Nothing yet: next() ends with timeout when its deadline passes.
  const auto before = rt.now();
  auto none = l.next(2s).get();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), errc::timeout);
  EXPECT_EQ(rt.now() - before, 2s);

  // A pending next() gets the next change.
  auto pending = l.next(5s);
  auto w2 = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w/2", w2, workers));
  ASSERT_TRUE(pending.ready());
  EXPECT_EQ(pending.get()->label, "w/2");

  w1.kill();
  rt.run();
  w2.kill();
  rt.run();
  EXPECT_EQ(l.buffered(), 2u);
  auto r1 = l.try_next();
  auto r2 = l.try_next();
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ(r1->what, listing_change::removed);
  EXPECT_EQ(r1->label, "w/1");
  EXPECT_EQ(r2->label, "w/2");
  EXPECT_FALSE(l.try_next());

  {
    auto moved = std::move(l);
    EXPECT_FALSE(l.active());
    EXPECT_TRUE(moved.active());
  }
  EXPECT_EQ(sys.receptionist().subscriptions(), 0u);  // a destroyed listing unsubscribes
}

TEST(receptionist, a_zero_timeout_polls_a_listing) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto l = sys.receptionist().subscribe(workers).value();
  const auto before = rt.now();
  auto none = l.next(troupe::duration::zero());
  ASSERT_TRUE(none.ready());
  EXPECT_EQ(none.get().error(), errc::timeout);
  auto w = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w", w, workers));
  auto some = l.next(troupe::duration::zero());
  ASSERT_TRUE(some.ready());
  EXPECT_EQ(some.get()->actor, w);
  EXPECT_EQ(rt.now(), before);
}

TEST(receptionist, a_handler_coroutine_awaits_a_listing_with_a_deadline) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w1 = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w/1", w1, workers));
  auto f = sys.spawn<follower>().value();
  auto seen = f.ask(follow{4, 1s}, 1min);
  rt.run();
  auto w2 = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w/2", w2, workers));
  rt.run();
  w1.kill();
  rt.run();
  EXPECT_FALSE(seen.ready());
  rt.advance(1s);  // the fourth next() times out
  auto got = seen.get();
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, "+w/1 +w/2 -w/1 <timeout>");
  EXPECT_EQ(sys.receptionist().subscriptions(), 0u);  // the frame's listing is gone
}

TEST(receptionist, a_subscription_ends_with_its_actor_or_by_cancel) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<std::string> log1;
  std::vector<std::string> log2;
  auto s1 = sys.spawn<watcher>(&log1).value();
  auto s2 = sys.spawn<watcher>(&log2).value();
  auto sub1 = sys.receptionist().subscribe(workers, s1).value();
  auto sub2 = sys.receptionist().subscribe(workers, s2).value();
  EXPECT_EQ(sys.receptionist().subscriptions(), 2u);
  s1.tell(quit{});
  rt.run();
  EXPECT_EQ(sys.receptionist().subscriptions(), 1u);
  sub2.cancel();
  sub2.cancel();
  EXPECT_FALSE(sub2.active());
  EXPECT_EQ(sys.receptionist().subscriptions(), 0u);
  auto w = sys.spawn<worker>().value();
  ASSERT_TRUE(sys.receptionist().check_in("w", w, workers));
  rt.run();
  EXPECT_TRUE(log1.empty());
  EXPECT_TRUE(log2.empty());
  // A subscriber that has already ended is refused.
  EXPECT_EQ(sys.receptionist().subscribe(workers, s1).error(), errc::actor_not_found);
  EXPECT_EQ(sys.receptionist().subscriptions(), 0u);
}

TEST(receptionist, a_stale_removal_never_evicts_a_newer_entry) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  std::vector<std::string> log;
  auto sub = sys.spawn<watcher>(&log).value();
  ASSERT_TRUE(sys.receptionist().subscribe(workers, sub));
  auto a = sys.spawn<worker>().value();
  auto b = sys.spawn<worker>().value();
  auto old_stamp = sys.receptionist().check_in("svc", a, workers).value();
  EXPECT_TRUE(sys.receptionist().check_out("svc"));
  auto new_stamp = sys.receptionist().check_in("svc", b, workers).value();
  EXPECT_FALSE(sys.receptionist().check_out("svc", old_stamp));
  a.kill();
  rt.run();
  EXPECT_EQ(sys.receptionist().lookup<worker>("svc"), b);
  EXPECT_EQ(join(log), "+svc -svc +svc");
  EXPECT_TRUE(sys.receptionist().check_out("svc", new_stamp));
}

TEST(receptionist, spawn_checks_in_under_the_label) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  troupe::spawn_options opts;
  opts.label = "greeter/main";
  auto a = sys.spawn_with<worker>(opts).value();
  EXPECT_EQ(sys.receptionist().lookup<worker>("greeter/main"), a);
  EXPECT_EQ(sys.spawn_with<worker>(opts).error(), errc::name_taken);
  a.kill();
  rt.run();
  EXPECT_EQ(sys.receptionist().size(), 0u);
  EXPECT_EQ(sys.live_actors(), 0u);
}

// ---- the replication seam ---------------------------------------------------------

troupe::reception_op remote_add(troupe::origin_id origin, std::uint64_t version, std::string label,
                                const troupe::endpoint<worker>& ep) {
  troupe::reception_op op;
  op.what = troupe::reception_op::kind::add;
  op.stamp = {origin, version};
  op.label = std::move(label);
  op.key = "workers";
  op.type = troupe::actor_type::of<worker>();
  op.actor = ep.handle();
  return op;
}

troupe::reception_op remote_remove(troupe::origin_id origin, std::uint64_t version,
                                   std::string label, std::uint64_t removes) {
  troupe::reception_op op;
  op.what = troupe::reception_op::kind::remove;
  op.stamp = {origin, version};
  op.label = std::move(label);
  op.removes = removes;
  return op;
}

TEST(receptionist, applies_remote_ops_in_version_order_per_origin) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto& r = sys.receptionist();
  std::vector<std::string> log;
  auto sub = sys.spawn<watcher>(&log).value();
  ASSERT_TRUE(r.subscribe(workers, sub));
  auto w = sys.spawn<worker>().value();  // stands in for a remote actor
  using st = troupe::apply_status;
  EXPECT_EQ(r.apply(remote_add(7, 1, "remote/a", w)), st::applied);
  EXPECT_EQ(r.apply(remote_add(7, 1, "remote/a", w)), st::duplicate);
  EXPECT_EQ(r.apply(remote_add(7, 3, "remote/c", w)), st::gap);
  EXPECT_EQ(r.apply(remote_add(troupe::local_origin, 9, "mine", w)), st::refused);
  EXPECT_EQ(r.apply(remote_add(8, 1, "bad//label", w)), st::refused);
  troupe::reception_op skip;
  skip.what = troupe::reception_op::kind::skip;
  skip.stamp = {7, 2};  // a private change of node 7: only its place in the sequence
  EXPECT_EQ(r.apply(skip), st::applied);
  EXPECT_EQ(r.apply(remote_add(7, 3, "remote/c", w)), st::applied);
  EXPECT_EQ(r.lookup<worker>("remote/a"), w);
  EXPECT_EQ(r.find("remote/a")->stamp, (troupe::entry_stamp{7, 1}));
  // A removal that names an older version removes nothing.
  EXPECT_EQ(r.apply(remote_remove(7, 4, "remote/a", 99)), st::applied);
  EXPECT_TRUE(r.lookup<worker>("remote/a"));
  EXPECT_EQ(r.apply(remote_remove(7, 5, "remote/a", 1)), st::applied);
  EXPECT_FALSE(r.lookup<worker>("remote/a"));
  // Remote entries are not checked out locally.
  EXPECT_FALSE(r.check_out("remote/c"));
  auto v = r.versions();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1], (troupe::entry_stamp{7, 5}));
  // The node dies: its entries go, with one `removed` each.
  EXPECT_EQ(r.drop_origin(7), 1u);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.versions().size(), 1u);
  rt.run();
  EXPECT_EQ(join(log), "+remote/a +remote/c -remote/a -remote/c");
}

TEST(receptionist, a_label_conflict_resolves_the_same_way_in_any_order) {
  auto lookups = [](bool a_first) {
    troupe::sim::runtime rt2;
    troupe::system sys2(rt2.config());
    auto& r = sys2.receptionist();
    // Two nodes (origins 5 and 9) checked in "svc" at the same time.
    auto wa = sys2.spawn<worker>().value();
    auto wb = sys2.spawn<worker>().value();
    auto op5 = remote_add(5, 1, "svc", wa);
    auto op9 = remote_add(9, 1, "svc", wb);
    std::vector<std::string> log;
    auto sub = sys2.spawn<watcher>(&log).value();
    EXPECT_TRUE(r.subscribe(workers, sub));
    if (a_first) {
      EXPECT_EQ(r.apply(op5), troupe::apply_status::applied);
      EXPECT_EQ(r.apply(op9), troupe::apply_status::applied);
    } else {
      EXPECT_EQ(r.apply(op9), troupe::apply_status::applied);
      EXPECT_EQ(r.apply(op5), troupe::apply_status::applied);
    }
    std::string winner = r.lookup<worker>("svc") == wa ? "5" : "9";
    // A local check-in of a label known from another node is refused.
    EXPECT_EQ(r.check_in("svc", wa).error(), errc::name_taken);
    // The winner's node drops it: the other candidate shows.
    EXPECT_EQ(r.apply(remote_remove(5, 2, "svc", 1)), troupe::apply_status::applied);
    winner += r.lookup<worker>("svc") == wb ? "9" : "?";
    r.drop_origin(9);
    sys2.shutdown(1s);
    return winner;
  };
  EXPECT_EQ(lookups(true), "59");   // the lowest stamp wins...
  EXPECT_EQ(lookups(false), "59");  // ...whatever the arrival order
}

TEST(receptionist, shutdown_empties_it) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto w = sys.spawn<worker>().value();
  auto l = sys.receptionist().subscribe(workers).value();
  ASSERT_TRUE(sys.receptionist().check_in("w", w, workers));
  ASSERT_EQ(sys.receptionist().apply(remote_add(3, 1, "r", w)), troupe::apply_status::applied);
  sys.shutdown(1s);
  EXPECT_EQ(sys.receptionist().size(), 0u);
  EXPECT_EQ(sys.receptionist().subscriptions(), 0u);
  l.cancel();  // harmless after shutdown
}

}  // namespace receptionist_test
