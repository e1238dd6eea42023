#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "troupe/cluster/reception_wire.hpp"
#include "troupe/core/process_groups.hpp"
#include "troupe/core/receptionist.hpp"
#include "troupe/net/node.hpp"

namespace troupe::cluster {

/// A table reception_sync replicates (the receptionist, the process
/// groups), as the sync sees it: this node's changes out as wire batches,
/// other nodes' batches in. Each implementation turns its table's ops into
/// wire ops and back, naming actors by their node address.
///
/// Thread safety: as the table's own (every member may be called from any
/// thread).
class replicated_table {
 public:
  virtual ~replicated_table() = default;

  [[nodiscard]] virtual reception_wire::table id() const noexcept = 0;
  /// Sets this node's origin on the table and `fn` as its local-change
  /// hook; `on_conflict` hears of this node's entries that lose a label
  /// (receptionist only).
  virtual void attach(origin_id self, std::function<void()> fn,
                      std::function<void(const reception_conflict&)> on_conflict) = 0;
  /// Clears the hooks set by attach().
  virtual void detach() noexcept = 0;
  /// Returns the version this node has of `origin`'s changes.
  [[nodiscard]] virtual std::uint64_t have(origin_id origin) const = 0;
  /// Returns this node's changes since `since`, ready to send (entries of
  /// actors that live on other nodes are not this node's to give and are
  /// left out).
  [[nodiscard]] virtual reception_wire::changes changes_since(std::uint64_t since) const = 0;
  /// Applies a batch from `peer` (life `incarnation`), which is its origin.
  virtual apply_status apply(const reception_wire::changes& m, const std::string& peer,
                             std::uint64_t incarnation) = 0;
  /// Removes every entry of `origin`.
  virtual void drop_origin(origin_id origin) = 0;
  /// Returns the digest of the table (equal on nodes that hold the same).
  [[nodiscard]] virtual std::uint64_t digest() const = 0;
};

/// The receptionist as a replicated table.
std::unique_ptr<replicated_table> receptionist_table(net::node& n, receptionist& r);
/// The process groups as a replicated table.
std::unique_ptr<replicated_table> groups_table(net::node& n, process_groups& g);

}  // namespace troupe::cluster
