#include "troupe/core/clock.hpp"

namespace troupe {

void timer_queue::push(timer_node* t) {
  t->seq_ = next_seq_++;
  heap_.push_back(t);
  t->heap_index_ = heap_.size() - 1;
  sift_up(heap_.size() - 1);
}

bool timer_queue::erase(timer_node* t) noexcept {
  std::size_t i = t->heap_index_;
  if (i >= heap_.size() || heap_[i] != t) return false;
  timer_node* last = heap_.back();
  heap_.pop_back();
  t->heap_index_ = timer_node::npos;
  if (i < heap_.size()) {
    place(i, last);
    sift_up(i);
    sift_down(last->heap_index_);
  }
  return true;
}

timer_node* timer_queue::pop() noexcept {
  if (heap_.empty()) return nullptr;
  timer_node* t = heap_[0];
  erase(t);
  return t;
}

void timer_queue::sift_up(std::size_t i) noexcept {
  timer_node* t = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(t, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void timer_queue::sift_down(std::size_t i) noexcept {
  const std::size_t n = heap_.size();
  timer_node* t = heap_[i];
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], t)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

}  // namespace troupe
