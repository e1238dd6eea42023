#include "troupe/core/envelope_pool.hpp"

#include <array>
#include <mutex>
#include <new>
#include <vector>

namespace troupe::detail {
namespace {

constexpr std::size_t classes = envelope_pool::max_pooled_size / envelope_pool::granularity;
constexpr std::size_t batch = 128;        // blocks moved to or from the shared pool at once
constexpr std::size_t cache_limit = 512;  // blocks a thread keeps per class
constexpr std::size_t fresh_batch = 32;   // blocks made at once when nothing can be reused

struct block {
  block* next;
};

/// A chain of `batch` free blocks of one class.
struct chain {
  block* head;
};

/// The pool shared by all threads: full chains per class, under one lock.
class shared_pool {
 public:
  void put(std::size_t cls, block* head) {
    std::lock_guard lock(mu_);
    chains_[cls].push_back(chain{head});
  }
  block* take(std::size_t cls) {
    std::lock_guard lock(mu_);
    auto& v = chains_[cls];
    if (v.empty()) return nullptr;
    block* b = v.back().head;
    v.pop_back();
    return b;
  }

 private:
  std::mutex mu_;
  std::array<std::vector<chain>, classes> chains_;
};

shared_pool& shared() {
  // Never destroyed: threads may free blocks during static destruction.
  static auto* pool = new shared_pool();
  return *pool;
}

/// One thread's free lists.
class thread_cache {
 public:
  ~thread_cache() {
    // Hand everything to the shared pool, in chains of at most `batch`.
    for (std::size_t cls = 0; cls < classes; ++cls) {
      while (lists_[cls].head != nullptr) give_back(cls, lists_[cls].count);
    }
  }

  void* allocate(std::size_t cls) {
    list& l = lists_[cls];
    if (l.head == nullptr) refill(cls);
    if (l.head == nullptr) return ::operator new((cls + 1) * envelope_pool::granularity);
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
      const std::size_t size = (cls + 1) * envelope_pool::granularity;
      for (std::size_t i = 0; i < fresh_batch; ++i) {
        auto* f = static_cast<block*>(::operator new(size, std::nothrow));
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
        ::operator delete(head);
        head = next;
      }
    }
  }

  std::array<list, classes> lists_{};
};

thread_local thread_cache tl_cache;

std::size_t class_of(std::size_t size) noexcept {
  return (size + envelope_pool::granularity - 1) / envelope_pool::granularity - 1;
}

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
#define TROUPE_POOL_BYPASS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TROUPE_POOL_BYPASS 1
#endif
#endif

#if defined(TROUPE_POOL_BYPASS)
// Under AddressSanitizer every block goes to the global allocator, so that a
// use of a freed envelope is reported instead of hidden by reuse.
const bool envelope_pool::pooling = false;
#else
const bool envelope_pool::pooling = true;
#endif

void* envelope_pool::allocate(std::size_t size) {
  if (!pooling || size > max_pooled_size || size == 0) return ::operator new(size);
  return tl_cache.allocate(class_of(size));
}

void envelope_pool::deallocate(void* p, std::size_t size) noexcept {
  if (p == nullptr) return;
  if (!pooling || size > max_pooled_size || size == 0) {
    ::operator delete(p);
    return;
  }
  tl_cache.deallocate(p, class_of(size));
}

}  // namespace troupe::detail
