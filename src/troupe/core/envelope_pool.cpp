#include "troupe/core/envelope_pool.hpp"

#include <array>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define TROUPE_POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TROUPE_POOL_BYPASS 1
#endif
#endif

namespace troupe::detail {
namespace {

constexpr std::size_t batch = 128;        // blocks moved to or from the shared pool at once
constexpr std::size_t cache_limit = 512;  // blocks a thread keeps per class
constexpr std::size_t fresh_batch = 32;   // blocks made at once when nothing can be reused

struct block {
  block* next;
};

/// Memory from the global allocator, aligned to `Align`.
template <std::size_t Align>
void* fresh(std::size_t size, const std::nothrow_t& nt) noexcept {
  if constexpr (Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    return ::operator new(size, std::align_val_t(Align), nt);
  } else {
    return ::operator new(size, nt);
  }
}

template <std::size_t Align>
void* fresh(std::size_t size) {
  if constexpr (Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    return ::operator new(size, std::align_val_t(Align));
  } else {
    return ::operator new(size);
  }
}

template <std::size_t Align>
void release(void* p) noexcept {
  if constexpr (Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(p, std::align_val_t(Align));
  } else {
    ::operator delete(p);
  }
}

/// The blocks shared by all threads: chains of `batch` free blocks per
/// class, under one lock.
template <std::size_t Classes>
class shared_pool {
 public:
  void put(std::size_t cls, block* head) {
    std::lock_guard lock(mu_);
    chains_[cls].push_back(head);
  }
  block* take(std::size_t cls) {
    std::lock_guard lock(mu_);
    auto& v = chains_[cls];
    if (v.empty()) return nullptr;
    block* b = v.back();
    v.pop_back();
    return b;
  }

 private:
  std::mutex mu_;
  std::array<std::vector<block*>, Classes> chains_;
};

/// One thread's free lists for one pool.
template <std::size_t Granularity, std::size_t MaxSize>
class thread_cache {
 public:
  static constexpr std::size_t classes = MaxSize / Granularity;

  static shared_pool<classes>& shared() {
    // Never destroyed: threads may free blocks during static destruction.
    static auto* pool = new shared_pool<classes>();
    return *pool;
  }

  ~thread_cache() {
    // Hand everything to the shared pool, in chains of at most `batch`.
    for (std::size_t cls = 0; cls < classes; ++cls) {
      while (lists_[cls].head != nullptr) give_back(cls, lists_[cls].count);
    }
  }

  void* allocate(std::size_t cls) {
    list& l = lists_[cls];
    if (l.head == nullptr) refill(cls);
    if (l.head == nullptr) return fresh<Granularity>(size_of(cls));
    block* b = l.head;
    l.head = b->next;
    --l.count;
    return b;
  }

  void deallocate(void* p, std::size_t cls) noexcept {
    list& l = lists_[cls];
    auto* b = static_cast<block*>(p);
    b->next = l.head;
    l.head = b;
    if (++l.count >= cache_limit) give_back(cls, batch);
  }

  static std::size_t size_of(std::size_t cls) noexcept { return (cls + 1) * Granularity; }

 private:
  struct list {
    block* head = nullptr;
    std::size_t count = 0;
  };

  void refill(std::size_t cls) {
    list& l = lists_[cls];
    block* b = shared().take(cls);
    if (b == nullptr) {
      // Nothing to reuse yet: make a few fresh blocks at once, so that the
      // shared pool is not asked again for every allocation.
      for (std::size_t i = 0; i < fresh_batch; ++i) {
        auto* f = static_cast<block*>(fresh<Granularity>(size_of(cls), std::nothrow));
        if (f == nullptr) break;
        f->next = l.head;
        l.head = f;
        ++l.count;
      }
      return;
    }
    std::size_t n = 0;
    block* last = b;
    for (block* x = b; x != nullptr; x = x->next) {
      last = x;
      ++n;
    }
    last->next = l.head;
    l.head = b;
    l.count += n;
  }

  /// Detaches up to `n` blocks from the list of `cls` and gives them to the
  /// shared pool as one chain.
  void give_back(std::size_t cls, std::size_t n) noexcept {
    list& l = lists_[cls];
    block* head = l.head;
    block* last = head;
    std::size_t taken = 1;
    while (taken < n && last->next != nullptr) {
      last = last->next;
      ++taken;
    }
    l.head = last->next;
    l.count -= taken;
    last->next = nullptr;
    try {
      shared().put(cls, head);
    } catch (...) {  // out of memory for the chain index: free the blocks instead
      while (head != nullptr) {
        block* next = head->next;
        release<Granularity>(head);
        head = next;
      }
    }
  }

  std::array<list, classes> lists_{};
};

template <std::size_t Granularity, std::size_t MaxSize>
thread_cache<Granularity, MaxSize>& cache() {
  thread_local thread_cache<Granularity, MaxSize> c;
  return c;
}

template <std::size_t Granularity>
std::size_t class_of(std::size_t size) noexcept {
  return (size + Granularity - 1) / Granularity - 1;
}

}  // namespace

#if defined(TROUPE_POOL_BYPASS)
template <std::size_t G, std::size_t M>
const bool block_pool<G, M>::pooling = false;
#else
template <std::size_t G, std::size_t M>
const bool block_pool<G, M>::pooling = true;
#endif

template <std::size_t G, std::size_t M>
void* block_pool<G, M>::allocate(std::size_t size) {
  if (!pooling || size > max_pooled_size || size == 0) return fresh<G>(size);
  return cache<G, M>().allocate(class_of<G>(size));
}

template <std::size_t G, std::size_t M>
void block_pool<G, M>::deallocate(void* p, std::size_t size) noexcept {
  if (p == nullptr) return;
  if (!pooling || size > max_pooled_size || size == 0) {
    release<G>(p);
    return;
  }
  cache<G, M>().deallocate(p, class_of<G>(size));
}

template struct block_pool<16, 256>;
template struct block_pool<64, 1024>;

}  // namespace troupe::detail
