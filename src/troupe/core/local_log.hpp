#pragma once

// What the replicated tables (the receptionist, the process groups) share:
// the log of this node's own changes that other nodes catch up from, the
// rule that fits another origin's batch to what a receiver has, and the
// hooks they call outside their lock.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "troupe/core/discovery.hpp"

namespace troupe::detail {

/// This node's changes to one table as other nodes catch up from them: the
/// live entries by the version that made them, and the last `max` removals
/// (tombstones), oldest first. `Place` says where an entry is (a label; a
/// scope and a group). Guarded by its table's lock.
template <class Place>
class local_log {
 public:
  struct removal {
    std::uint64_t version = 0;  ///< the change that removed it
    Place place;
    std::uint64_t removes = 0;  ///< the version of the entry removed
  };

  explicit local_log(std::size_t max) : max_(max) {}

  /// An entry that may leave this node was made by change `version`.
  void added(std::uint64_t version, Place place) {
    live_.insert_or_assign(version, std::move(place));
  }
  /// Forgets the entry of `version` without a removal (an add undone).
  void forget(std::uint64_t version) noexcept { live_.erase(version); }
  /// The entry of `removes` at `place` went by change `version`. Out of
  /// memory, the removal is not kept and receivers behind it get the whole
  /// state instead.
  void removed(std::uint64_t version, const Place& place, std::uint64_t removes) noexcept {
    live_.erase(removes);
    try {
      removals_.push_back(removal{version, place, removes});
      if (removals_.size() > max_) {
        horizon_ = removals_.front().version;
        removals_.pop_front();
      }
    } catch (...) {
      horizon_ = version;
    }
  }
  /// True when a receiver that has `since` of this node (now at `top`)
  /// needs the whole state: it has nothing, the removals it misses are no
  /// longer kept, or it is ahead (another life's numbers).
  [[nodiscard]] bool whole(std::uint64_t since, std::uint64_t top) const noexcept {
    return since == 0 || since < horizon_ || since > top;
  }
  /// Starts a batch of this node's changes (origin `self`, now at `top`)
  /// for a receiver that has `since`: a delta from `since`, or the whole
  /// state from 0.
  template <class Changes>
  [[nodiscard]] Changes start(origin_id self, std::uint64_t top, std::uint64_t since) const {
    Changes out;
    out.origin = self;
    out.top = top;
    out.reset = whole(since, top);
    out.base = out.reset ? 0 : since;
    return out;
  }
  /// The live entries made after `since`, oldest first.
  [[nodiscard]] auto live_after(std::uint64_t since) const {
    return std::pair(live_.upper_bound(since), live_.end());
  }
  /// The removals made after `since`, oldest first.
  [[nodiscard]] auto removals_after(std::uint64_t since) const {
    auto from = std::upper_bound(removals_.begin(), removals_.end(), since,
                                 [](std::uint64_t v, const removal& r) { return v < r.version; });
    return std::pair(from, removals_.end());
  }
  void clear() noexcept {
    live_.clear();
    removals_.clear();
    horizon_ = 0;
  }

 private:
  std::size_t max_;
  std::map<std::uint64_t, Place> live_;
  std::deque<removal> removals_;
  std::uint64_t horizon_ = 0;  // the newest removal no longer kept
};

/// Returns a table's version vector: this node's version first (as
/// local_origin), then what it has of each other origin.
[[nodiscard]] inline std::vector<entry_stamp> version_vector(
    std::uint64_t mine, const std::map<origin_id, std::uint64_t>& applied) {
  std::vector<entry_stamp> out;
  out.reserve(applied.size() + 1);
  out.push_back(entry_stamp{local_origin, mine});
  for (const auto& [origin, version] : applied) out.push_back(entry_stamp{origin, version});
  return out;
}

/// Merges two runs of ops, each in version order, into `out` in version
/// order (an op's version is `op.stamp.version`).
template <class Op>
void merge_by_version(std::vector<Op>& adds, std::vector<Op>& removes, std::vector<Op>& out) {
  out.reserve(out.size() + adds.size() + removes.size());
  std::merge(std::make_move_iterator(adds.begin()), std::make_move_iterator(adds.end()),
             std::make_move_iterator(removes.begin()), std::make_move_iterator(removes.end()),
             std::back_inserter(out),
             [](const Op& a, const Op& b) { return a.stamp.version < b.stamp.version; });
}

/// How a batch of another origin's changes fits what a receiver has of it.
enum class batch_fit {
  duplicate,  ///< nothing in it is new
  gap,        ///< changes before its base are missing
  whole,      ///< a whole state to replace what the receiver has
  delta,      ///< the changes after what the receiver has are new
};

/// Fits a batch (`base`, `top`, `reset`) to a receiver that has `seen` of
/// its origin (`known`: it has heard of the origin at all).
[[nodiscard]] inline batch_fit fit_batch(bool known, std::uint64_t seen, std::uint64_t base,
                                         std::uint64_t top, bool reset) noexcept {
  if (reset) return known && top < seen ? batch_fit::duplicate : batch_fit::whole;
  if (seen < base) return batch_fit::gap;
  if (top <= seen) return batch_fit::duplicate;
  return batch_fit::delta;
}

/// One replaceable callback that a table calls outside its own lock, on
/// the thread that made the change; what it throws is swallowed (a hook may
/// not disturb the change that called it). Thread-safe.
template <class... Args>
class table_hook {
 public:
  /// Sets `fn`; an empty one clears it.
  void set(std::function<void(const Args&...)> fn) {
    std::shared_ptr<const std::function<void(const Args&...)>> h;
    if (fn) h = std::make_shared<const std::function<void(const Args&...)>>(std::move(fn));
    std::lock_guard lock(mu_);
    fn_ = std::move(h);
  }
  /// Calls it, if set.
  void operator()(const Args&... args) const noexcept {
    std::shared_ptr<const std::function<void(const Args&...)>> fn;
    {
      std::lock_guard lock(mu_);
      fn = fn_;
    }
    if (!fn) return;
    try {
      (*fn)(args...);
    } catch (...) {
    }
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const std::function<void(const Args&...)>> fn_;
};

}  // namespace troupe::detail
