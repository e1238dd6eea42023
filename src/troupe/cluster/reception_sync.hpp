#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "troupe/core/clock.hpp"
#include "troupe/core/process_groups.hpp"
#include "troupe/core/receptionist.hpp"
#include "troupe/net/node.hpp"

namespace troupe::cluster {

/// Counters of a reception_sync (both tables together).
struct reception_sync_stats {
  std::uint64_t batches_sent = 0;     ///< change batches sent to peers
  std::uint64_t batches_applied = 0;  ///< batches that changed something here
  std::uint64_t snapshots_sent = 0;   ///< of the batches sent, whole states
  std::uint64_t wants_sent = 0;       ///< requests for a peer's changes
  std::uint64_t gaps = 0;             ///< batches that found changes missing
  std::uint64_t refused = 0;          ///< malformed, or not from their origin
  std::uint64_t from_dead = 0;        ///< batches from a life declared gone
};

/// Replicates a node's receptionist and process groups to the nodes it has
/// sessions with, and theirs to it (the cluster runs one per member; see
/// docs/cluster.md, "Replicated receptionist and process groups").
///
/// Every node is the only writer of its own entries and memberships. For
/// each table it sends its changes (a delta since what the peer has, or its
/// whole state when the removals the peer misses are no longer kept) to
/// each peer on node channel 1, as they happen. A peer asks for them with a
/// `want` carrying the version it has: when a session comes up, when a
/// batch finds a gap, and every `anti_entropy` period. Batches are only
/// accepted from their origin's own session, so no node can write
/// another's entries.
///
/// Thread safety: every member may be called from any thread. The node and
/// the receptionist must outlive it; stop() it before they go.
class reception_sync {
 public:
  /// Takes over the replication hooks of `r` and `g` (either may be null:
  /// that table is not replicated) and sets their origin to this node's
  /// life; listens on the node's channel 1. `on_conflict` (may be empty)
  /// hears of every entry of this node that loses its label to another
  /// node's, on the thread that applied the other's change, with no lock
  /// held. Fails with invalid_argument when both tables are null.
  static result<std::unique_ptr<reception_sync>> start(
      clock& time, net::node& n, receptionist* r, process_groups* g, duration anti_entropy,
      std::function<void(const reception_conflict&)> on_conflict = {});
  ~reception_sync();
  reception_sync(const reception_sync&) = delete;
  reception_sync& operator=(const reception_sync&) = delete;

  /// A session with `peer` (this life) is authenticated: ask for its entries.
  void session_up(const std::string& peer, std::uint64_t incarnation);
  /// The session ended: what was sent to it no longer counts.
  void session_down(const std::string& peer, std::uint64_t incarnation);
  /// Membership holds `peer` alive (joined, or back): its entries are
  /// welcome again, and are asked for if a session is up.
  void member_up(const std::string& peer, std::uint64_t incarnation);
  /// Membership declared `peer` dead or it left: its entries and
  /// memberships go, here and (as every node does the same) everywhere.
  void member_gone(const std::string& peer, std::uint64_t incarnation);

  [[nodiscard]] reception_sync_stats stats() const;
  /// Releases the hooks and the channel; later calls do nothing.
  void stop() noexcept;

  class impl;

 private:
  explicit reception_sync(std::shared_ptr<impl> i) : impl_(std::move(i)) {}
  std::shared_ptr<impl> impl_;
};

}  // namespace troupe::cluster
