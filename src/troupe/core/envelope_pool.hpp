#pragma once

#include <cstddef>

namespace troupe::detail {

/// Allocates the small, short-lived objects of the message path from
/// per-thread free lists: blocks of `Granularity` bytes (aligned to it) up to
/// `MaxSize`; larger requests go to the global allocator.
///
/// An object is usually allocated on one thread and freed on another (a
/// message by its sender and its receiver; an actor by the spawning thread
/// and the worker that ends it). Each thread keeps what it frees in its own
/// cache and hands surplus to a shared pool in batches, from which
/// allocating threads refill in batches: one lock per batch instead of one
/// contended allocator call per object.
///
/// Thread safety: any thread may allocate and free; memory may be freed on a
/// thread other than the one that allocated it.
template <std::size_t Granularity, std::size_t MaxSize>
struct block_pool {
  static constexpr std::size_t granularity = Granularity;
  static constexpr std::size_t max_pooled_size = MaxSize;

  /// False in AddressSanitizer builds: every block then comes from the
  /// global allocator, so that ASan sees each use after free.
  static const bool pooling;

  /// Returns `size` bytes aligned to `Granularity`.
  static void* allocate(std::size_t size);
  /// Frees `p`, which allocate(size) returned (on any thread).
  static void deallocate(void* p, std::size_t size) noexcept;
};

/// Envelopes and reply states: 16-byte classes up to 256 bytes.
using envelope_pool = block_pool<16, 256>;
/// Actor cells: 64-byte classes (cache-line aligned) up to 1 KiB.
using cell_pool = block_pool<64, 1024>;

extern template struct block_pool<16, 256>;
extern template struct block_pool<64, 1024>;

}  // namespace troupe::detail
