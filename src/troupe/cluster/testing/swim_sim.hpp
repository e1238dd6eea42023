#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "troupe/cluster/swim.hpp"
#include "troupe/sim/manual_clock.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::cluster::testing {

/// Configures a swim_sim.
struct swim_sim_options {
  std::size_t nodes = 10;
  std::uint64_t seed = 1;
  swim_config config = swim_config::lan();
  /// Probability that a packet is lost.
  double loss = 0;
  /// One-way delay of every packet, plus a uniform draw up to jitter (which
  /// reorders packets).
  duration latency = std::chrono::microseconds(200);
  duration jitter = std::chrono::microseconds(300);
  /// How often every member's tick() runs.
  duration tick = std::chrono::milliseconds(10);
};

/// A SWIM cluster in one thread: `nodes` swim engines on a virtual clock,
/// joined through member 0, exchanging packets over a modelled network with
/// loss, delay, reordering, partitions, crashes and freezes, all drawn from
/// one seed (the same seed replays the same run). Members are numbered;
/// member i is "n<i>" at address "n<i>:7946".
class swim_sim {
 public:
  struct event_record {
    time_point at;
    std::size_t observer;
    member_event event;
  };

  explicit swim_sim(swim_sim_options o) : opts_(o), random_(o.seed) {
    for (std::size_t i = 0; i < o.nodes; ++i) nodes_.push_back(make_node(i, 1));
    for (std::size_t i = 1; i < o.nodes; ++i) nodes_[i]->engine->join({address(0)});
  }

  /// Lets `d` of virtual time pass.
  void run_for(duration d) {
    const time_point end = clock_.now() + d;
    while (clock_.now() < end) {
      const time_point step = std::min(end, clock_.now() + opts_.tick);
      deliver_until(step);
      clock_.set(step);
      while (!lost_.empty() && lost_.front().first <= step) {
        for (auto& n : nodes_)
          if (!n->crashed && !n->frozen) n->engine->peer_lost(lost_.front().second);
        lost_.erase(lost_.begin());
      }
      for (auto& n : nodes_)
        if (!n->crashed && !n->frozen) n->engine->tick();
    }
  }

  /// Runs until `pred()` holds (checked every tick) or `limit` passes;
  /// returns whether it held.
  template <class Pred>
  bool run_until(Pred pred, duration limit) {
    const time_point end = clock_.now() + limit;
    while (!pred()) {
      if (clock_.now() >= end) return false;
      run_for(opts_.tick);
    }
    return true;
  }

  [[nodiscard]] time_point now() const noexcept { return clock_.now(); }
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] swim& at(std::size_t i) { return *nodes_[i]->engine; }
  [[nodiscard]] const member_key& key(std::size_t i) const { return nodes_[i]->key; }
  [[nodiscard]] static std::string address(std::size_t i) {
    return "n" + std::to_string(i) + ":7946";
  }
  [[nodiscard]] bool crashed(std::size_t i) const { return nodes_[i]->crashed; }

  /// What member `observer` holds about member `subject` (its current life).
  [[nodiscard]] std::optional<member_state> state(std::size_t observer, std::size_t subject) const {
    auto m = nodes_[observer]->engine->find(nodes_[subject]->key);
    if (!m) return std::nullopt;
    return m->state;
  }
  /// True when every running member other than `subject` holds it in `s`.
  [[nodiscard]] bool all_see(std::size_t subject, member_state s) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (i == subject || nodes_[i]->crashed) continue;
      if (state(i, subject) != s) return false;
    }
    return true;
  }
  /// True when every running member holds every running member alive.
  [[nodiscard]] bool converged() const {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->crashed) continue;
      for (std::size_t j = 0; j < nodes_.size(); ++j) {
        if (i == j || nodes_[j]->crashed) continue;
        if (state(i, j) != member_state::alive) return false;
      }
    }
    return true;
  }

  /// Member `i`'s process stops without a word (a silent host, or a
  /// process nobody has a connection to).
  void crash(std::size_t i) { nodes_[i]->crashed = true; }
  /// Member `i`'s process is killed while its host stays up: every other
  /// member's connection to it is reset one latency later (peer_lost()).
  void kill(std::size_t i) {
    crash(i);
    lost_.push_back({clock_.now() + opts_.latency, nodes_[i]->key});
  }
  void freeze(std::size_t i) { nodes_[i]->frozen = true; }
  void thaw(std::size_t i) { nodes_[i]->frozen = false; }
  /// Restarts crashed member `i` as a new life (a new generation), joining
  /// through member `seed`.
  void restart(std::size_t i, std::size_t seed = 0) {
    nodes_[i] = make_node(i, nodes_[i]->key.generation + 1);
    nodes_[i]->engine->join({address(seed)});
  }
  /// Drops every packet between a member of `a` and one of `b`.
  void partition(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
    for (std::size_t x : a)
      for (std::size_t y : b) {
        blocked_.insert({x, y});
        blocked_.insert({y, x});
      }
  }
  void heal() { blocked_.clear(); }
  void set_loss(double p) { opts_.loss = p; }

  /// Every event any member saw, in order.
  [[nodiscard]] const std::vector<event_record>& events() const noexcept { return events_; }
  /// Counts `k` events about member `subject` (any life) since `from`.
  [[nodiscard]] std::size_t count(member_event::kind k, std::size_t subject,
                                  time_point from = time_point{}) const {
    std::size_t n = 0;
    for (const auto& e : events_)
      if (e.at >= from && e.event.what == k && e.event.member.key.name == name(subject)) ++n;
    return n;
  }
  [[nodiscard]] std::uint64_t packets_sent() const noexcept { return packets_; }
  [[nodiscard]] std::uint64_t bytes_sent() const noexcept { return bytes_; }

 private:
  struct node {
    member_key key;
    std::unique_ptr<sim::seeded_random> random;
    std::unique_ptr<swim> engine;
    bool crashed = false;
    bool frozen = false;
  };
  struct in_flight {
    std::size_t from;
    std::size_t to;
    std::vector<std::byte> data;
  };

  static std::string name(std::size_t i) { return "n" + std::to_string(i); }

  std::unique_ptr<node> make_node(std::size_t i, std::uint64_t generation) {
    auto n = std::make_unique<node>();
    n->key = member_key{name(i), generation};
    n->random = std::make_unique<sim::seeded_random>(opts_.seed * 7919 + i * 104729 + generation);
    n->engine = std::make_unique<swim>(
        n->key, address(i), opts_.config, clock_, *n->random,
        [this, i](std::string_view to, std::span<const std::byte> data) { send(i, to, data); },
        [this, i](const member_event& e) {
          events_.push_back({clock_.now(), i, e});
        });
    return n;
  }

  void send(std::size_t from, std::string_view to, std::span<const std::byte> data) {
    ++packets_;
    bytes_ += data.size();
    // "n<i>:7946"
    const std::size_t colon = to.find(':');
    if (to.size() < 2 || to[0] != 'n' || colon == std::string_view::npos) return;
    const std::size_t target = std::stoul(std::string(to.substr(1, colon - 1)));
    if (target >= nodes_.size()) return;
    if (blocked_.contains({from, target})) return;
    if (opts_.loss > 0 && uniform() < opts_.loss) return;
    const auto jitter_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.jitter).count();
    const duration delay =
        opts_.latency +
        std::chrono::nanoseconds(jitter_ns > 0 ? (random_.next() >> 11) % jitter_ns : 0);
    wire_.emplace(std::make_pair(clock_.now() + delay, seq_++),
                  in_flight{from, target, std::vector<std::byte>(data.begin(), data.end())});
  }

  void deliver_until(time_point t) {
    while (!wire_.empty() && wire_.begin()->first.first <= t) {
      auto node_handle = wire_.extract(wire_.begin());
      clock_.set(std::max(clock_.now(), node_handle.key().first));
      in_flight& p = node_handle.mapped();
      node& n = *nodes_[p.to];
      if (n.crashed || n.frozen) continue;  // a stopped process reads nothing
      n.engine->on_packet(address(p.from), p.data);
    }
  }

  double uniform() { return static_cast<double>(random_.next() >> 11) * 0x1.0p-53; }

  swim_sim_options opts_;
  sim::manual_clock clock_;
  sim::seeded_random random_;
  std::vector<std::unique_ptr<node>> nodes_;
  std::map<std::pair<time_point, std::uint64_t>, in_flight> wire_;
  std::uint64_t seq_ = 0;
  std::set<std::pair<std::size_t, std::size_t>> blocked_;
  std::vector<event_record> events_;
  std::vector<std::pair<time_point, member_key>> lost_;  // resets to report
  std::uint64_t packets_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace troupe::cluster::testing
