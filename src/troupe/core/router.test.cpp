#include "troupe/core/router.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/sim/runtime.hpp"

// Routers on the deterministic runtime: every routing rule, the fan-out
// combinators in virtual time, membership changes. (g++ 12: values handed to
// a co_await'ed call are bound to named locals first, see DESIGN.md.)

namespace router_test {

using namespace std::chrono_literals;
using troupe::errc;
using troupe::routing;

struct work {
  static constexpr std::string_view type_name = "test.router.work";
  int n = 0;
};
struct query {
  using reply = int;
  static constexpr std::string_view type_name = "test.router.query";
};
struct keyed {
  static constexpr std::string_view type_name = "test.router.keyed";
  std::string user;
  [[nodiscard]] const std::string& routing_key() const { return user; }
};

/// How one member behaves: its tag, how long it takes to answer a query and
/// whether it fails instead.
struct behaviour {
  int tag = 0;
  troupe::duration delay{};
  bool fail = false;
};

/// Records, for each work item, which member handled it.
struct work_log {
  std::map<int, int> tag_of_item;  ///< work item n -> tag of its member
  std::vector<int> tags;           ///< tags in the order the items were handled
  /// Returns the tags in the order the items were sent.
  [[nodiscard]] std::vector<int> in_send_order() const {
    std::vector<int> out;
    for (auto [n, tag] : tag_of_item) out.push_back(tag);
    return out;
  }
};

/// Logs every work item with its tag; answers queries after a delay.
class member : public troupe::actor<member> {
 public:
  using handles = troupe::handles<work, query, keyed>;
  member(behaviour b, work_log* log) : b_(b), log_(log) {}
  void handle(work w) {
    log_->tag_of_item[w.n] = b_.tag;
    log_->tags.push_back(b_.tag);
  }
  void handle(const keyed&) { log_->tags.push_back(b_.tag); }
  troupe::task<int> handle(query) {
    if (b_.delay > troupe::duration::zero()) co_await sleep_for(b_.delay);
    if (b_.fail) throw std::runtime_error("member " + std::to_string(b_.tag) + " failed");
    co_return b_.tag;
  }

 private:
  behaviour b_;
  work_log* log_;
};

/// Spawns one member per behaviour.
std::vector<troupe::endpoint<member>> spawn_members(troupe::system& sys,
                                                    const std::vector<behaviour>& bs,
                                                    work_log* log) {
  std::vector<troupe::endpoint<member>> out;
  for (const behaviour& b : bs) out.push_back(sys.spawn<member>(b, log).value());
  return out;
}

std::vector<behaviour> tags(int n) {
  std::vector<behaviour> out;
  for (int i = 1; i <= n; ++i) out.push_back({i, {}, false});
  return out;
}

TEST(router, round_robin_visits_members_in_order) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, tags(3), &log));
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(r.tell(work{i}));
  rt.run();
  EXPECT_EQ(log.in_send_order(), (std::vector<int>{1, 2, 3, 1, 2, 3, 1}));
  // Asks take turns too.
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) got.push_back(r.ask(query{}).get().value());
  EXPECT_EQ(got, (std::vector<int>{2, 3, 1}));
}

std::vector<int> random_picks(std::uint64_t seed) {
  troupe::sim::runtime rt(seed);
  troupe::system sys(rt.config());
  work_log log;
  troupe::router<member> r(sys, routing::random, spawn_members(sys, tags(4), &log));
  for (int i = 0; i < 200; ++i) (void)r.tell(work{i});
  rt.run();
  return log.in_send_order();
}

TEST(router, random_is_reproducible_from_the_seed) {
  std::vector<int> a = random_picks(7);
  std::vector<int> b = random_picks(7);
  std::vector<int> c = random_picks(8);
  ASSERT_EQ(a.size(), 200u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::map<int, int> counts;
  for (int t : a) ++counts[t];
  EXPECT_EQ(counts.size(), 4u);
  for (auto [tag, n] : counts) EXPECT_GT(n, 20) << "member " << tag;
}

TEST(router, broadcast_reaches_every_member) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  troupe::router<member> r(sys, routing::broadcast, spawn_members(sys, tags(4), &log));
  troupe::broadcast_result b = r.broadcast(work{1});
  EXPECT_TRUE(b.ok());
  EXPECT_EQ(b.accepted, 4u);
  EXPECT_TRUE(r.tell(work{2}));  // tell() on a broadcast router reaches all too
  rt.run();
  std::sort(log.tags.begin(), log.tags.end());
  EXPECT_EQ(log.tags, (std::vector<int>{1, 1, 2, 2, 3, 3, 4, 4}));
}

TEST(router, broadcast_ask_ends_with_the_first_reply) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 5ms, false}, {2, 2ms, false}, {3, 1ms, true}};
  troupe::router<member> r(sys, routing::broadcast, spawn_members(sys, bs, &log));
  auto reply = r.ask(query{});
  rt.advance(2ms);
  ASSERT_TRUE(reply.ready());
  EXPECT_EQ(reply.get().value(), 2);  // member 3 failed first; member 2 answered next
  rt.advance(10ms);
}

/// Maps every key to the tag of the member that owns it.
std::vector<int> owners(troupe::router<member>& r, int keys) {
  std::vector<int> out;
  for (int k = 0; k < keys; ++k) {
    out.push_back(r.ask_key("user/" + std::to_string(k), query{}).get().value());
  }
  return out;
}

TEST(router, consistent_hash_moves_about_one_nth_of_the_keys_when_a_member_joins) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  constexpr int keys = 10'000;
  troupe::router<member> r(sys, routing::consistent_hash, spawn_members(sys, tags(10), &log));
  const std::vector<int> before = owners(r, keys);
  std::map<int, int> load;
  for (int t : before) ++load[t];
  EXPECT_EQ(load.size(), 10u);
  for (auto [tag, n] : load) EXPECT_NEAR(n, keys / 10, keys / 10 * 0.35) << "member " << tag;

  auto newcomer = sys.spawn<member>(behaviour{11, {}, false}, &log).value();
  ASSERT_TRUE(r.add_member(newcomer));
  const std::vector<int> after = owners(r, keys);
  int moved = 0;
  for (int k = 0; k < keys; ++k) {
    if (before[k] == after[k]) continue;
    ++moved;
    EXPECT_EQ(after[k], 11) << "key " << k << " moved between two old members";
  }
  const double expected = keys / 11.0;  // ~909
  EXPECT_GT(moved, expected * 0.6);
  EXPECT_LT(moved, expected * 1.4);

  // Removing the newcomer gives back exactly the old mapping.
  ASSERT_TRUE(r.remove_member(newcomer));
  EXPECT_EQ(owners(r, keys), before);
}

TEST(router, consistent_hash_routes_a_keyed_message_to_its_owner) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  troupe::router<member> r(sys, routing::consistent_hash, spawn_members(sys, tags(5), &log));
  const int owner = r.ask_key("alice", query{}).get().value();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(r.tell(keyed{"alice"}));
  rt.run();
  EXPECT_EQ(log.tags, std::vector<int>(5, owner));
  // A message without routing_key() has no route on a hash router.
  EXPECT_EQ(r.tell(work{}).error(), errc::no_route);
  EXPECT_EQ(r.ask(query{}).get().error(), errc::no_route);
}

TEST(router, quorum_ends_as_soon_as_k_replies_came) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 1ms}, {2, 20ms}, {3, 3ms}, {4, 2ms, true}, {5, 10ms}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  auto q = r.quorum(3, query{}, 100ms);
  rt.advance(9ms);
  EXPECT_FALSE(q.ready()) << "only 2 successes so far (member 4 failed)";
  rt.advance(1ms);
  ASSERT_TRUE(q.ready());
  auto replies = q.get().value();
  ASSERT_EQ(replies.size(), 3u);
  std::vector<int> got;
  for (const auto& m : replies) got.push_back(m.value);
  EXPECT_EQ(got, (std::vector<int>{1, 3, 5}));  // arrival order
  EXPECT_EQ(replies[0].from, r.members()[0].id());
  rt.advance(100ms);  // let the slow member finish
}

TEST(router, quorum_fails_as_soon_as_it_cannot_be_reached) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 1ms, true}, {2, 2ms, true}, {3, 50ms}, {4, 3ms, true}, {5, 4ms}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  auto q = r.quorum(3, query{}, 100ms);
  rt.advance(2ms);
  EXPECT_FALSE(q.ready()) << "two failures: 3 of the 3 others could still answer";
  rt.advance(1ms);
  ASSERT_TRUE(q.ready()) << "a third failure: 3 successes are out of reach";
  auto res = q.get();
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), errc::quorum_failed);
  EXPECT_NE(res.error().detail().find("needed 3 of 5"), std::string::npos) << res.error().message();
  rt.advance(100ms);
}

TEST(router, quorum_counts_members_that_time_out_as_failures) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 1ms}, {2, 1s}, {3, 1s}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  auto q = r.quorum(2, query{}, 30ms);
  const troupe::time_point start = rt.now();
  auto res = q.get();  // drives virtual time
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), errc::quorum_failed);
  EXPECT_EQ(rt.now() - start, 30ms);
  rt.advance(2s);
}

TEST(router, quorum_rejects_bad_sizes_at_once) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, tags(2), &log));
  auto zero = r.quorum(0, query{});
  ASSERT_TRUE(zero.ready());
  EXPECT_EQ(zero.get().error(), errc::invalid_argument);
  auto three = r.quorum(3, query{});
  ASSERT_TRUE(three.ready());
  EXPECT_EQ(three.get().error(), errc::quorum_failed);
  EXPECT_TRUE(log.tags.empty());
}

TEST(router, scatter_gather_returns_partial_results_at_the_deadline) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 1ms}, {2, 50ms}, {3, 5ms}, {4, 1ms, true}, {5, 100ms}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  const auto ids = r.members();
  auto g = r.scatter_gather(query{}, 10ms);
  rt.advance(10ms - 1ns);
  EXPECT_FALSE(g.ready());
  rt.advance(1ns);
  ASSERT_TRUE(g.ready());
  troupe::gathered<int> res = g.get().value();
  EXPECT_EQ(res.asked, 5u);
  EXPECT_FALSE(res.complete());
  ASSERT_EQ(res.replies.size(), 2u);
  EXPECT_EQ(res.replies[0].value, 1);
  EXPECT_EQ(res.replies[1].value, 3);
  ASSERT_EQ(res.failures.size(), 3u);
  EXPECT_EQ(res.failures[0].from, ids[3].id());
  EXPECT_EQ(res.failures[0].error, errc::handler_failed);
  EXPECT_EQ(res.failures[1].error, errc::timeout);
  EXPECT_EQ(res.failures[2].error, errc::timeout);
  rt.advance(200ms);
}

TEST(router, scatter_gather_ends_early_when_everyone_answered) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 1ms}, {2, 4ms}, {3, 2ms}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  const troupe::time_point start = rt.now();
  troupe::gathered<int> res = r.scatter_gather(query{}, 1s).get().value();
  EXPECT_EQ(rt.now() - start, 4ms);
  EXPECT_TRUE(res.complete());
  EXPECT_EQ(res.replies.size(), 3u);
}

TEST(router, first_response_takes_the_first_success) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 5ms}, {2, 1ms, true}, {3, 3ms}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  const troupe::time_point start = rt.now();
  EXPECT_EQ(r.first_response(query{}).get().value(), 3);
  EXPECT_EQ(rt.now() - start, 3ms);
  rt.advance(10ms);
}

TEST(router, first_response_fails_when_every_member_fails) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 1ms, true}, {2, 1s}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  auto res = r.first_response(query{}, 20ms).get();
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error(), errc::timeout);  // the last to fail timed out
  EXPECT_NE(res.error().detail().find("all 2 members failed"), std::string::npos);
  rt.advance(2s);
}

TEST(router, a_member_that_ends_leaves_the_router) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  auto ms = spawn_members(sys, tags(3), &log);
  troupe::router<member> r(sys, routing::round_robin, ms);
  ms[1].kill();
  rt.run();
  EXPECT_EQ(r.size(), 2u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.tell(work{i}));
  rt.run();
  EXPECT_EQ(log.in_send_order(), (std::vector<int>{1, 3, 1, 3}));
  // A dead endpoint is not added; a live one is added once.
  EXPECT_FALSE(r.add_member(ms[1]));
  EXPECT_FALSE(r.add_member(ms[0]));
  ms[0].stop();
  ms[2].stop();
  rt.run();
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.tell(work{}).error(), errc::no_route);
  EXPECT_EQ(r.ask(query{}).get().error(), errc::no_route);
  EXPECT_EQ(r.scatter_gather(query{}, 1s).get().error(), errc::no_route);
}

TEST(router, members_can_be_added_and_removed_at_run_time) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  auto ms = spawn_members(sys, tags(3), &log);
  troupe::router<member> r(sys, routing::round_robin);
  EXPECT_EQ(r.tell(work{}).error(), errc::no_route);
  EXPECT_TRUE(r.add_member(ms[0]));
  EXPECT_TRUE(r.add_member(ms[1]));
  (void)r.tell(work{0});
  (void)r.tell(work{1});
  EXPECT_TRUE(r.remove_member(ms[0]));
  EXPECT_FALSE(r.remove_member(ms[0]));
  EXPECT_TRUE(r.add_member(ms[2]));
  (void)r.tell(work{2});
  (void)r.tell(work{3});
  rt.run();
  EXPECT_EQ(log.in_send_order(), (std::vector<int>{1, 2, 2, 3}));
  // Removed members are no longer watched by the router: ending them is fine.
  ms[0].stop();
  rt.run();
  EXPECT_EQ(r.size(), 2u);
}

struct ask_quorum {
  using reply = int;
  static constexpr std::string_view type_name = "test.router.ask_quorum";
};

/// Awaits a quorum and a scatter-gather from inside a handler coroutine.
class coordinator : public troupe::actor<coordinator> {
 public:
  using handles = troupe::handles<ask_quorum>;
  explicit coordinator(troupe::router<member> r) : r_(std::move(r)) {}
  troupe::task<int> handle(ask_quorum) {
    query q;
    auto pending = r_.quorum(2, q, 50ms);
    troupe::result<std::vector<troupe::member_reply<int>>> got = co_await pending;
    if (!got) co_return -1;
    int sum = 0;
    for (const auto& m : *got) sum += m.value;
    auto gather = r_.scatter_gather(q, 50ms);
    troupe::result<troupe::gathered<int>> all = co_await gather;
    co_return sum * 100 + static_cast<int>(all->replies.size());
  }

 private:
  troupe::router<member> r_;
};

TEST(router, fan_outs_are_awaitable_inside_handler_coroutines) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  work_log log;
  std::vector<behaviour> bs = {{1, 2ms}, {2, 1ms}, {3, 9ms}};
  troupe::router<member> r(sys, routing::round_robin, spawn_members(sys, bs, &log));
  auto c = sys.spawn<coordinator>(r).value();
  EXPECT_EQ(c.ask(ask_quorum{}).get().value(), 303);  // (1 + 2) * 100 + 3
}

}  // namespace router_test
