#include "troupe/core/envelope_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace {

using troupe::detail::envelope_pool;

TEST(envelope_pool, blocks_are_aligned_distinct_and_writable) {
  std::vector<void*> blocks;
  for (std::size_t size = 1; size <= envelope_pool::max_pooled_size + 64; size += 7) {
    void* p = envelope_pool::allocate(size);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u) << "size " << size;
    std::memset(p, 0xab, size);  // ASan reports a block smaller than asked for
    blocks.push_back(p);
  }
  std::vector<void*> sorted = blocks;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  std::size_t size = 1;
  for (void* p : blocks) {
    envelope_pool::deallocate(p, size);
    size += 7;
  }
}

TEST(envelope_pool, a_freed_block_is_reused_by_its_thread) {
  if (!envelope_pool::pooling) GTEST_SKIP() << "AddressSanitizer build: no pooling";
  void* a = envelope_pool::allocate(48);
  envelope_pool::deallocate(a, 48);
  void* b = envelope_pool::allocate(48);
  EXPECT_EQ(a, b);
  envelope_pool::deallocate(b, 48);
}

TEST(envelope_pool, blocks_freed_on_another_thread_flow_back) {
  if (!envelope_pool::pooling) GTEST_SKIP() << "AddressSanitizer build: no pooling";
  // One thread allocates, another frees: the blocks must reach the allocating
  // thread again through the shared pool, so the set of distinct addresses
  // stays bounded instead of growing with the number of messages.
  constexpr int rounds = 200;
  constexpr int per_round = 1000;
  std::vector<void*> batch(per_round);
  std::vector<void*> seen;
  for (int r = 0; r < rounds; ++r) {
    for (auto& p : batch) {
      p = envelope_pool::allocate(64);
      std::memset(p, r & 0xff, 64);
    }
    if (r % 20 == 0) seen.insert(seen.end(), batch.begin(), batch.end());
    std::thread freer([&] {
      for (void* p : batch) envelope_pool::deallocate(p, 64);
    });
    freer.join();  // its cache goes to the shared pool when it ends
  }
  std::sort(seen.begin(), seen.end());
  auto distinct = std::unique(seen.begin(), seen.end()) - seen.begin();
  EXPECT_LT(distinct, 4 * per_round);
}

}  // namespace
