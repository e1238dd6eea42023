#pragma once

#include <atomic>
#include <cstddef>
#include <type_traits>

namespace troupe {

/// Links one element of an mpsc_queue; embed it in the queued type.
struct mpsc_node {
  std::atomic<mpsc_node*> next{nullptr};
};

/// Lock-free intrusive multi-producer single-consumer FIFO (Vyukov's design:
/// one exchange per push, no allocation).
///
/// Any thread may push(); only one thread at a time may pop() or call
/// empty_for_consumer(). Nodes pushed by one thread come out in push order.
///
/// `Gap` bytes of padding separate the producers' end from the consumer's, so
/// that a busy consumer does not steal the producers' cache line on every pop
/// (use 56 for a heavily shared mailbox, 0 where memory matters more).
template <std::size_t Gap>
class basic_mpsc_queue {
 public:
  basic_mpsc_queue() noexcept : head_(&stub_), tail_(&stub_) {}
  basic_mpsc_queue(const basic_mpsc_queue&) = delete;
  basic_mpsc_queue& operator=(const basic_mpsc_queue&) = delete;

  /// Appends `n`. Wait-free; sequentially consistent so that a following
  /// check of the consumer's state cannot be reordered before it.
  void push(mpsc_node* n) noexcept {
    n->next.store(nullptr, std::memory_order_relaxed);
    mpsc_node* prev = head_.exchange(n, std::memory_order_seq_cst);
    prev->next.store(n, std::memory_order_release);
  }

  /// Removes the oldest node, or returns nullptr when the queue is empty or a
  /// push is half done (the caller retries later; empty() then says false).
  mpsc_node* pop() noexcept {
    mpsc_node* tail = tail_;
    mpsc_node* next = tail->next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return nullptr;
      tail_ = next;
      tail = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;  // push in progress
    push(&stub_);
    next = tail->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    return nullptr;
  }

  /// Returns true when nothing is queued and no push is in progress. Called by
  /// the consumer (or any thread, for a hint).
  [[nodiscard]] bool empty() const noexcept { return consumer_drained() && no_pushes(); }

  /// Returns true when the consumer's end holds nothing. Consumer only.
  [[nodiscard]] bool consumer_drained() const noexcept { return tail_ == &stub_; }
  /// Returns true when nothing was pushed since the consumer last drained
  /// the queue. Any thread (reads only the producers' atomic end).
  [[nodiscard]] bool no_pushes() const noexcept {
    return head_.load(std::memory_order_seq_cst) == &stub_;
  }

 private:
  struct no_gap {};
  struct gap {
    char bytes[Gap == 0 ? 1 : Gap];
  };

  std::atomic<mpsc_node*> head_;  // producers' end
  [[no_unique_address]] std::conditional_t<Gap == 0, no_gap, gap> gap_;
  mpsc_node* tail_;  // consumer's end
  mpsc_node stub_;
};

/// The compact queue (producers' and consumer's ends side by side).
using mpsc_queue = basic_mpsc_queue<0>;
/// The queue for a busy mailbox: its two ends never share a cache line.
using padded_mpsc_queue = basic_mpsc_queue<56>;

}  // namespace troupe
