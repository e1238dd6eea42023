#pragma once

#include <cstddef>

namespace troupe::detail {

/// Allocates the small, short-lived objects of the message path (envelopes,
/// reply states) from per-thread free lists.
///
/// A message is usually allocated on the sender's thread and freed on the
/// receiver's. Each thread keeps what it frees in its own cache and hands
/// surplus to a shared pool in batches, from which allocating threads refill
/// in batches: one lock per batch instead of one contended allocator call
/// per message. Sizes above max_pooled_size go to the global allocator.
///
/// Thread safety: any thread may allocate and free; memory may be freed on a
/// thread other than the one that allocated it.
struct envelope_pool {
  static constexpr std::size_t granularity = 16;
  static constexpr std::size_t max_pooled_size = 256;

  /// False in AddressSanitizer builds: every block then comes from the
  /// global allocator, so that ASan sees each use after free.
  static const bool pooling;

  /// Returns `size` bytes aligned to 16.
  static void* allocate(std::size_t size);
  /// Frees `p`, which allocate(size) returned (on any thread).
  static void deallocate(void* p, std::size_t size) noexcept;
};

}  // namespace troupe::detail
