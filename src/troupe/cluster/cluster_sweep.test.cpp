#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "troupe/cluster/reception_wire.hpp"
#include "troupe/cluster/testing/cluster_nodes.hpp"

// The full-node seed sweep: for each seed, 4 or 5 troupe nodes (net::node +
// cluster with the replicated receptionist) on the simulated network at 10%
// datagram loss, each with a counter checked in as "svc/c<i>", clients on
// every node telling and asking the others' counters found through the
// replicated receptionist, and two or three faults drawn from the seed:
// symmetric and one-way partitions that heal, a freeze and thaw, a jump of
// the clock (every timer due meanwhile fires late), a crash with or without
// a restart as a new incarnation. Everything (the scenario, the network, the
// nodes' incarnations) comes from the seed, so a failing seed replays
// exactly: TROUPE_CLUSTER_SEED=<seed> runs it alone and prints its
// transcript. TROUPE_CLUSTER_SEEDS=<n> (from TROUPE_CLUSTER_FIRST_SEED,
// default 1) changes the range; TROUPE_CLUSTER_VERBOSE=1 prints every
// transcript.

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;
using net::node_testing::blob;
using net::node_testing::counter;
using net::node_testing::echo;
using net::node_testing::nap;
using net::node_testing::total;
using testing::cluster_nodes;

constexpr std::uint64_t default_seeds = 500;  // about 3 s in a Release build
constexpr duration detect_bound = 6s;    // crash -> dead and its entry gone at every live member
constexpr duration view_bound = 3s;      // final heal -> one view
constexpr duration registry_bound = 2s;  // one view -> equal registries
constexpr duration service_bound = 10s;  // equal registries -> every live pair answers
constexpr duration settle_bound = 20s;   // a heal before the last -> one view and registry
// How long after a partition, a freeze or a clock jump a member may still
// be declared dead for it: the side that could not hear the others held
// them dead, and its verdicts spread when it is heard again (SWIM accepts a
// verdict at the incarnation it names; the member then refutes).
constexpr duration verdicts_spread = 3s;
constexpr duration ask_slack = 50ms;  // an ask ends this soon after its deadline

// Joins strings with += (GCC 12 warns wrongly about "literal" + std::string).
template <class... T>
std::string cat(const T&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}
std::string name_of(std::size_t i) {
  std::string s = "c";
  s += std::to_string(i);
  return s;
}
std::string label_of(std::size_t i) {
  std::string s = "svc/";
  s += name_of(i);
  return s;
}
std::string seconds(duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", std::chrono::duration<double>(d).count());
  return buf;
}

// One life of a node: its incarnation and its counter (a local endpoint).
struct life {
  std::uint64_t incarnation = 0;
  endpoint<counter> svc;
  time_point crashed = time_point::max();
};

// A life a restart replaced: stopped, and kept to the end (its counter is read).
struct past_life {
  std::unique_ptr<system> sys;
  std::unique_ptr<net::node> node;
  std::unique_ptr<cluster> member;
  ~past_life() { sys->shutdown(1s); }
};

template <class R>
struct pending_ask {
  response<R> reply;
  R expect;
  std::size_t target = 0;
  std::size_t life = 0;
  time_point at{};
  duration deadline{};
  bool ended = false;
};

// What the seeds measured, for the summary line: the slowest ...
struct figures {
  duration detect{};    // crash -> dead and gone everywhere
  duration view{};      // final heal -> one view
  duration registry{};  // one view -> equal registries
  duration service{};   // equal registries -> every live pair answers
  std::size_t asks = 0, replied = 0, tells = 0, delivered = 0;
  // Deaths of live members while a partition, a freeze or a clock jump
  // lasted (the sides could not hear each other), and within
  // verdicts_spread after it ended (verdicts made apart, heard after).
  std::size_t excused_deaths = 0;
  std::size_t excused_after = 0;  // of those, after the fault ended
};

// One seed's run. run() returns "" or the first thing that went wrong.
class sweep_run {
 public:
  // Adds what this seed measures to `fig` (sums and maxima over seeds).
  sweep_run(std::uint64_t seed, figures& fig)
      : pick_(seed * 0x9e3779b97f4a7c15ULL + 1), fig_(fig), c_(0, seed) {}

  std::string run() {
    try {
      scenario();
    } catch (const std::exception& e) {
      fail(e.what());
    }
    return failure_;
  }
  [[nodiscard]] const std::vector<std::string>& transcript() const { return log_; }
  [[nodiscard]] std::uint64_t transcript_hash() const {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const auto& line : log_)
      for (char ch : line) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
    return h;
  }

 private:
  void scenario();
  template <class... T>
  void note(const T&... what) {
    log_.push_back(cat(seconds(c_.rt.now() - t0_), "  ", what...));
  }
  template <class... T>
  void fail(const T&... what) {
    note("FAIL ", what...);
    if (failure_.empty()) failure_ = cat(what...);
  }
  std::uint64_t draw(std::uint64_t bound) { return pick_.below(bound); }
  duration draw_ms(std::int64_t lo, std::int64_t hi) {
    return std::chrono::milliseconds(lo + static_cast<std::int64_t>(draw(hi - lo + 1)));
  }
  [[nodiscard]] member_key key_of(std::size_t i) const {
    return member_key{name_of(i), lives_[i].back().incarnation};
  }
  [[nodiscard]] std::vector<std::size_t> live() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < n_; ++i)
      if (!down_[i]) out.push_back(i);
    return out;
  }

  void run_for(duration d) {
    (void)run_until([] { return false; }, d);
  }

  void start_life(std::size_t i, std::vector<std::string> seeds) {
    const std::string name = name_of(i);
    auto sys = std::make_unique<system>(c_.rt.config());
    net::node_config cfg;
    cfg.name = name;
    cfg.listen = name + ":7000";
    cfg.cookie = "cluster-secret";
    cfg.incarnation = 1 + draw(std::uint64_t{1} << 62);  // from the seed: replays exactly
    cfg.log = [](std::string_view) {};
    auto host = c_.net.host(name);  // a crashed host restarts
    auto nd = net::node::start(*sys, cfg, net::node_testing::test_types(), host);
    if (!nd) throw std::runtime_error(cat("node ", name, ": ", nd.error().message()));
    cluster_config cc;
    cc.seeds = std::move(seeds);
    auto m = cluster::start(c_.rt.clock(), c_.rt.random(), *host, **nd, cc);
    if (!m) throw std::runtime_error(cat("member ", name, ": ", m.error().message()));
    // The counter is the first actor of every life, so a new life's has the
    // old one's actor id: only the incarnation tells them apart.
    auto svc = sys->spawn<counter>();
    if (!svc || !sys->receptionist().check_in(label_of(i), *svc))
      throw std::runtime_error(cat("the counter of ", name, " did not start"));
    const std::size_t l = i < n_ ? lives_[i].size() : 0;
    (*m)->members().subscribe([this, i, l](const member_event& e) {
      note(name_of(i), " sees ", e.member.key.name, "#",
           std::to_string(e.member.key.generation % 10000), " ", std::string(to_string(e.what)),
           " inc ", std::to_string(e.member.incarnation));
      if (e.what == member_event::kind::dead) deaths_.push_back({i, l, e.member.key, c_.rt.now()});
    });
    (*nd)->subscribe([this, i](const net::node_event& e) {
      const bool up = e.what == net::node_event::kind::authenticated;
      if (e.what != net::node_event::kind::connected)
        note(name_of(i), (up ? " session up " : " session down "), e.node, " ", e.reason);
    });
    if (i == n_) {
      ++n_;
      lives_.emplace_back();
      down_.push_back(false);
      cache_.emplace_back();
      for (auto& row : cache_) row.resize(n_ + 1);
      c_.systems.emplace_back();
      c_.hosts.emplace_back();
      c_.nodes.emplace_back();
      c_.clusters.emplace_back();
    } else {  // a restart: the old life stops, and stays until the end
      c_.clusters[i]->stop();
      c_.nodes[i]->stop();
      past_.push_back(std::unique_ptr<past_life>(new past_life{
          std::move(c_.systems[i]), std::move(c_.nodes[i]), std::move(c_.clusters[i])}));
      down_[i] = false;
    }
    c_.systems[i] = std::move(sys);
    c_.hosts[i] = std::move(host);
    c_.nodes[i] = std::move(*nd);
    c_.clusters[i] = std::move(*m);
    lives_[i].push_back(life{cfg.incarnation, *svc});
    note("started ", name, "#", std::to_string(cfg.incarnation % 10000));
  }

  // Every live member holds every live member's current life alive, and every
  // other life it knows of (a crashed node, an old incarnation) dead or left.
  bool one_view() {
    const auto up = live();
    for (std::size_t i : up) {
      std::size_t alive = 0;
      for (const auto& m : c_.clusters[i]->members().members()) {
        if (m.key.name == name_of(i)) continue;
        bool current = false;
        for (std::size_t j : up)
          if (m.key == key_of(j)) current = true;
        if (current) {
          if (m.state != member_state::alive) return false;
          ++alive;
        } else if (m.state != member_state::dead && m.state != member_state::left) {
          return false;
        }
      }
      if (alive != up.size() - 1) return false;
    }
    return true;
  }

  // Equal digests, and the live members show exactly the live nodes' labels.
  bool registries_agree() {
    const auto up = live();
    if (!c_.same_registry(up)) return false;
    const auto& rec = c_.systems[up.front()]->receptionist();
    if (rec.entries().size() != up.size()) return false;
    for (std::size_t j : up)
      if (!rec.find(label_of(j))) return false;
    return true;
  }

  // One client operation: a tell with a fresh seq and an ask with a deadline,
  // from a random live node to another node's counter, found through the
  // client's replicated receptionist (or the endpoint it found before, which
  // may name an old life).
  void traffic() {
    const auto up = live();
    if (up.size() < 2) return;
    const std::size_t from = up[draw(up.size())];
    std::size_t to = draw(n_ - 1);
    if (to >= from) ++to;
    auto& cached = cache_[from][to];
    if (!cached.first || draw(2) == 0) {
      auto& rec = c_.systems[from]->receptionist();
      auto entry = rec.find(label_of(to));
      if (!entry) return;
      std::size_t which = lives_[to].size();
      for (std::size_t l = 0; l < lives_[to].size(); ++l)
        if (entry->stamp.origin ==
            reception_wire::origin_of(name_of(to), lives_[to][l].incarnation))
          which = l;
      if (which < lives_[to].size()) cached = {rec.lookup<counter>(label_of(to)), which};
      if (which == lives_[to].size() || !cached.first) {
        fail(name_of(from), "'s entry ", label_of(to), " names no counter of a life of it");
        return;
      }
    }
    const int seq = next_seq_++;
    const time_point now = c_.rt.now();
    tells_[seq] = {to, cached.second};
    if (lives_[to][cached.second].crashed <= now) late_tells_.insert(seq);
    blob b{seq, std::string(draw(64), 'x')};
    (void)cached.first.tell(std::move(b));
    const duration deadline = draw_ms(200, 2000);
    if (draw(4) == 0) {
      nap slow{static_cast<int>(draw(400))};
      naps_.push_back(
          {cached.first.ask(slow, deadline), slow.ms, to, cached.second, now, deadline});
    } else {
      echo hello{std::to_string(seq)};
      std::string want = cat("echo: ", hello.text);
      echoes_.push_back(
          {cached.first.ask(hello, deadline), std::move(want), to, cached.second, now, deadline});
    }
  }

  // An ask still open well past its deadline is a failure at once.
  template <class R>
  void watch_deadlines(std::vector<pending_ask<R>>& asks) {
    const time_point now = c_.rt.now();
    for (auto& a : asks) {
      if (a.ended) continue;
      if (a.reply.ready()) {
        a.ended = true;
      } else if (now > a.at + a.deadline + ask_slack) {
        a.ended = true;
        fail("an ask to ", name_of(a.target), " sent at ", seconds(a.at - t0_),
             " outlived its deadline of ", seconds(a.deadline));
      }
    }
  }

  // Advances time in 10 ms steps, with an operation every 100 ms, until `p`
  // holds (true) or `limit` has passed (false).
  template <class Pred>
  bool run_until(Pred p, duration limit) {
    const time_point end = c_.rt.now() + limit;
    for (int step = 0; !p(); ++step) {
      if (c_.rt.now() >= end) return false;
      if (step % 10 == 0) {
        traffic();
        watch_deadlines(echoes_);
        watch_deadlines(naps_);
      }
      c_.rt.advance(10ms);
    }
    return true;
  }

  // A partition of one or two nodes from the rest (kind 0), a one-way
  // partition (1: x stops hearing y) or a freeze (2: x's links stall and its
  // datagrams wait), lifted after 0.5 to 8 s.
  void network_fault(std::uint64_t kind) {
    std::vector<std::size_t> order = live();
    for (std::size_t k = 0; k + 1 < order.size(); ++k)
      std::swap(order[k], order[k + draw(order.size() - k)]);
    const std::string x = name_of(order[0]);
    const std::string y = name_of(order[1]);
    const duration d = draw_ms(kind == 2 ? 500 : 1000, kind == 2 ? 6000 : 8000);
    std::string line;
    if (kind == 0) {
      const std::size_t apart = 1 + draw(order.size() > 4 ? 2 : 1);
      std::vector<std::string> a;
      std::vector<std::string> b;
      for (std::size_t k = 0; k < order.size(); ++k)
        (k < apart ? a : b).push_back(name_of(order[k]));
      line = "partition";
      for (const auto& s : a) line += cat(" ", s);
      line += " |";
      for (const auto& s : b) line += cat(" ", s);
      c_.net.partition(a, b);
    } else if (kind == 1) {
      line = cat("one-way partition ", x, " -> ", y);
      c_.net.partition_one_way(x, y);
    } else {
      line = cat("freeze ", x);
      c_.net.freeze(x);
    }
    note(line, " for ", seconds(d));
    const time_point from = c_.rt.now();
    run_for(d);
    if (kind == 2) {
      c_.net.thaw(x);
    } else {
      c_.net.heal();
    }
    note(kind == 2 ? "thaw" : "heal");
    excused_.push_back({from, c_.rt.now(), c_.rt.now() + verdicts_spread});
  }

  // The clock jumps 2 to 5 s at once: every timer due meanwhile fires late,
  // in due order, before anything it causes (as after a pause of the world).
  void jump_fault() {
    const duration d = draw_ms(2000, 5000);
    note("clock jumps ", seconds(d));
    const time_point from = c_.rt.now();
    c_.rt.clock().set(from + d);
    c_.rt.advance(0ms);
    excused_.push_back({from, c_.rt.now(), c_.rt.now() + verdicts_spread});
  }

  // Crashes a node: every live member must hold it dead, and none show its
  // entry, within detect_bound. Then (unless it is the last fault and the
  // draw says so) it restarts as a new life, and clients that still hold the
  // old life's endpoint use it.
  void crash_fault(bool final) {
    const auto up = live();
    const std::size_t v = up[draw(up.size())];
    note("crash ", name_of(v));
    c_.net.crash(name_of(v));
    const time_point at = c_.rt.now();
    lives_[v].back().crashed = at;
    down_[v] = true;
    const auto others = live();
    const member_key k = key_of(v);
    const bool gone = run_until(
        [&] {
          for (std::size_t i : others) {
            auto m = c_.clusters[i]->members().find(k);
            if (!m || m->state != member_state::dead) return false;
            if (c_.systems[i]->receptionist().find(label_of(v))) return false;
          }
          return true;
        },
        15s);
    const duration took = c_.rt.now() - at;
    fig_.detect = std::max(fig_.detect, took);
    note(name_of(v), " dead and gone everywhere after ", seconds(took));
    if (!gone) fail("crashed ", name_of(v), " not dead and gone everywhere after 15 s");
    if (gone && took > detect_bound)
      fail("crashed ", name_of(v), " dead and gone everywhere only after ", seconds(took));
    if (final && draw(3) == 0) return;  // it stays down
    run_for(draw_ms(0, 2000));
    std::vector<std::string> seeds;
    for (std::size_t i = 0; i < n_; ++i)
      if (i != v) seeds.push_back(name_of(i) + ":7000");
    start_life(v, seeds);
    (void)run_until([&] { return registries_agree(); }, 5s);
    for (std::size_t from : live()) {
      auto& cached = cache_[from][v];
      if (!cached.first || cached.second + 1 == lives_[v].size()) continue;
      const int seq = next_seq_++;
      tells_[seq] = {v, cached.second};
      late_tells_.insert(seq);
      (void)cached.first.tell(blob{seq, {}});
      echo stale{std::to_string(seq)};
      std::string want = cat("echo: ", stale.text);
      echoes_.push_back(
          {cached.first.ask(stale, 1s), std::move(want), v, cached.second, c_.rt.now(), 1s});
    }
  }

  void final_checks() {
    // The final heal: one view within 3 s, equal registries within 2 s of it.
    const time_point healed = c_.rt.now();
    if (!run_until([&] { return one_view(); }, view_bound + 10s))
      fail("no one view ", seconds(view_bound + 10s), " after the final heal");
    const duration view = c_.rt.now() - healed;
    fig_.view = std::max(fig_.view, view);
    if (view > view_bound) fail("one view only ", seconds(view), " after the final heal");
    const time_point viewed = c_.rt.now();
    if (!run_until([&] { return registries_agree(); }, registry_bound + 10s))
      fail("registries differ ", seconds(registry_bound + 10s), " after one view");
    const duration registry = c_.rt.now() - viewed;
    fig_.registry = std::max(fig_.registry, registry);
    if (registry > registry_bound)
      fail("equal registries only ", seconds(registry), " after one view");
    note("one view after ", seconds(view), ", equal registries ", seconds(registry), " later");

    // Every live node reaches every other's counter by label again.
    const time_point agreed = c_.rt.now();
    for (std::size_t from : live())
      for (std::size_t to : live()) {
        bool answered = from == to;
        for (int k = 0; k < 100 && !answered && c_.rt.now() - agreed <= service_bound; ++k) {
          if (auto ep = c_.systems[from]->receptionist().lookup<counter>(label_of(to))) {
            echo again{"again"};
            auto r = ep.ask(again, 1s);
            answered = run_until([&] { return r.ready(); }, 2s) && std::move(r).get().has_value();
          }
          if (!answered) run_for(100ms);
        }
        if (!answered)
          fail(name_of(from), " gets no answer from ", label_of(to), " ", seconds(service_bound),
               " after the registries agreed");
      }
    fig_.service = std::max(fig_.service, c_.rt.now() - agreed);
    note("every live pair answers after ", seconds(c_.rt.now() - agreed));

    // Loss alone for 10 s: nobody may die now; then every ask has ended.
    run_for(10s);
    const time_point quiet = c_.rt.now();
    while (c_.rt.now() - quiet < 3s) c_.rt.advance(10ms);
    check_asks(echoes_);
    check_asks(naps_);
    check_deliveries();
    check_deaths();
  }

  // Every ask ended: with the reply it asked for, or a typed error; none sent
  // to a life after it crashed got a reply.
  template <class R>
  void check_asks(std::vector<pending_ask<R>>& asks) {
    for (auto& a : asks) {
      ++fig_.asks;
      if (!a.reply.ready()) {
        fail("an ask to ", name_of(a.target), " sent at ", seconds(a.at - t0_), " never ended");
        continue;
      }
      auto got = std::move(a.reply).get();
      if (got) {
        ++fig_.replied;
        if (*got != a.expect) fail("an ask to ", name_of(a.target), " got another's reply");
        if (lives_[a.target][a.life].crashed <= a.at)
          fail("an ask sent at ", seconds(a.at - t0_), " to a crashed life of ", name_of(a.target),
               " got a reply");
        continue;
      }
      const errc code = got.error().code();
      if (code != errc::timeout && code != errc::node_down && code != errc::actor_not_found)
        fail("an ask to ", name_of(a.target), " ended with ", got.error().message());
    }
  }

  // Every seq reached at most one counter, at most once: the counter of the
  // life it was sent to, and never a life that had crashed before it was sent.
  void check_deliveries() {
    std::map<int, int> seen;
    for (std::size_t t = 0; t < n_; ++t)
      for (std::size_t l = 0; l < lives_[t].size(); ++l) {
        auto r = lives_[t][l].svc.ask(total{}, 5s);
        if (!run_until([&] { return r.ready(); }, 6s)) {
          fail("the counter of ", name_of(t), " does not answer");
          continue;
        }
        auto got = std::move(r).get();
        if (!got) {
          fail("the counter of ", name_of(t), " failed: ", got.error().message());
          continue;
        }
        for (int seq : *got) {
          const std::string which = cat("seq ", std::to_string(seq));
          if (++seen[seq] > 1) fail(which, " delivered twice");
          auto it = tells_.find(seq);
          if (it == tells_.end()) {
            fail(which, " was never sent");
          } else if (it->second.first != t) {
            fail(which, " for ", name_of(it->second.first), " reached ", name_of(t));
          } else if (it->second.second != l) {
            fail(which, " for life ", std::to_string(it->second.second), " of ", name_of(t),
                 " reached life ", std::to_string(l));
          } else if (late_tells_.count(seq) != 0) {
            fail(which, " sent after ", name_of(t), " crashed reached it");
          }
        }
      }
    fig_.tells += tells_.size();
    fig_.delivered += seen.size();
  }

  // A member is declared dead only if that life crashed, or while the verdicts
  // of a partition, a freeze or a clock jump may spread. (What a crashed life
  // still thinks, cut off from everything, does not count.)
  void check_deaths() {
    for (const auto& d : deaths_) {
      if (lives_[d.observer][d.life].crashed <= d.at) continue;
      const std::size_t m = std::stoul(d.member.name.substr(1));
      bool crashed = false;
      for (const auto& l : lives_[m])
        if (l.incarnation == d.member.generation && l.crashed <= d.at) crashed = true;
      if (crashed) continue;
      const bool during = std::any_of(excused_.begin(), excused_.end(), [&](const excuse& x) {
        return d.at >= x.from && d.at <= x.ended;
      });
      const bool spread = std::any_of(excused_.begin(), excused_.end(), [&](const excuse& x) {
        return d.at > x.ended && d.at <= x.until;
      });
      if (during || spread) {
        ++fig_.excused_deaths;
        if (!during) ++fig_.excused_after;
      } else {
        fail("false death: ", name_of(d.observer), " declared ", d.member.name, " dead at ",
             seconds(d.at - t0_));
      }
    }
  }

  sim::seeded_random pick_;  // the scenario's draws, apart from the runtime's
  std::vector<std::string> log_;
  std::string failure_;
  figures& fig_;
  std::size_t n_ = 0;
  std::vector<std::vector<life>> lives_;
  std::vector<bool> down_;  // crashed and not restarted
  struct death {
    std::size_t observer;
    std::size_t life;  // the observer's
    member_key member;
    time_point at;
  };
  std::vector<death> deaths_;
  struct excuse {
    time_point from;   // the fault began
    time_point ended;  // it was lifted
    time_point until;  // verdicts made meanwhile may still spread
  };
  std::vector<excuse> excused_;
  // Per client, per target: the endpoint it looked up last and the life it names.
  std::vector<std::vector<std::pair<endpoint<counter>, std::size_t>>> cache_;
  std::map<int, std::pair<std::size_t, std::size_t>> tells_;  // seq -> (target, life)
  std::set<int> late_tells_;                                  // sent to a life after it crashed
  std::vector<pending_ask<std::string>> echoes_;
  std::vector<pending_ask<int>> naps_;
  int next_seq_ = 1;
  time_point t0_{};
  // Last: destroyed first, so that no listener outlives what it writes to,
  // and past lives go before the fixture's runtime.
  cluster_nodes c_;
  std::vector<std::unique_ptr<past_life>> past_;
};

void sweep_run::scenario() {
  t0_ = c_.rt.now();
  const std::size_t nodes = 4 + draw(2);
  auto& opts = c_.net.options();
  opts.datagram_loss = 0.10;
  opts.datagram_duplicate = 0.02 * static_cast<double>(draw(3));
  opts.jitter = draw_ms(0, 3);
  note("nodes ", std::to_string(nodes), ", jitter ", seconds(opts.jitter));
  for (std::size_t i = 0; i < nodes; ++i)
    start_life(i, i == 0 ? std::vector<std::string>{} : std::vector<std::string>{"c0:7000"});
  if (!run_until([&] { return one_view() && c_.full_mesh(live()) && registries_agree(); }, 15s)) {
    fail("the cluster did not form within 15 s");
    return;
  }
  note("formed");
  // Every client looks the counters up, so that it holds endpoints of the
  // first lives; then loss alone for a while.
  for (int k = 0; k < 40; ++k) traffic();
  run_for(draw_ms(1000, 3000));

  const std::size_t faults = 2 + draw(2);
  bool crashed = false;
  for (std::size_t f = 0; f < faults; ++f) {
    const bool final = f + 1 == faults;
    std::uint64_t kind = draw(5);
    if (kind == 4 && crashed) kind = draw(4);  // one crash at most
    if (kind < 3) {
      network_fault(kind);
    } else if (kind == 3) {
      jump_fault();
    } else {
      crashed = true;
      crash_fault(final);
    }
    if (final) break;
    if (!run_until([&] { return one_view() && registries_agree(); }, settle_bound))
      fail("no one view and registry within ", seconds(settle_bound), " of a heal");
    run_for(draw_ms(0, 1000));
  }
  final_checks();
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::stoull(v);
}

TEST(cluster_sweep, five_hundred_seeds_of_full_nodes_with_faults) {
  std::uint64_t first = env_number("TROUPE_CLUSTER_FIRST_SEED", 1);
  std::uint64_t count = env_number("TROUPE_CLUSTER_SEEDS", default_seeds);
  const bool one = std::getenv("TROUPE_CLUSTER_SEED") != nullptr;
  if (one) {
    first = env_number("TROUPE_CLUSTER_SEED", 1);
    count = 1;
  }
  const bool verbose = one || env_number("TROUPE_CLUSTER_VERBOSE", 0) != 0;
  std::size_t failed = 0;
  figures worst;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    std::string why;
    std::uint64_t hash = 0;
    {
      sweep_run r(seed, worst);
      why = r.run();
      hash = r.transcript_hash();
      if (verbose) {
        for (const auto& l : r.transcript()) std::printf("%s\n", l.c_str());
        std::printf("seed %llu transcript hash %016llx\n", static_cast<unsigned long long>(seed),
                    static_cast<unsigned long long>(hash));
      }
    }
    if (why.empty() && seed % 10 == 0) {  // it replays: the same transcript again
      figures ignored;
      sweep_run again(seed, ignored);
      (void)again.run();
      if (again.transcript_hash() != hash) why = "a second run differs from the first";
    }
    if (!why.empty()) {
      ++failed;
      ADD_FAILURE() << "seed " << seed << ": " << why << "\n  replay: TROUPE_CLUSTER_SEED=" << seed
                    << " troupe_cluster_tests --gtest_filter='cluster_sweep.*'";
    }
  }
  std::printf(
      "cluster_sweep: %llu seeds, %zu failed; worst: detect %s, view %s, registry %s, service "
      "%s; %zu asks (%zu replied), %zu tells (%zu delivered), %zu excused deaths (%zu after the "
      "fault ended)\n",
      static_cast<unsigned long long>(count), failed, seconds(worst.detect).c_str(),
      seconds(worst.view).c_str(), seconds(worst.registry).c_str(), seconds(worst.service).c_str(),
      worst.asks, worst.replied, worst.tells, worst.delivered, worst.excused_deaths,
      worst.excused_after);
  EXPECT_EQ(failed, 0U);
}

// Found by the sweep: a node whose sessions timed out in a partition redials
// into it, and that dial stays in flight until its connect timeout (3 s on
// the simulated network) although the partition healed meanwhile. Sessions,
// and the registries they carry, came back only then: up to 3 s after
// membership held one view again, more than the 2 s target. Now the cluster
// checks its mesh every second and a connect() supersedes a dial that has
// been in flight for a while.
TEST(cluster_sweep, sessions_are_back_within_two_seconds_of_one_view_after_a_short_partition) {
  cluster_nodes c(3, 4);
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  c.net.partition({"c0"}, {"c1", "c2"});
  c.rt.advance(3500ms);  // c0's sessions time out after 3 s; it redials
  c.net.heal();
  auto one_view = [&] {
    for (std::size_t m = 0; m < 3; ++m)
      if (!c.all_see({0, 1, 2}, m, member_state::alive)) return false;
    return true;
  };
  ASSERT_TRUE(c.run_until(one_view, 10s));
  const time_point viewed = c.rt.now();
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  EXPECT_LE(c.rt.now() - viewed, 2s)
      << "sessions back " << seconds(c.rt.now() - viewed) << " after one view";
}

}  // namespace
}  // namespace troupe::cluster
