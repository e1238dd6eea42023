#include "troupe/core/thread_pool.hpp"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <limits>
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

using steady = std::chrono::steady_clock;

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
      .count();
}

// How long an idle worker waits inside the driver before it looks around.
constexpr auto idle_drive_wait = std::chrono::milliseconds(500);
// A busy worker polls the driver between turns when nobody has for this long.
constexpr std::int64_t busy_poll_gap_ns = 100'000;
// The keeper polls the driver when nobody has for this long ...
constexpr auto keeper_tick_min = std::chrono::milliseconds(2);
// ... and looks less often while a worker waits in the driver.
constexpr auto keeper_tick_max = std::chrono::milliseconds(64);

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

  // I/O driving (attach_io). One thread at a time runs the driver: the one
  // whose number is in `holder`, a worker's index or `keeper_holder`.
  static constexpr std::size_t no_holder = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t keeper_holder = no_holder - 1;
  std::mutex driver_mu;
  std::shared_ptr<io_driver> driver_owned;  // guarded by driver_mu
  std::atomic<io_driver*> driver{nullptr};  // null once detached or finished
  std::atomic<std::size_t> holder{no_holder};
  std::atomic<bool> driver_waiting{false};  // the holder is an idle worker, waiting for I/O
  std::atomic<std::int64_t> last_drive_ns{0};
  std::thread keeper;  // guarded by driver_mu
  std::mutex keeper_mu;
  std::condition_variable keeper_cv;
  bool keeper_stop = false;                         // guarded by keeper_mu
  std::vector<std::shared_ptr<io_driver>> retired;  // detached from inside; guarded by driver_mu

  static thread_local state* current_pool;
  static thread_local std::size_t current_index;

  void interrupt_driver() noexcept {
    std::lock_guard lk(driver_mu);
    if (driver_owned) driver_owned->interrupt();
  }

  void wake_one() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // A worker that is spinning will find the item (it checks the queues
    // again after it stops searching): no need to pay for a wake-up.
    if (searching.load(std::memory_order_seq_cst) != 0) return;
    if (num_parked.load(std::memory_order_seq_cst) == 0) {
      // Nobody sleeps on its futex; a worker waiting in the driver may be
      // the only idle one.
      if (driver_waiting.load(std::memory_order_seq_cst)) interrupt_driver();
      return;
    }
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

  bool try_hold(std::size_t who) noexcept {
    std::size_t free = no_holder;
    return holder.compare_exchange_strong(free, who, std::memory_order_seq_cst);
  }

  void release_hold(io_driver* d, io_driver::outcome o) noexcept {
    if (o == io_driver::outcome::finished) {
      io_driver* expected = d;
      driver.compare_exchange_strong(expected, nullptr, std::memory_order_seq_cst);
    }
    last_drive_ns.store(now_ns(), std::memory_order_relaxed);
    holder.store(no_holder, std::memory_order_seq_cst);
  }

  // Holds the driver for `who` and returns it, or returns null.
  io_driver* hold_driver(std::size_t who) noexcept {
    if (driver.load(std::memory_order_seq_cst) == nullptr) return nullptr;
    if (!try_hold(who)) return nullptr;
    // Seen after taking the hold: detach() clears `driver` first and then
    // waits for the hold to be free, so it cannot miss this holder.
    io_driver* d = driver.load(std::memory_order_seq_cst);
    if (d == nullptr) holder.store(no_holder, std::memory_order_seq_cst);
    return d;
  }

  // An idle worker waits for I/O inside the driver instead of on its futex.
  // Returns false when it could not (no driver, or another thread has it).
  bool drive_idle(std::size_t i) noexcept {
    io_driver* d = hold_driver(i);
    if (d == nullptr) return false;
    driver_waiting.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    auto o = io_driver::outcome::idle;
    if (queued.load(std::memory_order_seq_cst) == 0 && !stopping.load(std::memory_order_seq_cst)) {
      o = d->run_until(steady::now() + idle_drive_wait);
    }
    driver_waiting.store(false, std::memory_order_seq_cst);
    release_hold(d, o);
    // What the I/O woke is in this worker's next slot; it runs it now, so a
    // sleeping worker takes over the driver and no reading waits for it.
    if (o == io_driver::outcome::ran && (workers[i].next != nullptr || queued.load() != 0))
      wake_one();
    return true;
  }

  // A busy worker reads what is ready when nobody has for a while.
  void poll_between_turns(std::size_t i) noexcept {
    if (driver.load(std::memory_order_relaxed) == nullptr) return;
    if (holder.load(std::memory_order_relaxed) != no_holder) return;
    if (now_ns() - last_drive_ns.load(std::memory_order_relaxed) < busy_poll_gap_ns) return;
    io_driver* d = hold_driver(i);
    if (d == nullptr) return;
    release_hold(d, d->poll());
    hand_on_driver();
  }

  // After a poll: a worker that went to sleep while the driver was held
  // would leave it unattended; wake one to wait in it.
  void hand_on_driver() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (num_parked.load(std::memory_order_seq_cst) != 0) wake_one();
  }

  // Polls the driver when every worker has been away from it for a tick
  // (all inside long turns): I/O and its timers still make progress.
  void keeper_loop() {
    pthread_setname_np(pthread_self(), keeper_thread_name);
    auto tick = keeper_tick_min;
    std::unique_lock lk(keeper_mu);
    while (!keeper_stop) {
      keeper_cv.wait_for(lk, tick);
      if (keeper_stop) break;
      lk.unlock();
      if (holder.load(std::memory_order_relaxed) != no_holder &&
          driver_waiting.load(std::memory_order_relaxed)) {
        tick = std::min(tick * 2, keeper_tick_max);  // a worker waits in it: look less often
      } else {
        tick = keeper_tick_min;
        const std::int64_t since = now_ns() - last_drive_ns.load(std::memory_order_relaxed);
        if (since >= std::chrono::nanoseconds(keeper_tick_min).count()) {
          if (io_driver* d = hold_driver(keeper_holder)) {
            release_hold(d, d->poll());
            hand_on_driver();
          }
        }
      }
      lk.lock();
    }
  }

  void stop_keeper(std::thread k) {
    {
      std::lock_guard lk(keeper_mu);
      keeper_stop = true;
    }
    keeper_cv.notify_all();
    if (!k.joinable()) return;
    if (k.get_id() == std::this_thread::get_id())
      k.detach();
    else
      k.join();
  }

  std::unique_ptr<io_attachment> attach(const std::shared_ptr<state>& self,
                                        std::shared_ptr<io_driver> d);
  void detach(io_driver* d) noexcept;

  void run_worker(std::size_t i) {
    pthread_setname_np(pthread_self(), worker_thread_name);
    current_pool = this;
    current_index = i;
    worker& w = workers[i];
    while (!stopping.load(std::memory_order_acquire)) {
      if (schedulable* s = find_work(i)) {
        s->run();
        poll_between_turns(i);
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
        poll_between_turns(i);
        continue;
      }
      if (drive_idle(i)) continue;
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
    // The driver may have come free (or been attached) after this worker
    // last tried it: nobody would wake it to take it.
    if (queued.load(std::memory_order_seq_cst) != 0 || stopping.load() ||
        (driver.load(std::memory_order_seq_cst) != nullptr &&
         holder.load(std::memory_order_seq_cst) == no_holder)) {
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

class thread_pool::attachment final : public io_attachment {
 public:
  explicit attachment(std::shared_ptr<state> st) : st(std::move(st)) {}
  ~attachment() override {
    if (driver != nullptr) st->detach(driver);
  }
  std::shared_ptr<state> st;
  io_driver* driver = nullptr;  // set once attached
};

std::unique_ptr<io_attachment> thread_pool::state::attach(const std::shared_ptr<state>& self,
                                                          std::shared_ptr<io_driver> d) {
  io_driver* raw = d.get();
  auto handle = std::make_unique<attachment>(self);
  {
    std::lock_guard lk(driver_mu);
    if (!d || driver_owned || stopping.load()) return nullptr;
    {
      std::lock_guard k(keeper_mu);
      keeper_stop = false;
    }
    keeper = std::thread([this] { keeper_loop(); });
    driver_owned = std::move(d);
    last_drive_ns.store(now_ns());
    driver.store(raw, std::memory_order_seq_cst);
    handle->driver = raw;
  }
  // Idle workers sleep on their futexes; wake one to take the driver.
  wake_one();
  return handle;
}

void thread_pool::state::detach(io_driver* d) noexcept {
  std::shared_ptr<io_driver> keep;
  std::thread k;
  {
    std::lock_guard lk(driver_mu);
    if (driver_owned.get() != d) return;
    driver.store(nullptr, std::memory_order_seq_cst);
    keep = driver_owned;
    k = std::move(keeper);
  }
  const bool on_keeper = k.joinable() && k.get_id() == std::this_thread::get_id();
  stop_keeper(std::move(k));
  const std::size_t self =
      on_keeper ? keeper_holder : (current_pool == this ? current_index : no_holder);
  // Wait until no other thread is inside the driver. A worker waiting in it
  // is interrupted; one running a handler finishes it first.
  for (int round = 0;; ++round) {
    const std::size_t h = holder.load(std::memory_order_seq_cst);
    if (h == no_holder || h == self) break;
    if (driver_waiting.load(std::memory_order_seq_cst)) keep->interrupt();
    if (round < 64)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::lock_guard lk(driver_mu);
  // Called from inside the driver: it must outlive this call.
  if (holder.load(std::memory_order_seq_cst) == self && self != no_holder) retired.push_back(keep);
  driver_owned.reset();
}

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

std::unique_ptr<io_attachment> thread_pool::attach_io(std::shared_ptr<io_driver> driver) {
  if (workers_.empty()) return nullptr;
  return st_->attach(st_, std::move(driver));
}

std::size_t thread_pool::stop(std::chrono::milliseconds deadline_ms) {
  if (workers_.empty()) return 0;
  state& st = *st_;
  st.stopping.store(true, std::memory_order_seq_cst);
  std::thread keeper;
  {
    std::lock_guard lock(st.driver_mu);
    if (st.driver_owned) st.driver_owned->interrupt();
    keeper = std::move(st.keeper);
  }
  st.stop_keeper(std::move(keeper));
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
