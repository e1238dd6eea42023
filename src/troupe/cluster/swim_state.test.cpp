#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "troupe/cluster/swim.hpp"
#include "troupe/cluster/testing/swim_sim.hpp"
#include "troupe/sim/manual_clock.hpp"
#include "troupe/sim/runtime.hpp"

// Dead verdicts this member doubts: one about a member it has just heard
// from becomes a suspicion (which the member refutes), not a death.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using kind = member_event::kind;

// Member "a", driven by hand: packets in from named senders, the clock
// moved, what it sends and every event it makes kept.
class verdicts : public ::testing::Test {
 protected:
  verdicts()
      : random_(11),
        engine_(
            member_key{"a", 1}, "a:1", swim_config::lan(), clock_, random_,
            [this](std::string_view to, std::span<const std::byte> d) {
              sent_.emplace_back(std::string(to), decode_packet(d).value());
            },
            [this](const member_event& e) { events_.push_back(e); }) {}

  void from(const std::string& name, std::vector<member_update> updates = {}) {
    packet p;
    p.kind = packet_kind::gossip;
    p.sender = member_key{name, 1};
    p.sender_address = name + ":1";
    p.updates = std::move(updates);
    std::vector<std::byte> bytes;
    encode(p, bytes);
    engine_.on_packet(p.sender_address, bytes);
  }
  static member_update dead(const std::string& name, std::uint32_t incarnation = 0) {
    return member_update{{name, 1}, name + ":1", member_state::dead, incarnation, ""};
  }
  [[nodiscard]] member_state state(const std::string& name) const {
    return engine_.find(member_key{name, 1})->state;
  }
  [[nodiscard]] std::size_t count(kind k, const std::string& name) const {
    std::size_t n = 0;
    for (const auto& e : events_)
      if (e.what == k && e.member.key.name == name) ++n;
    return n;
  }

  sim::manual_clock clock_;
  sim::seeded_random random_;
  std::vector<std::pair<std::string, packet>> sent_;
  std::vector<member_event> events_;
  swim engine_;
};

TEST_F(verdicts, a_verdict_about_a_member_just_heard_from_is_taken_as_a_suspicion) {
  from("b");
  from("c");
  from("d");
  clock_.set(clock_.now() + 500ms);
  from("b");  // b talks to a
  sent_.clear();
  from("c", {dead("b")});  // c, which could not hear b, says it is dead
  EXPECT_EQ(state("b"), member_state::suspect);
  EXPECT_EQ(engine_.stats().verdicts_doubted, 1u);
  // b is told at once, so that it refutes.
  bool told = false;
  for (const auto& [to, p] : sent_)
    for (const auto& u : p.updates)
      if (to == "b:1" && u.key.name == "b" && u.state == member_state::suspect) told = true;
  EXPECT_TRUE(told);
  // The same verdict again, from another member, changes nothing more.
  from("d", {dead("b")});
  EXPECT_EQ(state("b"), member_state::suspect);
  // b refutes.
  from("b", {member_update{{"b", 1}, "b:1", member_state::alive, 1, ""}});
  EXPECT_EQ(state("b"), member_state::alive);
  EXPECT_EQ(count(kind::dead, "b"), 0u);
}

TEST_F(verdicts, a_verdict_about_a_member_not_heard_from_lately_is_taken) {
  from("b");
  from("c");
  clock_.set(clock_.now() + 2s);  // longer than the shortest suspicion
  from("c", {dead("b")});
  EXPECT_EQ(state("b"), member_state::dead);
  EXPECT_EQ(engine_.stats().verdicts_doubted, 0u);
}

TEST_F(verdicts, a_life_declared_over_by_its_next_life_is_not_doubted) {
  from("b");
  from("c", {dead("b", 0xffffffff)});
  EXPECT_EQ(state("b"), member_state::dead);
}

TEST(swim_state, after_a_partition_heals_the_big_sides_members_are_not_declared_dead) {
  // The small side held the big one dead; its verdicts reach members that
  // were talking to the accused all along.
  testing::swim_sim_options o;
  o.nodes = 10;
  o.seed = 37;
  testing::swim_sim sim(o);
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  sim.partition({0, 1, 2, 3, 4, 5, 6}, {7, 8, 9});
  sim.run_for(30s);
  const time_point healed = sim.now();
  sim.heal();
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 10s));
  std::size_t deaths = 0;
  std::size_t doubted = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    deaths += sim.count(kind::dead, i, healed);
    doubted += sim.at(i).stats().verdicts_doubted;
  }
  EXPECT_GT(doubted, 0u);
  EXPECT_LE(deaths, 5u) << "verdicts made apart killed members after the heal";
}

}  // namespace
}  // namespace troupe::cluster
