#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "troupe/cluster/discovery.hpp"
#include "troupe/cluster/membership.hpp"
#include "troupe/cluster/reception_sync.hpp"
#include "troupe/core/ticker.hpp"
#include "troupe/net/node.hpp"

namespace troupe::cluster {

/// Configures a cluster.
struct cluster_config {
  /// Gossip addresses of members to join through (a member's gossip address
  /// is its node's address: the same host and port, over UDP).
  std::vector<std::string> seeds;
  /// Finds members while running (mDNS on the link, DNS names) and joins
  /// them as seeds; off by default. Runs from start() to leave() or stop().
  discovery_config discovery;
  /// Failure detection and gossip tuning.
  swim_config swim = swim_config::lan();
  /// Gossip encryption (membership_config::encryption); off by default.
  gossip_encryption encryption;
  /// Replicates the node's receptionist to every member and theirs here
  /// (see reception_sync): lookups, listings and keys span the cluster.
  bool replicate_receptionist = true;
  /// Replicates the node's process groups the same way: members() of a
  /// group lists the actors of every member node, and monitors hear of
  /// joins and leaves anywhere in the cluster.
  bool replicate_groups = true;
  /// How often each member asks every peer for its entries and memberships anyway, which
  /// repairs what a refused send left behind.
  duration anti_entropy = std::chrono::seconds(5);
  /// How often a member checks that it has a session with every live
  /// member it should dial, and dials those it lacks.
  duration mesh_check = std::chrono::seconds(1);
  /// Hears of every entry of this node that loses its label to another
  /// node's by the conflict rule (the lowest stamp, origin first, wins on
  /// every node). Runs on a node thread; keep it short. Default: a line in
  /// the node's log.
  std::function<void(const reception_conflict&)> on_label_conflict;
};

/// Makes a node a cluster member: membership (SWIM) runs beside the node on
/// the node's own host and port (UDP), with the node's name and incarnation
/// as the member's identity, and the two feed each other:
///
/// - every member that joins (or comes back) gets a node session (the
///   member with the smaller name dials, and redials while the other
///   lives): a node that joined through one seed can reach every actor on
///   every node;
/// - a member declared dead is no longer redialed and its session ends at
///   once: pending asks to it end with node_down and remote watches of its
///   actors fire, once each (a member that left closes its own sessions);
/// - the receptionists and process groups replicate (reception_sync): an
///   entry checked in, or an actor joined to a group, on any member is seen
///   on every member, and the entries and memberships of a member that is
///   declared dead or leaves disappear everywhere;
/// - a session that ends without the peer's goodbye (its process died, its
///   connection was reset) tells membership at once (swim::peer_lost), which
///   brings detection of a killed process down to the minimum suspicion;
/// - the periodic full-state sync with a member (push-pull) travels over
///   its node session, on node channel 2 (state_channel), when there is
///   one: a full state is not limited to a datagram, and one that arrives
///   there is taken only if it is sent in the session peer's own name;
/// - with `config.discovery`, mDNS advertises the node and what mDNS and the
///   DNS names find is joined (membership::join()) while the member runs.
///
/// Thread safety: every member may be called from any thread. The node must
/// outlive the cluster.
class cluster {
 public:
  /// Starts membership for `n` over `net` (the transport the node's host
  /// binds datagrams on), joining `config.seeds`, then the discovery
  /// `config.discovery` asks for. Fails with invalid_argument when the node
  /// does not listen (a member must be reachable), with what
  /// discovery::check() refuses (before anything starts: a refresh or
  /// timeout under 1 ms, a DNS server without names, mDNS options that set
  /// the node's identity; invalid_name for a bad DNS name), with what
  /// membership::start() returns, and with what mDNS returns when it cannot
  /// start on its interface (invalid_argument); nothing stays running after
  /// a failure. The details of discovery's errors start with "discovery: ".
  static result<std::unique_ptr<cluster>> start(clock& time, random_source& random, transport& net,
                                                net::node& n, cluster_config config);
  ~cluster();
  cluster(const cluster&) = delete;
  /// The node channel full-state syncs travel on (receptionist
  /// replication has 1).
  static constexpr std::uint8_t state_channel = 2;
  cluster& operator=(const cluster&) = delete;

  /// The membership: members, events, stats.
  [[nodiscard]] membership& members() noexcept { return *members_; }
  /// The replication counters of the receptionist and the process groups
  /// (all zero when both are off).
  [[nodiscard]] reception_sync_stats reception_stats() const {
    return sync_ ? sync_->stats() : reception_sync_stats{};
  }
  /// Stops discovery (mDNS says goodbye), then leaves the cluster (others
  /// see `left`, not `dead`) and stops joining sessions.
  void leave();
  /// Stops discovery, membership and the session joining (open sessions
  /// stay). Not from discovery's on_event.
  void stop() noexcept;

 private:
  cluster(net::node& n, std::unique_ptr<membership> m);
  void on_member(const member_event& e);
  void on_node(const net::node_event& e);
  // Dials live members this node should have a session with and has not
  // (a dial sent into a partition may hang after it heals).
  void keep_mesh();

  net::node& node_;
  std::unique_ptr<membership> members_;
  std::unique_ptr<reception_sync> sync_;
  std::unique_ptr<discovery> finder_;
  troupe::ticker* mesh_ = nullptr;
  std::uint64_t member_sub_ = 0;
  std::uint64_t node_sub_ = 0;
  // Counts the callbacks inside this object; stop() closes it and waits for
  // them (except one on its own thread). No lock is held while a callback
  // calls out: membership and the node call back from their own threads and
  // locks, and a lock here would close a cycle.
  struct gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = true;
    int inside = 0;
    // Enters; false once closed.
    bool enter() {
      std::lock_guard l(mu);
      if (!open) return false;
      ++inside;
      return true;
    }
    void leave() {
      std::lock_guard l(mu);
      if (--inside == 0) cv.notify_all();
    }
  };
  static thread_local int callbacks_here;
  std::shared_ptr<gate> gate_ = std::make_shared<gate>();
};

}  // namespace troupe::cluster
