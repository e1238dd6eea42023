#include "troupe/core/thread_pool.hpp"

#include <chrono>
#include <condition_variable>
#include <utility>

namespace troupe {
namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// A test-and-test-and-set lock; held for a few instructions only.
class spinlock {
 public:
  void lock() noexcept {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) cpu_relax();
    }
  }
  void unlock() noexcept { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

/// An intrusive FIFO of schedulables.
struct fifo {
  schedulable* head = nullptr;
  schedulable* tail = nullptr;
  std::size_t size = 0;

  void push(schedulable* s) noexcept {
    s->next_runnable = nullptr;
    if (tail)
      tail->next_runnable = s;
    else
      head = s;
    tail = s;
    ++size;
  }
  schedulable* pop() noexcept {
    schedulable* s = head;
    if (s) {
      head = s->next_runnable;
      if (!head) tail = nullptr;
      s->next_runnable = nullptr;
      --size;
    }
    return s;
  }
};

}  // namespace

struct thread_pool::state {
  struct alignas(64) worker {
    spinlock lock;
    fifo local;                          // guarded by lock
    schedulable* next = nullptr;         // owner only
    unsigned next_streak = 0;            // owner only
    std::atomic<std::uint32_t> wake{0};  // futex word for parking
    bool parked = false;                 // guarded by idle_mu
    std::atomic<bool> exited{false};
  };

  explicit state(std::size_t n, std::size_t spin) : workers(n), spin_rounds(spin) {}

  std::vector<worker> workers;
  std::size_t spin_rounds;
  spinlock global_lock;
  fifo global;                         // guarded by global_lock
  std::atomic<std::size_t> queued{0};  // items in local queues + global
  std::atomic<std::size_t> num_parked{0};
  std::atomic<std::size_t> searching{0};  // workers spinning for work
  std::mutex idle_mu;
  std::vector<std::size_t> idle;  // parked worker indices, guarded by idle_mu
  std::atomic<bool> stopping{false};
  std::mutex exit_mu;
  std::condition_variable exit_cv;
  std::size_t exited = 0;  // guarded by exit_mu

  static thread_local state* current_pool;
  static thread_local std::size_t current_index;

  void wake_one() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (num_parked.load(std::memory_order_seq_cst) == 0) return;
    // A worker that is spinning will find the item (it checks the queues
    // again after it stops searching): no need to pay for a wake-up.
    if (searching.load(std::memory_order_seq_cst) != 0) return;
    std::size_t idx;
    {
      std::lock_guard lock(idle_mu);
      if (idle.empty()) return;
      idx = idle.back();
      idle.pop_back();
      workers[idx].parked = false;
      num_parked.fetch_sub(1, std::memory_order_relaxed);
    }
    workers[idx].wake.store(1, std::memory_order_release);
    workers[idx].wake.notify_one();
  }

  void push_global(schedulable* s) noexcept {
    global_lock.lock();
    global.push(s);
    global_lock.unlock();
    queued.fetch_add(1, std::memory_order_relaxed);
    wake_one();
  }

  void push_local(std::size_t i, schedulable* s) noexcept {
    worker& w = workers[i];
    w.lock.lock();
    w.local.push(s);
    w.lock.unlock();
    queued.fetch_add(1, std::memory_order_relaxed);
    wake_one();
  }

  schedulable* pop_local(std::size_t i) noexcept {
    worker& w = workers[i];
    w.lock.lock();
    schedulable* s = w.local.pop();
    w.lock.unlock();
    if (s) queued.fetch_sub(1, std::memory_order_relaxed);
    return s;
  }

  schedulable* pop_global() noexcept {
    global_lock.lock();
    schedulable* s = global.pop();
    global_lock.unlock();
    if (s) queued.fetch_sub(1, std::memory_order_relaxed);
    return s;
  }

  /// Moves up to half of another worker's queue into worker i's, returns one.
  schedulable* steal(std::size_t i) noexcept {
    const std::size_t n = workers.size();
    for (std::size_t k = 1; k < n; ++k) {
      worker& v = workers[(i + k) % n];
      v.lock.lock();
      std::size_t take = (v.local.size + 1) / 2;
      fifo got;
      for (std::size_t j = 0; j < take; ++j) got.push(v.local.pop());
      v.lock.unlock();
      if (got.size == 0) continue;
      schedulable* first = got.pop();
      queued.fetch_sub(1, std::memory_order_relaxed);
      if (got.size) {
        worker& w = workers[i];
        w.lock.lock();
        while (schedulable* s = got.pop()) w.local.push(s);
        w.lock.unlock();
      }
      return first;
    }
    return nullptr;
  }

  schedulable* find_work(std::size_t i) noexcept {
    worker& w = workers[i];
    if (w.next) {
      // Bound how often the next slot may jump the queue, so that two actors
      // replying to each other cannot starve the rest of the local queue.
      if (++w.next_streak <= 32 || queued.load(std::memory_order_relaxed) == 0) {
        return std::exchange(w.next, nullptr);
      }
      w.next_streak = 0;
      push_local(i, std::exchange(w.next, nullptr));
    }
    w.next_streak = 0;
    if (queued.load(std::memory_order_relaxed) == 0) return nullptr;
    if (schedulable* s = pop_local(i)) return s;
    if (schedulable* s = pop_global()) return s;
    return steal(i);
  }

  void run_worker(std::size_t i) {
    current_pool = this;
    current_index = i;
    worker& w = workers[i];
    while (!stopping.load(std::memory_order_acquire)) {
      if (schedulable* s = find_work(i)) {
        s->run();
        continue;
      }
      schedulable* found = nullptr;
      searching.fetch_add(1, std::memory_order_seq_cst);
      for (std::size_t r = 0; r < spin_rounds && !found; ++r) {
        // Yield rather than burn the core: on a machine with more runnable
        // threads than cores (a thread outside the pool producing work), the
        // producer gets the CPU.
        std::this_thread::yield();
        if (queued.load(std::memory_order_relaxed) != 0) found = find_work(i);
      }
      searching.fetch_sub(1, std::memory_order_seq_cst);
      if (found) {
        // Producers skip the wake-up while someone searches, counting on the
        // searcher. It found one item and may now run it for a long time:
        // the rest of the queue must not wait for it, so pass the duty on.
        if (queued.load(std::memory_order_seq_cst) != 0) wake_one();
        found->run();
        continue;
      }
      park(i, w);
    }
    {
      std::lock_guard lock(exit_mu);
      ++exited;
      w.exited.store(true);
    }
    exit_cv.notify_all();
  }

  void park(std::size_t i, worker& w) {
    w.wake.store(0, std::memory_order_relaxed);
    {
      std::lock_guard lock(idle_mu);
      idle.push_back(i);
      w.parked = true;
      num_parked.fetch_add(1, std::memory_order_seq_cst);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (queued.load(std::memory_order_seq_cst) != 0 || stopping.load()) {
      std::lock_guard lock(idle_mu);
      if (w.parked) {
        w.parked = false;
        std::erase(idle, i);
        num_parked.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
      // Someone already popped us from the idle list and will set wake.
    }
    while (w.wake.load(std::memory_order_acquire) == 0) w.wake.wait(0, std::memory_order_acquire);
  }
};

thread_local thread_pool::state* thread_pool::state::current_pool = nullptr;
thread_local std::size_t thread_pool::state::current_index = 0;

thread_pool::thread_pool(thread_pool_options opts) {
  std::size_t n = opts.workers ? opts.workers : std::max(1u, std::thread::hardware_concurrency());
  st_ = std::make_shared<state>(n, opts.spin_rounds);
  workers_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    workers_.emplace_back([st = st_, i] { st->run_worker(i); });
  }
}

thread_pool::~thread_pool() { stop(std::chrono::milliseconds(5000)); }

void thread_pool::post(schedulable* s, post_hint hint) noexcept {
  state& st = *st_;
  if (st.stopping.load(std::memory_order_acquire)) {
    // A turn that outlived the shutdown deadline ends here, on its own
    // thread. Items posted while such a turn runs are run after it, in a
    // loop, not by recursion.
    static thread_local fifo* inline_queue = nullptr;
    if (inline_queue != nullptr) {
      inline_queue->push(s);
      return;
    }
    fifo pending;
    inline_queue = &pending;
    s->run();
    while (schedulable* next = pending.pop()) next->run();
    inline_queue = nullptr;
    return;
  }
  if (state::current_pool == &st) {
    auto& w = st.workers[state::current_index];
    if (hint == post_hint::yield) {
      st.push_local(state::current_index, s);
      return;
    }
    schedulable* prev = std::exchange(w.next, s);
    if (prev) st.push_local(state::current_index, prev);
    return;
  }
  st.push_global(s);
}

bool thread_pool::in_executor() const noexcept { return state::current_pool == st_.get(); }

std::size_t thread_pool::stop(std::chrono::milliseconds deadline_ms) {
  if (workers_.empty()) return 0;
  state& st = *st_;
  st.stopping.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard lock(st.idle_mu);
    st.idle.clear();
    st.num_parked.store(0);
    for (auto& w : st.workers) w.parked = false;
  }
  for (auto& w : st.workers) {
    w.wake.store(1, std::memory_order_release);
    w.wake.notify_one();
  }
  std::size_t late = 0;
  {
    std::unique_lock lock(st.exit_mu);
    st.exit_cv.wait_for(lock, deadline_ms, [&] { return st.exited == st.workers.size(); });
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].get_id() == std::this_thread::get_id()) {
      workers_[i].detach();
    } else if (st.workers[i].exited.load()) {
      workers_[i].join();
    } else {
      workers_[i].detach();
      ++late;
    }
  }
  workers_.clear();
  return late;
}

}  // namespace troupe
