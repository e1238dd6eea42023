#include "troupe/cluster/swim.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "troupe/cluster/testing/swim_sim.hpp"
#include "troupe/sim/manual_clock.hpp"
#include "troupe/sim/runtime.hpp"

// SWIM with Lifeguard on a modelled network (testing::swim_sim): joining,
// detection, refutation, partitions that heal by themselves, leaving,
// restarts, and what loss does not do.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using testing::swim_sim;
using testing::swim_sim_options;
using kind = member_event::kind;

swim_sim_options nodes(std::size_t n, std::uint64_t seed = 1, double loss = 0) {
  swim_sim_options o;
  o.nodes = n;
  o.seed = seed;
  o.loss = loss;
  return o;
}

TEST(swim, members_that_join_through_one_seed_all_see_each_other) {
  swim_sim sim(nodes(10));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  for (std::size_t i = 0; i < sim.size(); ++i) EXPECT_EQ(sim.at(i).live_count(), 10u);
  // Each member heard of every other exactly once, as a join.
  for (std::size_t j = 0; j < sim.size(); ++j) EXPECT_EQ(sim.count(kind::joined, j), 9u) << j;
}

TEST(swim, a_crashed_member_is_dead_at_every_member_within_the_bound) {
  swim_sim sim(nodes(10, 3));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  sim.run_for(5s);
  const time_point crashed_at = sim.now();
  sim.crash(4);
  ASSERT_TRUE(sim.run_until([&] { return sim.all_see(4, member_state::dead); }, 10s));
  EXPECT_LE(sim.now() - crashed_at, 6s);
  EXPECT_EQ(sim.count(kind::dead, 4), 9u) << "one dead event per member";
  for (std::size_t j = 0; j < sim.size(); ++j)
    if (j != 4) {
      EXPECT_EQ(sim.count(kind::dead, j), 0u) << "false death of " << j;
    }
}

TEST(swim, a_frozen_member_is_suspected_then_refutes_when_thawed_in_time) {
  swim_sim sim(nodes(8, 5));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  const std::uint32_t before = sim.at(2).incarnation();
  sim.freeze(2);
  ASSERT_TRUE(sim.run_until([&] { return sim.count(kind::suspect, 2) > 0; }, 5s));
  sim.thaw(2);
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  EXPECT_GT(sim.at(2).incarnation(), before) << "it refuted with a higher incarnation";
  EXPECT_GE(sim.at(2).stats().refutations, 1u);
  EXPECT_EQ(sim.count(kind::dead, 2), 0u);
}

TEST(swim, no_false_deaths_at_ten_percent_loss) {
  swim_sim sim(nodes(10, 11, 0.10));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 10s));
  sim.run_for(120s);
  for (std::size_t j = 0; j < sim.size(); ++j) EXPECT_EQ(sim.count(kind::dead, j), 0u) << j;
  EXPECT_TRUE(sim.converged());
}

TEST(swim, both_sides_of_a_partition_merge_again_after_it_heals) {
  swim_sim sim(nodes(10, 7));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  sim.partition({0, 1, 2, 3, 4, 5, 6}, {7, 8, 9});
  sim.run_for(90s);
  EXPECT_TRUE(sim.all_see(8, member_state::dead) == false) << "8's own side still has it";
  EXPECT_EQ(sim.state(0, 8), member_state::dead);
  EXPECT_EQ(sim.state(9, 1), member_state::dead);
  const time_point healed_at = sim.now();
  sim.heal();
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 30s)) << "the sides never merged";
  EXPECT_LE(sim.now() - healed_at, 3s);
}

TEST(swim, a_killed_process_on_a_live_host_is_dead_everywhere_within_two_seconds) {
  swim_sim sim(nodes(10, 13));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  sim.run_for(3s);
  const time_point killed_at = sim.now();
  sim.kill(6);
  ASSERT_TRUE(sim.run_until([&] { return sim.all_see(6, member_state::dead); }, 10s));
  EXPECT_LE(sim.now() - killed_at, 2s);
  for (std::size_t j = 0; j < sim.size(); ++j)
    if (j != 6) {
      EXPECT_EQ(sim.count(kind::dead, j), 0u) << "false death of " << j;
    }
}

TEST(swim, a_live_member_wrongly_reported_lost_refutes_and_stays_alive) {
  swim_sim sim(nodes(6, 17));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  sim.at(0).peer_lost(sim.key(3));  // a reset that was not a death
  EXPECT_EQ(sim.state(0, 3), member_state::suspect);
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 2s));
  sim.run_for(10s);
  EXPECT_EQ(sim.count(kind::dead, 3), 0u);
  EXPECT_GE(sim.at(3).stats().refutations, 1u);
}

TEST(swim, a_member_that_leaves_is_left_everywhere_not_dead) {
  swim_sim sim(nodes(6, 2));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  sim.at(3).leave();
  ASSERT_TRUE(sim.run_until([&] { return sim.all_see(3, member_state::left); }, 3s));
  sim.crash(3);  // the process ends after leaving
  sim.run_for(20s);
  EXPECT_TRUE(sim.all_see(3, member_state::left));
  EXPECT_EQ(sim.count(kind::dead, 3), 0u);
  EXPECT_EQ(sim.count(kind::left, 3), 5u);
}

TEST(swim, a_restarted_member_is_a_new_life_and_its_old_one_dies) {
  swim_sim sim(nodes(6, 9));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  const member_key old = sim.key(5);
  sim.crash(5);
  sim.run_for(200ms);
  sim.restart(5, 1);
  const time_point restarted_at = sim.now();
  auto old_life_dead_everywhere = [&] {
    for (std::size_t i = 0; i < 5; ++i) {
      auto o = sim.at(i).find(old);
      if (!o || o->state != member_state::dead) return false;
    }
    return true;
  };
  ASSERT_TRUE(sim.run_until([&] { return sim.converged() && old_life_dead_everywhere(); }, 10s));
  // The new life says its old one is over when it is pinged for it: faster
  // than a suspicion would run out.
  EXPECT_LE(sim.now() - restarted_at, 2s);
  // Once at each other member, and at the new life (which learned of the old
  // one from the seed).
  EXPECT_EQ(sim.count(kind::dead, 5), 6u);
}

TEST(swim, a_member_whose_own_packets_are_lost_slows_down_instead_of_accusing) {
  swim_sim sim(nodes(6, 4));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  // Member 0 hears nothing for a while: its probes fail, and so do the
  // nacks it expects.
  sim.partition({0}, {1, 2, 3, 4, 5});
  sim.run_for(3s);
  EXPECT_GT(sim.at(0).health_multiplier(), 1u);
  sim.heal();
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 30s));
  sim.run_for(30s);
  EXPECT_EQ(sim.at(0).health_multiplier(), 1u) << "successful probes restore health";
}

TEST(swim, a_verdict_goes_to_every_member_at_once) {
  swim_sim sim(nodes(10, 23));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  sim.run_for(3s);
  sim.crash(7);
  ASSERT_TRUE(sim.run_until([&] { return sim.all_see(7, member_state::dead); }, 10s));
  time_point first = time_point::max();
  time_point last{};
  for (const auto& e : sim.events())
    if (e.event.what == kind::dead && e.event.member.key == sim.key(7)) {
      first = std::min(first, e.at);
      last = std::max(last, e.at);
    }
  // The member whose suspicion ran out first told every other one itself:
  // one hop (under a millisecond here), not rounds of gossip.
  EXPECT_LE(last - first, 2ms);
}

TEST(swim, a_member_paused_while_it_suspects_does_not_declare_the_suspect_dead_on_resuming) {
  swim_sim sim(nodes(6, 29));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  // Member 4 goes quiet until member 1 suspects it; then member 1 stops
  // running (a stopped process), and 4 comes back and refutes meanwhile.
  sim.freeze(4);
  ASSERT_TRUE(sim.run_until([&] { return sim.state(1, 4) == member_state::suspect; }, 10s));
  sim.freeze(1);
  sim.thaw(4);
  sim.run_for(8s);  // longer than member 1's suspicion could last
  sim.thaw(1);
  sim.run_for(5s);
  EXPECT_EQ(sim.count(kind::dead, 4), 0u) << "member 1's suspicion ran out during its pause";
  EXPECT_EQ(sim.state(1, 4), member_state::alive);
  EXPECT_GE(sim.at(1).stats().pauses, 1u);
}

TEST(swim, a_paused_member_does_not_take_its_lost_sessions_for_deaths) {
  swim_sim sim(nodes(5, 31));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  // Member 2 does not run for 3 s; its sessions end meanwhile (the others
  // timed it out): a loss that it hears before it ticks again, or just
  // after, is its own silence, not 3's death.
  sim.freeze(2);
  sim.run_for(3s);
  sim.at(2).peer_lost(sim.key(3));
  EXPECT_EQ(sim.state(2, 3), member_state::alive);
  sim.thaw(2);
  sim.run_for(100ms);
  sim.at(2).peer_lost(sim.key(3));
  EXPECT_EQ(sim.state(2, 3), member_state::alive);
  EXPECT_EQ(sim.at(2).stats().losses_ignored, 2u);
  // Later, a lost session is news again.
  sim.run_for(1s);
  sim.at(2).peer_lost(sim.key(3));
  EXPECT_EQ(sim.state(2, 3), member_state::suspect);
}

// One engine driven by hand: packets in, the clock moved, what it sends
// kept.
struct by_hand {
  by_hand()
      : random(3),
        engine(member_key{"a", 1}, "a:1", swim_config::lan(), clock, random,
               [this](std::string_view to, std::span<const std::byte> d) {
                 sent.emplace_back(std::string(to), decode_packet(d).value());
               }) {}
  void from(const std::string& name, packet p) {
    p.sender = member_key{name, 1};
    p.sender_address = name + ":1";
    std::vector<std::byte> bytes;
    encode(p, bytes);
    engine.on_packet(p.sender_address, bytes);
  }
  // Moves the clock in steps of `step`, ticking after each.
  void run(duration d, duration step = 10ms) {
    for (duration t{}; t < d; t += step) {
      clock.set(clock.now() + step);
      engine.tick();
    }
  }
  [[nodiscard]] const packet* sent_to(const std::string& to, packet_kind k) const {
    for (const auto& [where, p] : sent)
      if (where == to && p.kind == k) return &p;
    return nullptr;
  }
  sim::manual_clock clock;
  sim::seeded_random random;
  std::vector<std::pair<std::string, packet>> sent;
  swim engine;
};

TEST(swim, a_probe_under_way_when_the_member_stops_running_is_not_a_failure) {
  by_hand h;
  h.from("b", packet{});
  // Ticks until the engine pings b, then it stops running for 3 s (its
  // clock moves, its ticks do not).
  for (int i = 0; i < 200 && h.sent_to("b:1", packet_kind::ping) == nullptr; ++i) h.run(10ms);
  const packet* ping = h.sent_to("b:1", packet_kind::ping);
  ASSERT_NE(ping, nullptr);
  const std::uint32_t seq = ping->seq;
  h.clock.set(h.clock.now() + 3s);
  h.engine.tick();
  EXPECT_EQ(h.engine.find(member_key{"b", 1})->state, member_state::alive)
      << "the probe ran out while the engine did not run";
  // b's ack was waiting in the socket.
  packet ack;
  ack.kind = packet_kind::ack;
  ack.seq = seq;
  h.from("b", ack);
  h.run(400ms);  // past the probe's period, moved on by the pause
  EXPECT_EQ(h.engine.find(member_key{"b", 1})->state, member_state::alive);
  EXPECT_EQ(h.engine.health_multiplier(), 1u);
  EXPECT_EQ(h.engine.stats().pauses, 1u);
}

TEST(swim, a_session_lost_during_a_pause_is_checked_with_a_probe_first) {
  by_hand h;
  for (const char* n : {"b", "c", "d", "e"}) h.from(n, packet{});
  h.run(1s);
  // The engine does not run for 3 s; c's session ends meanwhile.
  h.clock.set(h.clock.now() + 3s);
  h.engine.peer_lost(member_key{"c", 1});
  EXPECT_EQ(h.engine.find(member_key{"c", 1})->state, member_state::alive);
  h.sent.clear();
  // The next probe (after the one under way, if any) is of c: answered,
  // that is the end of it; unanswered, c is suspected one probe later.
  h.run(600ms);
  std::string first;
  for (const auto& [to, p] : h.sent)
    if (p.kind == packet_kind::ping && first.empty()) first = to;
  EXPECT_EQ(first, "c:1");
  h.run(600ms);
  EXPECT_EQ(h.engine.find(member_key{"c", 1})->state, member_state::suspect);
}

TEST(swim, a_helper_nacks_within_the_requesters_period_whatever_its_own_health) {
  by_hand h;
  // The engine refutes a suspicion of itself: its health multiplier rises.
  packet accusation;
  accusation.updates.push_back({{"a", 1}, "a:1", member_state::suspect, 0, "x"});
  h.from("x", accusation);
  ASSERT_EQ(h.engine.health_multiplier(), 2u);
  // b asks it to ping c, which never answers.
  packet req;
  req.kind = packet_kind::ping_req;
  req.seq = 77;
  req.target = member_key{"c", 1};
  req.target_address = "c:1";
  h.from("b", req);
  ASSERT_NE(h.sent_to("c:1", packet_kind::ping), nullptr);
  h.run(swim_config::lan().probe_timeout + 10ms);
  const packet* nack = h.sent_to("b:1", packet_kind::nack);
  ASSERT_NE(nack, nullptr) << "no nack within the probe timeout";
  EXPECT_EQ(nack->seq, 77u);
}

TEST(swim, garbage_packets_are_counted_and_change_nothing) {
  swim_sim sim(nodes(3));
  ASSERT_TRUE(sim.run_until([&] { return sim.converged(); }, 5s));
  std::vector<std::byte> junk{std::byte{0x53}, std::byte{1}, std::byte{99}};
  sim.at(1).on_packet("x:1", junk);
  sim.at(1).on_packet("x:1", {});
  std::vector<std::byte> noise(200, std::byte{0xff});
  sim.at(1).on_packet("x:1", noise);
  EXPECT_EQ(sim.at(1).stats().bad_packets, 3u);
  EXPECT_EQ(sim.at(1).live_count(), 3u);
}

TEST(swim, packets_round_trip_and_reject_truncation) {
  packet p;
  p.kind = packet_kind::ping_req;
  p.sender = {"a", 7};
  p.sender_address = "a:1";
  p.seq = 42;
  p.target = {"b", 9};
  p.target_address = "b:2";
  p.updates.push_back({{"c", 3}, "c:3", member_state::suspect, 5, "a"});
  p.updates.push_back({{"d", 4}, "d:4", member_state::left, 1, ""});
  std::vector<std::byte> wire;
  encode(p, wire);
  auto back = decode_packet(wire);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->kind, p.kind);
  EXPECT_EQ(back->sender, p.sender);
  EXPECT_EQ(back->seq, 42u);
  EXPECT_EQ(back->target, p.target);
  EXPECT_EQ(back->target_address, "b:2");
  EXPECT_EQ(back->updates, p.updates);
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    auto r = decode_packet(std::span(wire).first(cut));
    EXPECT_FALSE(r) << "accepted a packet cut to " << cut << " bytes";
    if (!r) {
      EXPECT_EQ(r.error().code(), errc::decode_error);
    }
  }
}

TEST(swim, encoded_size_counts_what_encode_writes) {
  for (std::uint64_t gen : {0ull, 127ull, 128ull, 1ull << 40, ~0ull}) {
    for (std::uint32_t inc : {0u, 300u, ~0u}) {
      member_update u{{std::string(gen % 200, 'n'), gen},
                      std::string(inc % 150, 'a'),
                      member_state::suspect,
                      inc,
                      std::string(130, 'f')};
      packet with;
      with.sender = {"s", 1};
      with.updates.push_back(u);
      packet without = with;
      without.updates.clear();
      std::vector<std::byte> a;
      std::vector<std::byte> b;
      encode(with, a);
      encode(without, b);
      EXPECT_EQ(encoded_size(u), a.size() - b.size()) << "generation " << gen << " inc " << inc;
    }
  }
}

TEST(swim, the_same_seed_replays_the_same_run) {
  auto run = [](std::uint64_t seed) {
    swim_sim sim(nodes(8, seed, 0.05));
    sim.run_for(10s);
    sim.crash(3);
    sim.run_for(10s);
    return std::make_pair(sim.events().size(), sim.packets_sent());
  };
  EXPECT_EQ(run(21), run(21));
  EXPECT_NE(run(21), run(22));
}

}  // namespace
}  // namespace troupe::cluster
