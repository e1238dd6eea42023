#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace troupe {

/// Counts references atomically; the last release calls destroy(). Any thread
/// may add or release a reference.
class ref_counted {
 public:
  ref_counted() = default;
  ref_counted(const ref_counted&) = delete;
  ref_counted& operator=(const ref_counted&) = delete;

  /// Adds one reference.
  void add_ref() const noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  /// Adds one reference unless the count already reached zero (the object
  /// is being destroyed); returns whether it did. Lets a cache that holds
  /// plain pointers (and is told in destroy() to forget them) hand out
  /// references safely.
  [[nodiscard]] bool try_add_ref() const noexcept {
    std::uint32_t n = refs_.load(std::memory_order_relaxed);
    while (n != 0) {
      if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  /// Drops one reference; destroys the object when it was the last.
  void release() const noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1)
      const_cast<ref_counted*>(this)->destroy();
  }

 protected:
  virtual ~ref_counted() = default;
  /// Frees the object; the default deletes it.
  virtual void destroy() noexcept { delete this; }

 private:
  mutable std::atomic<std::uint32_t> refs_{1};
};

/// Owns one reference to a ref_counted object (an intrusive shared pointer).
template <class T>
class ref_ptr {
 public:
  ref_ptr() = default;
  /// Adopts `p` without adding a reference.
  static ref_ptr adopt(T* p) noexcept {
    ref_ptr r;
    r.p_ = p;
    return r;
  }
  /// Shares `p`, adding a reference.
  explicit ref_ptr(T* p) noexcept : p_(p) {
    if (p_) p_->add_ref();
  }
  ref_ptr(const ref_ptr& o) noexcept : p_(o.p_) {
    if (p_) p_->add_ref();
  }
  ref_ptr(ref_ptr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  template <class U>
  ref_ptr(ref_ptr<U> o) noexcept : p_(o.detach()) {}  // NOLINT
  ref_ptr& operator=(ref_ptr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~ref_ptr() {
    if (p_) p_->release();
  }

  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  /// Gives up ownership without releasing.
  T* detach() noexcept { return std::exchange(p_, nullptr); }
  void reset() noexcept { ref_ptr().swap(*this); }
  void swap(ref_ptr& o) noexcept { std::swap(p_, o.p_); }

  friend bool operator==(const ref_ptr& a, const ref_ptr& b) noexcept { return a.p_ == b.p_; }

 private:
  T* p_ = nullptr;
};

/// Creates a T with reference count one and returns the owning pointer.
template <class T, class... Args>
ref_ptr<T> make_ref(Args&&... args) {
  return ref_ptr<T>::adopt(new T(std::forward<Args>(args)...));
}

}  // namespace troupe
