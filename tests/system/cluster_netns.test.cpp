#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "member_process.hpp"

// The chaos test: cluster members in network namespaces of their own, on one
// bridge (itself in a namespace, so nothing touches this machine's network),
// made and removed by the test. Faults come from signals (kill -9, SIGSTOP /
// SIGCONT) and from nft rules inside the members' namespaces (partitions,
// random drop). It prints the measured figures as RESULT lines (env=netns).
//
// Every member checks in 20 actors (--entries), and while a partition lasts
// each checks 5 out and 5 new ones in (stdin commands), so that after the
// heal the replicated receptionists have news to exchange: the heal is
// measured to one view (every member holds every member alive) and then to
// equal registries (every member's digest the same, over every entry).
//
// The quick run (in ./run test) uses 5 members and short faults; with
// TROUPE_CHAOS_FULL=1 it uses 10 members, 30 s and 90 s 7/3 partitions and
// 3 minutes at each drop rate (the figures in bench/RESULTS.md).
// TROUPE_CHAOS_STOPS=<n> stops a member n times instead (2 quick, 5 full),
// for a finer silent-failure figure.

namespace system_test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5))];
}

/// Deletes the namespaces a run that was killed left behind: "tc<pid>..."
/// whose process no longer exists.
void remove_stale_namespaces() {
  FILE* list = popen("ip netns list 2>/dev/null", "r");
  if (list == nullptr) return;
  std::vector<std::string> stale;
  char line[256];
  for (int i = 0; i < 4096 && std::fgets(line, sizeof line, list) != nullptr; ++i) {
    std::string name(line);
    name = name.substr(0, name.find_first_of(" \n"));
    if (name.size() < 3 || name.compare(0, 2, "tc") != 0) continue;
    std::size_t end = 2;
    while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
    if (end == 2 || end - 2 > 9) continue;
    const std::string rest = name.substr(end);
    if (rest != "sw" && (rest.size() < 2 || rest[0] != 'm')) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name.substr(2, end - 2)));
    if (pid != getpid() % 100000 && kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(name);
  }
  pclose(list);
  for (const std::string& name : stale) run("ip netns del " + name);
}

/// A member's gossip counters at one moment (its own clock).
struct load_sample {
  long long t_ms = -1;
  unsigned long long packets = 0;
  unsigned long long bytes = 0;
};

/// N namespaces joined by a bridge; member i is 10.79.0.(i+1).
class bridged_hosts {
 public:
  explicit bridged_hosts(std::size_t n) : n_(n), tag_("tc" + std::to_string(getpid() % 100000)) {
    remove_stale_namespaces();
    ok_ = run("ip netns add " + sw()) == 0 &&
          run("ip netns exec " + sw() + " ip link add br0 type bridge") == 0 &&
          run("ip netns exec " + sw() + " ip link set br0 up") == 0;
    for (std::size_t i = 0; ok_ && i < n; ++i) {
      const std::string ns = host(i);
      const std::string a = tag_ + "a" + std::to_string(i);  // in the member
      const std::string b = tag_ + "b" + std::to_string(i);  // on the bridge
      ok_ = run("ip netns add " + ns) == 0 &&
            run("ip link add " + a + " type veth peer name " + b) == 0 &&
            run("ip link set " + a + " netns " + ns) == 0 &&
            run("ip link set " + b + " netns " + sw()) == 0 &&
            run("ip netns exec " + sw() + " ip link set " + b + " master br0") == 0 &&
            run("ip netns exec " + sw() + " ip link set " + b + " up") == 0 &&
            run("ip netns exec " + ns + " ip addr add " + ip(i) + "/24 dev " + a) == 0 &&
            run("ip netns exec " + ns + " ip link set " + a + " up") == 0 &&
            run("ip netns exec " + ns + " ip link set lo up") == 0 &&
            run("ip netns exec " + ns + " nft add table inet chaos") == 0 &&
            run("ip netns exec " + ns +
                " nft add chain inet chaos in '{ type filter hook input priority 0; }'") == 0 &&
            run("ip netns exec " + ns +
                " nft add chain inet chaos out '{ type filter hook output priority 0; }'") == 0;
    }
  }
  ~bridged_hosts() {
    for (std::size_t i = 0; i < n_; ++i) run("ip netns del " + host(i));
    run("ip netns del " + sw());
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string host(std::size_t i) const { return tag_ + "m" + std::to_string(i); }
  [[nodiscard]] static std::string ip(std::size_t i) { return "10.79.0." + std::to_string(i + 1); }
  [[nodiscard]] std::vector<std::string> exec(std::size_t i) const {
    return {"ip", "netns", "exec", host(i)};
  }
  /// Drops, inside member i's namespace, everything to and from `others`.
  void cut_off(std::size_t i, const std::vector<std::size_t>& others) {
    std::string set;
    for (std::size_t o : others) set += (set.empty() ? "" : ", ") + ip(o);
    nft(i, "add rule inet chaos in ip saddr { " + set + " } drop");
    nft(i, "add rule inet chaos out ip daddr { " + set + " } drop");
  }
  /// Drops `pct` percent of the packets arriving in member i's namespace.
  void random_drop(std::size_t i, int pct) {
    nft(i, "add rule inet chaos in numgen random mod 100 < " + std::to_string(pct) + " drop");
  }
  void clear(std::size_t i) {
    nft(i, "flush chain inet chaos in");
    nft(i, "flush chain inet chaos out");
  }

 private:
  [[nodiscard]] std::string sw() const { return tag_ + "sw"; }
  void nft(std::size_t i, const std::string& rule) {
    EXPECT_EQ(run("ip netns exec " + host(i) + " nft '" + rule + "'"), 0) << rule;
  }
  std::size_t n_;
  std::string tag_;
  bool ok_ = false;
};

struct netns_cluster {
  /// Actors each member checks in at start.
  static constexpr std::size_t entries_each = 20;

  explicit netns_cluster(std::size_t n) : hosts(n) {
    if (!hosts.ok()) return;
    for (std::size_t i = 0; i < n; ++i) members.push_back(start(i));
  }
  /// Starts member i (again: a new life), joined through m0.
  std::unique_ptr<member_process> start(std::size_t i) {
    return std::make_unique<member_process>(
        name(i), bridged_hosts::ip(i) + ":7000", i == 0 ? "" : bridged_hosts::ip(0) + ":7000",
        hosts.exec(i), std::vector<std::string>{"--entries", std::to_string(entries_each)});
  }
  ~netns_cluster() {
    for (auto& m : members) m->kill_now();
    if (::testing::Test::HasFailure())
      for (std::size_t i = 0; i < members.size(); ++i)
        std::printf("--- m%zu printed:\n%s", i, members[i]->transcript().c_str());
  }
  static std::string name(std::size_t i) { return "m" + std::to_string(i); }
  bool joined(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (i != j && members[i]->wait_for("joined", name(j), 30s).empty()) return false;
    return true;
  }
  /// Seconds from `t0` until every member in `observers` printed `event`
  /// about `subject` (after `from_ms` on its own clock); -1 past `limit`.
  double until_all(const std::vector<std::size_t>& observers, const std::string& event,
                   std::size_t subject, clock_type::time_point t0, std::chrono::seconds limit) {
    for (std::size_t i : observers) {
      const auto deadline = t0 + limit;
      while (members[i]->count(event, name(subject)) <= seen(i, event, subject)) {
        if (clock_type::now() > deadline) return -1;
        std::this_thread::sleep_for(20ms);
      }
    }
    return seconds_since(t0);
  }
  /// Remembers how many `event` lines about `subject` each member printed so
  /// far, so that until_all() waits for a new one.
  void mark(const std::string& event, std::size_t subject) {
    marks.clear();
    for (std::size_t i = 0; i < members.size(); ++i)
      marks.push_back(members[i]->count(event, name(subject)));
    mark_event = event;
  }
  std::size_t seen(std::size_t i, const std::string& event, std::size_t) {
    return event == mark_event && i < marks.size() ? marks[i] : 0;
  }
  /// True when every member holds every member (by name) alive: asks each
  /// for its member list.
  bool one_view() {
    for (auto& m : members) {
      const std::string line = m->ask("members", "members", 5s);
      for (std::size_t j = 0; j < members.size(); ++j) {
        bool alive = false;
        for (std::size_t at = line.find("{\"state\":"); !alive && at != std::string::npos;
             at = line.find("{\"state\":", at + 1)) {
          const std::string one = line.substr(at, line.find('}', at) - at);
          alive = json_field(one, "member") == name(j) && json_field(one, "state") == "alive";
        }
        if (!alive) return false;
      }
    }
    return true;
  }
  /// True when every member's receptionist digest is the same and shows
  /// `entries` entries: asks each for its digest.
  bool same_registry(std::size_t entries) {
    const auto start = clock_type::now();
    std::string first;
    for (auto& m : members) {
      const std::string line = m->ask("digest", "digest", 5s);
      const std::string d = json_field(line, "digest");
      if (d.empty() || json_field(line, "entries") != std::to_string(entries)) return false;
      if (first.empty()) first = d;
      if (d != first) return false;
    }
    round_s = seconds_since(start);
    return true;
  }
  /// Seconds from `t0` until `pred` holds (polled every 20 ms), or -1 when
  /// it does not by `limit` after `t0`.
  template <class Pred>
  static double until(Pred pred, clock_type::time_point t0, std::chrono::seconds limit) {
    for (int poll = 0; poll < 100'000; ++poll) {
      if (pred()) return seconds_since(t0);
      if (clock_type::now() > t0 + limit) return -1;
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }
  /// Member i checks `out` out and `in` in; false when one was refused.
  bool churn(std::size_t i, const std::vector<std::string>& out,
             const std::vector<std::string>& in) {
    for (const std::string& label : out)
      if (members[i]->ask("unregister " + label, "unregistered", 5s).empty()) return false;
    for (const std::string& label : in)
      if (members[i]->ask("register " + label, "registered", 5s).empty()) return false;
    return true;
  }
  std::size_t dead_count(std::size_t n) {
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (i != j) total += members[i]->count("dead", name(j));
    return total;
  }

  bridged_hosts hosts;
  std::vector<std::unique_ptr<member_process>> members;

  // Each member's gossip counters now ("stats"); t_ms -1 when it did not
  // answer within 5 s.
  std::vector<load_sample> load() {
    std::vector<load_sample> out;
    for (auto& m : members) {
      const std::string l = m->ask("stats", "stats", 5s);
      load_sample s;
      if (!l.empty()) {
        s.t_ms = std::stoll(json_field(l, "t_ms"));
        s.packets = std::stoull(json_field(l, "packets_sent"));
        s.bytes = std::stoull(json_field(l, "bytes_sent"));
      }
      out.push_back(s);
    }
    return out;
  }
  std::vector<std::size_t> marks;
  std::string mark_event;
  /// How long the last same_registry() that held took (it asked everyone).
  double round_s = 0;
};

std::vector<std::size_t> all_but(std::size_t n, std::size_t skip) {
  std::vector<std::size_t> v;
  for (std::size_t i = 0; i < n; ++i)
    if (i != skip) v.push_back(i);
  return v;
}

TEST(cluster_netns, members_on_a_bridge_survive_kills_stops_partitions_and_loss) {
  if (geteuid() != 0 || run("ip netns list") != 0 || run("nft --version") != 0)
    GTEST_SKIP() << "needs root, iproute2 and nftables";
  const bool full = std::getenv("TROUPE_CHAOS_FULL") != nullptr;
  const std::size_t n = full ? 10 : 5;
  const int repeats = full ? 5 : 2;
  const char* stops_env = std::getenv("TROUPE_CHAOS_STOPS");
  const int stops = stops_env != nullptr ? std::max(1, std::atoi(stops_env)) : repeats;
  const auto drop_span = full ? std::chrono::seconds(180) : std::chrono::seconds(20);
  netns_cluster c(n);
  ASSERT_TRUE(c.hosts.ok()) << "could not make the namespaces";
  ASSERT_TRUE(c.joined(n)) << "the members did not find each other";

  // kill -9, host up: restart the member afterwards as a new life.
  std::vector<double> kill_s;
  for (int r = 0; r < repeats; ++r) {
    const std::size_t victim = 1 + static_cast<std::size_t>(r) % (n - 1);
    c.mark("dead", victim);
    const auto t0 = clock_type::now();
    c.members[victim]->kill_now();
    const double s = c.until_all(all_but(n, victim), "dead", victim, t0, 20s);
    ASSERT_GE(s, 0) << "kill -9 of m" << victim << " was not detected everywhere";
    kill_s.push_back(s);
    c.mark("joined", victim);  // before the restart: it may join within milliseconds
    c.members[victim] = c.start(victim);
    ASSERT_GE(c.until_all(all_but(n, victim), "joined", victim, clock_type::now(), 30s), 0);
  }
  std::printf(
      "RESULT bench=swim_detect_kill impl=troupe env=netns nodes=%zu runs=%zu p50_s=%.2f "
      "p99_s=%.2f\n",
      n, kill_s.size(), quantile(kill_s, 0.5), quantile(kill_s, 0.99));

  // SIGSTOP: a silent member; SIGCONT brings it back (it refutes).
  std::vector<double> stop_s;
  for (int r = 0; r < stops; ++r) {
    const std::size_t victim = 1 + static_cast<std::size_t>(r + 1) % (n - 1);
    c.mark("dead", victim);
    const auto t0 = clock_type::now();
    c.members[victim]->signal(SIGSTOP);
    const double s = c.until_all(all_but(n, victim), "dead", victim, t0, 30s);
    c.mark("alive", victim);  // before SIGCONT: it may be back within milliseconds
    c.members[victim]->signal(SIGCONT);
    ASSERT_GE(s, 0) << "SIGSTOP of m" << victim << " was not detected everywhere";
    stop_s.push_back(s);
    ASSERT_GE(c.until_all(all_but(n, victim), "alive", victim, clock_type::now(), 30s), 0)
        << "m" << victim << " did not come back after SIGCONT";
  }
  std::printf(
      "RESULT bench=swim_detect_silent impl=troupe env=netns nodes=%zu runs=%zu "
      "p50_s=%.2f p99_s=%.2f\n",
      n, stop_s.size(), quantile(stop_s, 0.5), quantile(stop_s, 0.99));

  // A partition (7/3 at 10 members), healed: time from the heal until one
  // view, and from that until equal registries. Every member churns 5
  // entries half-way through, so each side has news for the other.
  const std::size_t big = n * 7 / 10;
  std::vector<std::size_t> side_a;
  std::vector<std::size_t> side_b;
  for (std::size_t i = 0; i < n; ++i) (i < big ? side_a : side_b).push_back(i);
  const std::size_t total_entries = n * netns_cluster::entries_each;
  ASSERT_GE(
      netns_cluster::until([&] { return c.same_registry(total_entries); }, clock_type::now(), 30s),
      0)
      << "the registries did not agree before the partition";
  int round = 0;
  for (auto span : full ? std::vector<std::chrono::seconds>{30s, 90s}
                        : std::vector<std::chrono::seconds>{10s}) {
    c.mark("dead", side_b.front());
    for (std::size_t i : side_a) c.hosts.cut_off(i, side_b);
    for (std::size_t i : side_b) c.hosts.cut_off(i, side_a);
    const auto cut = clock_type::now();
    std::this_thread::sleep_for(span / 2);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::string> out;
      std::vector<std::string> in;
      for (int k = 0; k < 5; ++k) {
        out.push_back(netns_cluster::name(i) + "/e" + std::to_string(5 * round + k));
        in.push_back(netns_cluster::name(i) + "/r" + std::to_string(round) + "/n" +
                     std::to_string(k));
      }
      ASSERT_TRUE(c.churn(i, out, in)) << "m" << i << " refused a churn command";
    }
    ++round;
    std::this_thread::sleep_until(cut + span);
    ASSERT_GE(c.until_all(side_a, "dead", side_b.front(), clock_type::now(), 1s), 0)
        << "the partition was not noticed";
    EXPECT_FALSE(c.same_registry(total_entries)) << "the sides' registries should differ";
    const auto t0 = clock_type::now();
    for (std::size_t i = 0; i < n; ++i) c.hosts.clear(i);
    // Each poll asks every member; a figure is the time at the end of the
    // first poll that holds. Registries already equal at the first poll
    // after one view count 0 (as in bench/swim_sim.cpp).
    const double view_s = netns_cluster::until([&] { return c.one_view(); }, t0, 60s);
    ASSERT_GE(view_s, 0) << "the sides did not merge after a " << span.count() << " s partition";
    const double from_heal_s =
        c.same_registry(total_entries)
            ? view_s
            : netns_cluster::until([&] { return c.same_registry(total_entries); }, t0, 120s);
    EXPECT_GE(from_heal_s, 0) << "the registries did not agree within 120 s of the heal after a "
                              << span.count() << " s partition";
    // poll_s: how long the round that found equal registries took (every
    // figure is late by up to one round).
    std::printf(
        "RESULT bench=converge_after_heal impl=troupe env=netns nodes=%zu "
        "partition_s=%lld view_s=%.2f registry_s=%.2f registry_from_heal_s=%.2f poll_s=%.3f\n",
        n, static_cast<long long>(span.count()), view_s,
        from_heal_s < 0 ? -1.0 : from_heal_s - view_s, from_heal_s, c.round_s);
    std::this_thread::sleep_for(5s);  // settle before the next fault
  }

  // Random drop on every member's input: false deaths over the span. Over
  // the 10% span, each member's gossip load too (what it sends: input drop
  // leaves that alone but for the probes it makes indirect).
  for (int pct : {10, 20}) {
    const std::size_t before = c.dead_count(n);
    const std::vector<load_sample> load_from = c.load();
    for (std::size_t i = 0; i < n; ++i) c.hosts.random_drop(i, pct);
    std::this_thread::sleep_for(drop_span);
    for (std::size_t i = 0; i < n; ++i) c.hosts.clear(i);
    const std::size_t false_deaths = c.dead_count(n) - before;
    if (pct == 10) {
      const std::vector<load_sample> load_to = c.load();
      double pkts = 0, bytes = 0;
      std::size_t counted = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const double s = static_cast<double>(load_to[i].t_ms - load_from[i].t_ms) / 1000.0;
        if (load_from[i].t_ms < 0 || load_to[i].t_ms < 0 || s <= 0) continue;
        pkts += static_cast<double>(load_to[i].packets - load_from[i].packets) / s;
        bytes += static_cast<double>(load_to[i].bytes - load_from[i].bytes) / s;
        ++counted;
      }
      ASSERT_EQ(counted, n) << "a member did not answer stats";
      std::printf(
          "RESULT bench=swim_load impl=troupe env=netns nodes=%zu input_drop_pct=10 "
          "seconds=%lld pkts_s=%.2f bytes_s=%.1f\n",
          n, static_cast<long long>(drop_span.count()), pkts / static_cast<double>(n),
          bytes / static_cast<double>(n));
      EXPECT_GT(pkts, 0.0);
    }
    std::printf(
        "RESULT bench=swim_false_deaths_%dpct impl=troupe env=netns nodes=%zu count=%zu "
        "seconds=%lld\n",
        pct, n, false_deaths, static_cast<long long>(drop_span.count()));
    if (pct == 10) {
      EXPECT_EQ(false_deaths, 0u) << "false deaths at 10% drop";
    }
    std::this_thread::sleep_for(5s);
  }
}

}  // namespace
}  // namespace system_test
