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
#include "troupe/cluster/testing/test_cluster.hpp"

// The full-node seed sweep: for each seed, 4 or 5 troupe nodes (net::node +
// cluster with the replicated receptionist) on the simulated network at 10%
// datagram loss, each with a counter checked in as "svc/c<i>", clients on
// every node telling and asking the others' counters found through the
// replicated receptionist, and two or three faults drawn from the seed:
// symmetric and one-way partitions that heal, a freeze and thaw, a jump of
// the clock (every timer due meanwhile fires late), a crash (a killed
// process or a crashed machine) with or without a restart as a new
// incarnation. The nodes are the test kit's (sim_cluster.hpp). Everything
// (the scenario, the network, the nodes' incarnations) comes from the seed,
// so a failing seed replays exactly: TROUPE_CLUSTER_SEED=<seed> runs it alone
// and prints its transcript. TROUPE_CLUSTER_SEEDS=<n> (from TROUPE_CLUSTER_FIRST_SEED,
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
using testing::crash_mode;
using testing::sim_cluster;
using testing::sim_cluster_config;
using testing::test_cluster;

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
      : seed_(seed), pick_(seed * 0x9e3779b97f4a7c15ULL + 1), fig_(fig) {}

  std::string run() {
    try {
      scenario();
    } catch (const std::exception& e) {
      fail(e.what());
    }
    return failure_;
  }
  [[nodiscard]] const std::vector<std::string>& transcript() const {
    static const std::vector<std::string> none;
    return c_ ? c_->transcript() : none;
  }
  [[nodiscard]] std::uint64_t transcript_hash() const {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const auto& line : transcript())
      for (char ch : line) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
    return h;
  }

 private:
  void scenario();
  template <class... T>
  void note(const T&... what) {
    if (c_) c_->note(cat(what...));
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
  [[nodiscard]] member_key key_of(std::size_t i) const { return c_->key(i); }
  [[nodiscard]] std::vector<std::size_t> live() const { return c_->up(); }

  void run_for(duration d) {
    (void)run_until([] { return false; }, d);
  }

  // Each life of node i (the kit's on_start): a counter, the first actor of
  // every life (so a new life's has the old one's actor id: only the
  // incarnation tells them apart), checked in as svc/c<i>; and the deaths
  // this life sees.
  void on_life(sim_cluster& c, std::size_t i) {
    auto svc = c.sys(i).spawn<counter>();
    if (!svc || !c.sys(i).receptionist().check_in(label_of(i), *svc) ||
        !c.sys(i).groups().join("svc", "all", *svc))
      throw std::runtime_error(cat("the counter of ", name_of(i), " did not start"));
    if (i == lives_.size()) {
      lives_.emplace_back();
      cache_.emplace_back();
      for (auto& row : cache_) row.resize(lives_.size());
    }
    const std::size_t l = lives_[i].size();
    c.member(i).members().subscribe([this, i, l](const member_event& e) {
      if (e.what == member_event::kind::dead) deaths_.push_back({i, l, e.member.key, c_->now()});
    });
    lives_[i].push_back(life{c.incarnation(i), *svc});
  }

  // Equal digests of receptionists and groups, and the live members show
  // exactly the live nodes' labels and group members.
  bool registries_agree() {
    const auto up = live();
    if (!c_->same_registry(up) || !c_->same_groups(up)) return false;
    if (c_->sys(up.front()).groups().member_list("svc", "all").size() != up.size()) return false;
    const auto& rec = c_->sys(up.front()).receptionist();
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
    std::size_t to = draw(c_->size() - 1);
    if (to >= from) ++to;
    auto& cached = cache_[from][to];
    if (!cached.first || draw(2) == 0) {
      auto& rec = c_->sys(from).receptionist();
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
    const time_point now = c_->now();
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
    const time_point now = c_->now();
    for (auto& a : asks) {
      if (a.ended) continue;
      if (a.reply.ready()) {
        a.ended = true;
      } else if (now > a.at + a.deadline + ask_slack) {
        a.ended = true;
        fail("an ask to ", name_of(a.target), " sent at ", seconds(a.at - t0()),
             " outlived its deadline of ", seconds(a.deadline));
      }
    }
  }

  // Advances time in 10 ms steps, with an operation every 100 ms, until `p`
  // holds (true) or `limit` has passed (false).
  template <class Pred>
  bool run_until(Pred p, duration limit) {
    const time_point end = c_->now() + limit;
    for (int step = 0; !p(); ++step) {
      if (c_->now() >= end) return false;
      if (step % 10 == 0) {
        traffic();
        watch_deadlines(echoes_);
        watch_deadlines(naps_);
      }
      c_->advance(10ms);
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
    const duration d = draw_ms(kind == 2 ? 500 : 1000, kind == 2 ? 6000 : 8000);
    if (kind == 0) {
      const std::size_t apart = 1 + draw(order.size() > 4 ? 2 : 1);
      const std::vector<std::size_t> a(order.begin(), order.begin() + static_cast<long>(apart));
      const std::vector<std::size_t> b(order.begin() + static_cast<long>(apart), order.end());
      c_->partition(a, b);
    } else if (kind == 1) {
      c_->partition_one_way(order[0], order[1]);
    } else {
      c_->freeze(order[0]);
    }
    note("for ", seconds(d));
    const time_point from = c_->now();
    run_for(d);
    if (kind == 2) {
      c_->thaw(order[0]);
    } else {
      c_->heal();
    }
    excused_.push_back({from, c_->now(), c_->now() + verdicts_spread});
  }

  // The clock jumps 2 to 5 s at once: every timer due meanwhile fires late,
  // in due order, before anything it causes (as after a pause of the world).
  void jump_fault() {
    const duration d = draw_ms(2000, 5000);
    note("clock jumps ", seconds(d));
    const time_point from = c_->now();
    c_->runtime().clock().set(from + d);
    c_->advance(0ms);
    excused_.push_back({from, c_->now(), c_->now() + verdicts_spread});
  }

  // Crashes a node: every live member must hold it dead, and none show its
  // entry, within detect_bound. Then (unless it is the last fault and the
  // draw says so) it restarts as a new life, and clients that still hold the
  // old life's endpoint use it.
  void crash_fault(bool final) {
    const auto up = live();
    const std::size_t v = up[draw(up.size())];
    // A killed process (dials to its machine are refused) or a crashed
    // machine (they hang until the connect timeout).
    c_->crash(v, draw(2) == 0 ? crash_mode::process : crash_mode::machine);
    const time_point at = c_->now();
    lives_[v].back().crashed = at;
    const auto others = live();
    const member_key k = key_of(v);
    const bool gone = run_until(
        [&] {
          for (std::size_t i : others) {
            auto m = c_->member(i).members().find(k);
            if (!m || m->state != member_state::dead) return false;
            if (c_->sys(i).receptionist().find(label_of(v))) return false;
            for (const group_member& m : c_->sys(i).groups().member_list("svc", "all"))
              if (m.stamp.origin == reception_wire::origin_of(k.name, k.generation)) return false;
          }
          return true;
        },
        15s);
    const duration took = c_->now() - at;
    fig_.detect = std::max(fig_.detect, took);
    note(name_of(v), " dead and gone everywhere after ", seconds(took));
    if (!gone) fail("crashed ", name_of(v), " not dead and gone everywhere after 15 s");
    if (gone && took > detect_bound)
      fail("crashed ", name_of(v), " dead and gone everywhere only after ", seconds(took));
    if (final && draw(3) == 0) return;  // it stays down
    run_for(draw_ms(0, 2000));
    c_->restart(v);  // joins through every other node
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
          {cached.first.ask(stale, 1s), std::move(want), v, cached.second, c_->now(), 1s});
    }
  }

  void final_checks() {
    // The final heal: one view within 3 s, equal registries within 2 s of it.
    const time_point healed = c_->now();
    if (!run_until([&] { return c_->one_view(); }, view_bound + 10s))
      fail("no one view ", seconds(view_bound + 10s), " after the final heal");
    const duration view = c_->now() - healed;
    fig_.view = std::max(fig_.view, view);
    if (view > view_bound) fail("one view only ", seconds(view), " after the final heal");
    const time_point viewed = c_->now();
    if (!run_until([&] { return registries_agree(); }, registry_bound + 10s))
      fail("registries differ ", seconds(registry_bound + 10s), " after one view");
    const duration registry = c_->now() - viewed;
    fig_.registry = std::max(fig_.registry, registry);
    if (registry > registry_bound)
      fail("equal registries only ", seconds(registry), " after one view");
    note("one view after ", seconds(view), ", equal registries ", seconds(registry), " later");

    // Every live node reaches every other's counter by label again.
    const time_point agreed = c_->now();
    for (std::size_t from : live())
      for (std::size_t to : live()) {
        bool answered = from == to;
        for (int k = 0; k < 100 && !answered && c_->now() - agreed <= service_bound; ++k) {
          if (auto ep = c_->sys(from).receptionist().lookup<counter>(label_of(to))) {
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
    fig_.service = std::max(fig_.service, c_->now() - agreed);
    note("every live pair answers after ", seconds(c_->now() - agreed));

    // Loss alone for 10 s: nobody may die now; then every ask has ended.
    run_for(10s);
    const time_point quiet = c_->now();
    while (c_->now() - quiet < 3s) c_->advance(10ms);
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
        fail("an ask to ", name_of(a.target), " sent at ", seconds(a.at - t0()), " never ended");
        continue;
      }
      auto got = std::move(a.reply).get();
      if (got) {
        ++fig_.replied;
        if (*got != a.expect) fail("an ask to ", name_of(a.target), " got another's reply");
        if (lives_[a.target][a.life].crashed <= a.at)
          fail("an ask sent at ", seconds(a.at - t0()), " to a crashed life of ", name_of(a.target),
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
    for (std::size_t t = 0; t < c_->size(); ++t)
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
             seconds(d.at - t0()));
      }
    }
  }

  [[nodiscard]] time_point t0() const { return c_->now() - c_->elapsed(); }

  std::uint64_t seed_;
  sim::seeded_random pick_;  // the scenario's draws, apart from the runtime's
  std::string failure_;
  figures& fig_;
  std::vector<std::vector<life>> lives_;
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
  // Last: destroyed first, so that no listener outlives what it writes to.
  std::unique_ptr<sim_cluster> c_;
};

void sweep_run::scenario() {
  const std::size_t nodes = 4 + draw(2);
  sim_cluster_config cfg = test_cluster(0, seed_);
  cfg.network.datagram_loss = 0.10;
  cfg.network.datagram_duplicate = 0.02 * static_cast<double>(draw(3));
  cfg.network.jitter = draw_ms(0, 3);
  cfg.on_start = [this](sim_cluster& c, std::size_t i) { on_life(c, i); };
  c_ = std::make_unique<sim_cluster>(std::move(cfg));
  note("nodes ", std::to_string(nodes), ", jitter ", seconds(c_->network().options().jitter));
  for (std::size_t i = 0; i < nodes; ++i) (void)c_->add();
  if (!run_until([&] { return c_->one_view() && c_->full_mesh() && registries_agree(); }, 15s)) {
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
    if (!run_until([&] { return c_->one_view() && registries_agree(); }, settle_bound))
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
  sim_cluster c(test_cluster(3, 4));
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  c.partition({0}, {1, 2});
  c.advance(3500ms);  // c0's sessions time out after 3 s; it redials
  c.heal();
  ASSERT_TRUE(c.run_until([&] { return c.one_view(); }, 10s));
  const time_point viewed = c.now();
  ASSERT_TRUE(c.run_until([&] { return c.full_mesh({0, 1, 2}); }, 10s));
  EXPECT_LE(c.now() - viewed, 2s) << "sessions back " << seconds(c.now() - viewed)
                                  << " after one view";
}

}  // namespace
}  // namespace troupe::cluster
