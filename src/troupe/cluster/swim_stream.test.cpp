#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "troupe/cluster/swim.hpp"
#include "troupe/sim/manual_clock.hpp"
#include "troupe/sim/runtime.hpp"

// Push-pull over a stream (swim::set_stream, swim::on_stream): a member's
// full state travels whole over the stream when there is one to the chosen
// member, datagrams carry it otherwise, and the stream only vouches for its
// own peer.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;

// Engines on a virtual clock, with datagrams (at most `datagram_limit`
// bytes: a larger one is dropped, as a path that carries one packet would)
// and a stream between every pair while `streams` is on. Everything takes
// one millisecond, in order. Member i is "m<i>" at "m<i>:1".
class stream_mesh {
 public:
  explicit stream_mesh(swim_config cfg) : cfg_(cfg) {}

  std::size_t add(const std::vector<std::size_t>& seeds) {
    const std::size_t i = members_.size();
    auto m = std::make_unique<member>();
    m->key = member_key{"m" + std::to_string(i), 1000 + i};
    m->random = std::make_unique<sim::seeded_random>(77 + i);
    m->engine = std::make_unique<swim>(
        m->key, address(i), cfg_, clock_, *m->random,
        [this, i](std::string_view to, std::span<const std::byte> d) { datagram(i, to, d); });
    m->engine->set_stream(
        [this, i](const member_key& to, std::span<const std::byte> d) { return stream(i, to, d); });
    members_.push_back(std::move(m));
    std::vector<std::string> addresses;
    for (std::size_t s : seeds) addresses.push_back(address(s));
    members_[i]->engine->join(addresses);
    return i;
  }

  // Lets `d` pass in 10 ms ticks, delivering what is due.
  void run_for(duration d) {
    const time_point end = clock_.now() + d;
    while (clock_.now() < end) {
      clock_.set(clock_.now() + 10ms);
      while (!wire_.empty() && wire_.front().at <= clock_.now()) {
        in_flight p = std::move(wire_.front());
        wire_.pop_front();
        swim& to = *members_[p.to]->engine;
        if (p.stream) {
          to.on_stream(members_[p.from]->key, p.data);
        } else {
          to.on_packet(address(p.from), p.data);
        }
      }
      for (auto& m : members_) m->engine->tick();
    }
  }
  template <class Pred>
  bool run_until(Pred p, duration limit) {
    for (duration t{}; !p(); t += 10ms) {
      if (t >= limit) return false;
      run_for(10ms);
    }
    return true;
  }

  [[nodiscard]] swim& at(std::size_t i) { return *members_[i]->engine; }
  [[nodiscard]] const member_key& key(std::size_t i) const { return members_[i]->key; }
  [[nodiscard]] static std::string address(std::size_t i) { return "m" + std::to_string(i) + ":1"; }

  std::size_t datagram_limit = std::numeric_limits<std::size_t>::max();
  bool streams = true;
  std::size_t dropped_large = 0;  // datagrams over the limit
  std::size_t largest_streamed = 0;

 private:
  struct member {
    member_key key;
    std::unique_ptr<sim::seeded_random> random;
    std::unique_ptr<swim> engine;
  };
  struct in_flight {
    time_point at;
    std::size_t from;
    std::size_t to;
    bool stream;
    std::vector<std::byte> data;
  };

  void datagram(std::size_t from, std::string_view to, std::span<const std::byte> d) {
    if (d.size() > datagram_limit) {
      ++dropped_large;
      return;
    }
    const std::size_t target = std::stoul(std::string(to.substr(1, to.find(':') - 1)));
    if (target < members_.size()) put(from, target, false, d);
  }
  bool stream(std::size_t from, const member_key& to, std::span<const std::byte> d) {
    if (!streams) return false;
    for (std::size_t j = 0; j < members_.size(); ++j) {
      if (members_[j]->key != to) continue;
      largest_streamed = std::max(largest_streamed, d.size());
      put(from, j, true, d);
      return true;
    }
    return false;
  }
  void put(std::size_t from, std::size_t to, bool stream, std::span<const std::byte> d) {
    wire_.push_back(in_flight{clock_.now() + 1ms, from, to, stream,
                              std::vector<std::byte>(d.begin(), d.end())});
  }

  swim_config cfg_;
  sim::manual_clock clock_;
  std::vector<std::unique_ptr<member>> members_;
  std::deque<in_flight> wire_;
};

swim_config quick_sync() {
  swim_config c = swim_config::lan();
  c.sync_interval = 2s;
  return c;
}

TEST(swim_stream, a_two_hundred_member_state_arrives_whole_over_the_stream) {
  stream_mesh mesh(quick_sync());
  for (std::size_t i = 0; i < 200; ++i)
    mesh.add(i == 0 ? std::vector<std::size_t>{} : std::vector<std::size_t>{0});
  ASSERT_TRUE(mesh.run_until(
      [&] {
        for (std::size_t i = 0; i < 200; ++i)
          if (mesh.at(i).live_count() != 200) return false;
        return true;
      },
      20s));
  // From now on a datagram carries one packet: m0's answer to the
  // newcomer's seed sync (200 members) cannot reach it that way.
  mesh.datagram_limit = quick_sync().max_packet;
  const std::size_t fresh = mesh.add({0});
  mesh.run_for(100ms);
  ASSERT_GT(mesh.dropped_large, 0U) << "the seed's full state went as one datagram";
  EXPECT_LT(mesh.at(fresh).live_count(), 100U) << "it knows most members before any sync";
  // Its first periodic sync (after sync_interval) goes over the stream to a
  // member it knows, and the whole state comes back there.
  ASSERT_TRUE(mesh.run_until([&] { return mesh.at(fresh).live_count() == 201; }, 2500ms))
      << "knows " << mesh.at(fresh).live_count() << " of 201 after its first sync";
  EXPECT_GE(mesh.at(fresh).stats().stream_syncs, 1U);
  EXPECT_GT(mesh.largest_streamed, quick_sync().max_packet * 2);
}

TEST(swim_stream, without_a_stream_the_sync_goes_as_a_datagram) {
  stream_mesh mesh(quick_sync());
  mesh.streams = false;
  mesh.add({});
  mesh.add({0});
  mesh.add({0});
  ASSERT_TRUE(mesh.run_until([&] { return mesh.at(2).live_count() == 3; }, 5s));
  mesh.run_for(5s);  // periodic syncs
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_GE(mesh.at(i).stats().syncs, 2U) << i;
    EXPECT_EQ(mesh.at(i).stats().stream_syncs, 0U) << i;
  }
}

// A peer's stream, fed by hand: what it says in its own name counts; junk,
// anything but push-pull, and a state sent in another member's name do not.
class one_engine : public ::testing::Test {
 protected:
  one_engine()
      : random_(5),
        engine_(member_key{"a", 1}, "a:1", swim_config::lan(), clock_, random_,
                [this](std::string_view to, std::span<const std::byte>) {
                  datagrams_.emplace_back(to);
                }) {
    engine_.set_stream([this](const member_key& to, std::span<const std::byte> d) {
      streamed_.push_back({to, decode_packet(d).value()});
      return true;
    });
  }
  static std::vector<std::byte> state_of(const member_key& sender, packet_kind kind,
                                         std::vector<member_update> updates) {
    packet p;
    p.kind = kind;
    p.sender = sender;
    p.sender_address = sender.name + ":1";
    p.updates = std::move(updates);
    std::vector<std::byte> out;
    encode(p, out);
    return out;
  }
  static member_update alive(const std::string& name) {
    member_update u;
    u.key = member_key{name, 9};
    u.address = name + ":1";
    return u;
  }

  sim::manual_clock clock_;
  sim::seeded_random random_;
  std::vector<std::string> datagrams_;
  std::vector<std::pair<member_key, packet>> streamed_;
  swim engine_;
};

TEST_F(one_engine, a_sync_from_the_streams_peer_is_taken_and_answered_on_the_stream) {
  const member_key b{"b", 9};
  engine_.on_stream(b, state_of(b, packet_kind::sync, {alive("b"), alive("c")}));
  EXPECT_EQ(engine_.live_count(), 3U);
  ASSERT_EQ(streamed_.size(), 1U);
  EXPECT_EQ(streamed_[0].first, b);
  EXPECT_EQ(streamed_[0].second.kind, packet_kind::sync_reply);
  EXPECT_EQ(streamed_[0].second.updates.size(), 3U) << "the whole state";
  EXPECT_EQ(engine_.stats().stream_syncs, 1U);
  EXPECT_EQ(engine_.stats().stream_refused, 0U);
}

TEST_F(one_engine, junk_on_the_stream_is_counted_and_changes_nothing) {
  const std::vector<std::byte> junk{std::byte{0x53}, std::byte{1}, std::byte{5}, std::byte{0xff}};
  engine_.on_stream(member_key{"b", 9}, junk);
  engine_.on_stream(member_key{"b", 9}, {});
  EXPECT_EQ(engine_.stats().bad_packets, 2U);
  EXPECT_EQ(engine_.members().size(), 1U);
  EXPECT_TRUE(streamed_.empty());
  EXPECT_TRUE(datagrams_.empty());
}

TEST_F(one_engine, a_state_sent_in_another_members_name_is_refused) {
  // b's stream carries a sync that claims to come from c (which says b is
  // dead), and one from b's previous life.
  const member_key b{"b", 9};
  member_update b_dead = alive("b");
  b_dead.state = member_state::dead;
  engine_.on_stream(b, state_of(b, packet_kind::sync, {alive("b")}));
  ASSERT_EQ(engine_.find(b)->state, member_state::alive);
  streamed_.clear();
  engine_.on_stream(b, state_of(member_key{"c", 9}, packet_kind::sync, {alive("c"), b_dead}));
  engine_.on_stream(b, state_of(member_key{"b", 8}, packet_kind::sync_reply, {b_dead}));
  EXPECT_EQ(engine_.stats().stream_refused, 2U);
  EXPECT_EQ(engine_.find(b)->state, member_state::alive);
  EXPECT_FALSE(engine_.find(member_key{"c", 9})) << "nothing of the forged state was taken";
  EXPECT_TRUE(streamed_.empty()) << "and it was not answered";
}

TEST_F(one_engine, only_push_pull_travels_on_the_stream) {
  const member_key b{"b", 9};
  engine_.on_stream(b, state_of(b, packet_kind::gossip, {alive("b"), alive("c")}));
  EXPECT_EQ(engine_.stats().stream_refused, 1U);
  EXPECT_EQ(engine_.members().size(), 1U);
}

}  // namespace
}  // namespace troupe::cluster
