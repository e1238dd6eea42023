#pragma once

// The simulated-cluster test kit: N full troupe nodes (an actor system, a
// net::node and a cluster member each) in one process, on one simulated
// network and one virtual clock, all drawn from one seed. See
// docs/cluster.md, "Testing your actors on a simulated cluster".

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/core/error.hpp"
#include "troupe/core/result.hpp"
#include "troupe/core/system.hpp"
#include "troupe/net/node.hpp"
#include "troupe/net/remote_types.hpp"
#include "troupe/sim/network.hpp"
#include "troupe/sim/runtime.hpp"

namespace troupe::cluster::testing {

/// What a sim_cluster call throws when it cannot do what it was asked: a
/// node index out of range (errc::invalid_argument), a node in the wrong
/// state for the call (node_down for a crashed one, invalid_argument for one
/// that runs), a node that could not start (the error its start returned),
/// or a require() whose condition did not hold in time (timeout). what()
/// says which node and why.
class sim_cluster_error : public std::runtime_error {
 public:
  explicit sim_cluster_error(troupe::error e);
  /// Returns the code to branch on and the detail.
  [[nodiscard]] const troupe::error& failure() const noexcept { return error_; }
  /// Returns failure().code().
  [[nodiscard]] errc code() const noexcept { return error_.code(); }

 private:
  troupe::error error_;
};

/// Makes the remote types of one node: every actor type that receives
/// messages from another node (the same list on every node).
using remote_types_factory = std::function<result<net::remote_types>()>;

/// Returns a factory of the remote types `A...` (net::remote_types::of),
/// none of them spawnable from another node.
template <class... A>
remote_types_factory types_of() {
  return [] { return net::remote_types::of<A...>(); };
}

class sim_cluster;

/// Configures a sim_cluster.
struct sim_cluster_config {
  /// How many nodes start with the kit (more join with add()).
  std::size_t nodes = 3;
  /// Seeds the runtime (clock, executor, random source, the network's
  /// draws) and the nodes' incarnations: the same seed replays the same run.
  std::uint64_t seed = 1;
  /// Node i is named "<prefix><i>" and listens, for sessions and for
  /// gossip, on "<prefix><i>:<port>" (not 0).
  std::string prefix = "n";
  std::uint16_t port = 7000;
  /// The cluster cookie of every node.
  std::string cookie = "sim-cluster";
  /// Makes each node's remote types, at every start (restarts included).
  /// Empty: none (membership still works; no actor is reachable from
  /// another node).
  remote_types_factory types{};
  /// The simulated network's latency, jitter, datagram loss and so on
  /// (network().options() changes them later).
  sim::network_options network{};
  /// Changes a node's config before it starts (index, config): timings,
  /// limits, another cookie. The kit then sets name, listen and incarnation.
  std::function<void(std::size_t, net::node_config&)> node_setup{};
  /// Changes a member's config before it starts (index, config), after the
  /// kit has set its seeds: the first node starts alone, the other first
  /// nodes join through it, and a node started later (add(), restart())
  /// joins through every other node up at that moment.
  std::function<void(std::size_t, cluster_config&)> cluster_setup{};
  /// Runs after each life of a node starts (first start, add(), restart()),
  /// before time moves: spawn and check in the node's actors here, as its
  /// main() would.
  std::function<void(sim_cluster&, std::size_t)> on_start{};
  /// Receives every node's log lines. Default: dropped.
  std::function<void(std::string_view)> log{};
  /// Records the transcript (see sim_cluster::transcript()).
  bool record = true;
};

/// How a node dies in sim_cluster::crash().
enum class crash_mode : std::uint8_t {
  /// Its process is killed (kill -9) on a machine that stays up: its
  /// connections are reset, datagrams to it are dropped, dials to it are
  /// refused at once.
  process,
  /// Its machine is gone: connections are reset as above, but dials to it
  /// hang until the network's connect_timeout.
  machine,
};

/// N troupe nodes in one process on troupe::sim: each an actor system, a
/// net::node and a cluster member (SWIM membership and the replicated
/// receptionist), joined as they would be on real machines, over one
/// simulated network (sim::network) on one virtual clock. Everything comes
/// from the seed (the network's delays and losses, the nodes'
/// incarnations), so a run replays exactly: transcript() is the same for
/// the same seed and the same test.
///
/// ```
/// sim_cluster c({.nodes = 3, .seed = 42, .types = types_of<kv_store>()});
/// c.require([&] { return c.one_view(); }, 10s, "the cluster forms");
/// auto kv = c.sys(2).spawn<kv_store>().value();
/// c.sys(2).receptionist().check_in("kv", kv).value();
/// c.require([&] { return c.sys(0).receptionist().lookup<kv_store>("kv"); }, 2s, "n0 finds kv");
/// c.crash(2);                              // kill -9: no goodbye
/// c.require([&] { return c.all_see({0, 1}, 2, member_state::dead); }, 10s, "n2 is dead");
/// c.restart(2);                            // same name and address, new incarnation
/// ```
///
/// Time moves only through advance(), run_until() and require() (or a
/// response's get(), which drives the runtime). Nodes are numbered from 0 in
/// the order they started; a node keeps its number, name and address over
/// its lives (crash() then restart()). Calls with a number out of range, or
/// on a node in the wrong state, throw sim_cluster_error.
///
/// Thread safety: one thread only, the one that drives the runtime.
class sim_cluster {
 public:
  /// Starts `config.nodes` nodes. Throws sim_cluster_error when one cannot
  /// start (a bad prefix or cookie, remote types that clash).
  explicit sim_cluster(sim_cluster_config config);
  /// Stops every member, node and system (past lives too), then the network.
  ~sim_cluster();
  sim_cluster(const sim_cluster&) = delete;
  sim_cluster& operator=(const sim_cluster&) = delete;

  // ---- nodes ---------------------------------------------------------------

  /// Starts one more node, joined through every node up now; returns its
  /// number.
  std::size_t add();
  /// Returns how many nodes there are, up or down.
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  /// Returns node i's name ("n0", ...).
  [[nodiscard]] const std::string& name(std::size_t i) const;
  /// Returns node i's address ("n0:7000"), the same for sessions and gossip.
  [[nodiscard]] std::string address(std::size_t i) const;
  /// Returns whether node i runs (started and not crashed since).
  [[nodiscard]] bool is_up(std::size_t i) const;
  /// Returns the numbers of the nodes that run, in order.
  [[nodiscard]] std::vector<std::size_t> up() const;

  /// Returns node i's actor system (its current life). Throws node_down
  /// when the node is down.
  [[nodiscard]] troupe::system& sys(std::size_t i);
  /// Returns node i's net::node (its current life).
  [[nodiscard]] net::node& node(std::size_t i);
  /// Returns node i's cluster member (its current life).
  [[nodiscard]] cluster& member(std::size_t i);
  /// Returns the incarnation of node i's current life (of its last one when
  /// it is down).
  [[nodiscard]] std::uint64_t incarnation(std::size_t i) const;
  /// Returns node i's identity as a member: its name and incarnation.
  [[nodiscard]] member_key key(std::size_t i) const;

  /// Returns how many lives node i has had (1 before any restart).
  [[nodiscard]] std::size_t lives(std::size_t i) const;
  /// Returns the incarnation of life `life` (from 0) of node i.
  [[nodiscard]] std::uint64_t incarnation(std::size_t i, std::size_t life) const;
  /// Returns the actor system of life `life` of node i, up or crashed. A
  /// crashed life's system is kept, cut off from every other node, until the
  /// kit is destroyed: ask its actors what they got before the crash.
  [[nodiscard]] troupe::system& sys(std::size_t i, std::size_t life);

  // ---- faults --------------------------------------------------------------

  /// Kills node i abruptly: no goodbye, no leave. Its connections are reset
  /// (peers' pending asks to it end with node_down), what is on its way to
  /// it is lost, and its member stops gossiping: the others find it dead by
  /// failure detection. Throws node_down when it is down already.
  void crash(std::size_t i, crash_mode how = crash_mode::process);
  /// Starts node i again after crash(): the same name and address, a new
  /// incarnation (drawn from the seed), a new actor system, joined through
  /// every other node up now. config.on_start runs for it. Throws
  /// invalid_argument when it runs.
  void restart(std::size_t i);
  /// Freezes node i (a stopped process: connections stall without closing,
  /// it sends nothing, what it is sent waits) until thaw(i).
  void freeze(std::size_t i);
  /// Resumes a frozen node i. Throws invalid_argument when it is not frozen.
  void thaw(std::size_t i);
  /// Cuts every path between a node of `a` and a node of `b`, both ways.
  void partition(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b);
  /// Cuts the path from `from` to `to` only.
  void partition_one_way(std::size_t from, std::size_t to);
  /// Lifts every partition.
  void heal();

  // ---- time ----------------------------------------------------------------

  /// Runs all ready work; time does not move.
  void run();
  /// Moves virtual time forward by `d`, running everything due meanwhile.
  void advance(duration d);
  /// Moves time forward in 10 ms steps until `done()` holds (checked first)
  /// or `limit` has passed; returns whether it held.
  template <class Pred>
  bool run_until(Pred done, duration limit) {
    return rt_.advance_until(done, limit);
  }
  /// Like run_until(), but throws sim_cluster_error (timeout) naming `what`
  /// when `done()` does not hold within `limit`.
  template <class Pred>
  void require(Pred done, duration limit, std::string_view what) {
    const duration from = elapsed();
    if (!rt_.advance_until(done, limit)) fail_wait(what, limit, from);
  }
  /// Returns the virtual time.
  [[nodiscard]] time_point now() const noexcept { return rt_.now(); }
  /// Returns the virtual time since the kit started.
  [[nodiscard]] duration elapsed() const noexcept { return rt_.now() - t0_; }

  // ---- what the nodes see --------------------------------------------------

  /// Returns whether node `observer` (up) holds node m's current (or last)
  /// life in `state`.
  [[nodiscard]] bool sees(std::size_t observer, std::size_t m, member_state state) const;
  /// Returns whether every node of `who` holds node m's current (or last)
  /// life in `state`.
  [[nodiscard]] bool all_see(const std::vector<std::size_t>& who, std::size_t m,
                             member_state state) const;
  /// Returns whether the nodes up hold one view: each holds every other
  /// node up alive (its current life), and every other life it knows of (a
  /// crashed node, an earlier incarnation) dead or left.
  [[nodiscard]] bool one_view() const;
  /// Returns whether each node of `who` has a session with every other.
  [[nodiscard]] bool full_mesh(const std::vector<std::size_t>& who) const;
  /// full_mesh() of the nodes up.
  [[nodiscard]] bool full_mesh() const { return full_mesh(up()); }
  /// Returns whether the receptionists of `who` hold the same entries
  /// (private ones excepted).
  [[nodiscard]] bool same_registry(const std::vector<std::size_t>& who) const;
  /// same_registry() of the nodes up.
  [[nodiscard]] bool same_registry() const { return same_registry(up()); }
  /// Returns whether the process groups of `who` hold the same memberships.
  [[nodiscard]] bool same_groups(const std::vector<std::size_t>& who) const;
  /// same_groups() of the nodes up.
  [[nodiscard]] bool same_groups() const { return same_groups(up()); }

  // ---- the transcript ------------------------------------------------------

  /// Returns what happened, one line each, "<seconds since start> s  <what>":
  /// each start, crash and network fault of the kit, each membership change
  /// every node saw, each session that came up or went down, and the lines
  /// given to note(). Empty when config.record is false.
  [[nodiscard]] const std::vector<std::string>& transcript() const noexcept { return log_; }
  /// Adds a line to the transcript.
  void note(std::string_view what);

  // ---- the simulation itself -----------------------------------------------

  /// Returns the runtime: the clock, executor and random source.
  [[nodiscard]] sim::runtime& runtime() noexcept { return rt_; }
  /// Returns the network, for faults the kit has no call for (cut(),
  /// set_latency(), options()).
  [[nodiscard]] sim::network& network() noexcept { return net_; }

 private:
  struct life;
  struct slot;

  void start_life(std::size_t i, std::vector<std::string> seeds);
  void teardown() noexcept;
  [[noreturn]] void fail_wait(std::string_view what, duration limit, duration from) const;
  [[noreturn]] void fail(errc code, std::string detail) const;
  const slot& at(std::size_t i) const;
  slot& at(std::size_t i);
  slot& up_at(std::size_t i, std::string_view call);
  const slot& up_at(std::size_t i, std::string_view call) const;
  bool same_digest(const std::vector<std::size_t>& who, std::string_view what,
                   std::uint64_t (*digest)(troupe::system&)) const;
  std::vector<std::string> names(const std::vector<std::size_t>& who) const;

  sim_cluster_config config_;
  sim::runtime rt_;
  sim::network net_;
  sim::seeded_random incarnations_;
  time_point t0_{};
  std::vector<std::string> log_;
  // Declared last: destroyed first (teardown() has stopped them in order).
  std::vector<std::unique_ptr<slot>> nodes_;
};

}  // namespace troupe::cluster::testing
