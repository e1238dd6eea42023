#include "troupe/core/cell.hpp"

#include "troupe/core/internal/cell_ext.hpp"

#include <thread>

#include "troupe/core/actor.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/timer.hpp"
#include "troupe/core/watch.hpp"

namespace troupe {
namespace {

thread_local cell* tl_current = nullptr;

enum signal_kind : int { sig_stop, sig_kill, sig_drain_marker, sig_exit };

void reject_envelope(system_core& core, envelope* e, errc why) noexcept {
  if (e->is_tell() && why == errc::actor_not_found) core.count_dead_letter();
  e->reject(why);
  e->dispose();
}

/// Rejects everything queued in `q` with actor_not_found. The caller is the
/// queue's only consumer.
template <class Queue>
void reject_queued(system_core& core, Queue& q) noexcept {
  while (!q.empty()) {
    mpsc_node* n = q.pop();
    if (n == nullptr) {
      std::this_thread::yield();  // a producer is between its two steps
      continue;
    }
    reject_envelope(core, static_cast<envelope*>(n), errc::actor_not_found);
  }
}

}  // namespace

cell* current_cell() noexcept { return tl_current; }

namespace detail {

namespace {
thread_local cell* tl_constructing = nullptr;
}  // namespace

cell* exchange_current_cell(cell* c) noexcept { return std::exchange(tl_current, c); }
cell* exchange_constructing_cell(cell* c) noexcept { return std::exchange(tl_constructing, c); }
cell* constructing_cell() noexcept { return tl_constructing; }
actor_handle* handle_of(cell* c) noexcept { return c; }

}  // namespace detail

class cell::signal final : public envelope {
 public:
  signal(int kind, exit_reason why) : kind_(kind), why_(std::move(why)) {}
  void deliver(cell& c) override { c.handle_signal(kind_, std::move(why_)); }
  void reject(errc) noexcept override {}

 private:
  int kind_;
  exit_reason why_;
};

cell::cell(ref_ptr<system_core> core, executor& ex, bool reentrant, const mailbox_options& mbox)
    : core_(std::move(core)),
      exec_(&ex),
      id_(core_->next_id()),
      bounded_(mbox.capacity != 0),
      reentrant_(reentrant) {
  // Until activate(), the cell counts as scheduled: messages queue up but
  // nothing runs.
  sched_.store(scheduled, std::memory_order_relaxed);
  if (bounded_) {
    ext_ = std::make_unique<ext>();
    ext_->capacity = mbox.capacity;
    ext_->policy = mbox.policy;
  }
}

cell::~cell() {
  // Anything still queued (a late send that raced with termination) is
  // rejected, so every ask ends.
  reject_queued(*core_, system_);
  reject_queued(*core_, user_);
}

cell::ext& cell::extension() {
  if (!ext_) ext_ = std::make_unique<ext>();
  return *ext_;
}

const exit_reason& cell::reason() const noexcept {
  static const exit_reason none;
  return ext_ ? ext_->reason : none;
}

send_result cell::enqueue(envelope* e) noexcept {
  if (closing_.load(std::memory_order_acquire)) {
    reject_envelope(*core_, e, errc::actor_not_found);
    return errc::actor_not_found;
  }
  if (bounded_) {
    ext& x = *ext_;
    if (x.count.fetch_add(1, std::memory_order_acq_rel) >= x.capacity) {
      switch (x.policy) {
        case overflow::reject:
          x.count.fetch_sub(1, std::memory_order_acq_rel);
          reject_envelope(*core_, e, errc::mailbox_full);
          return errc::mailbox_full;
        case overflow::drop_newest:
          x.count.fetch_sub(1, std::memory_order_acq_rel);
          reject_envelope(*core_, e, errc::mailbox_full);
          return errc::dropped;
        case overflow::drop_oldest:
          x.to_drop.fetch_add(1, std::memory_order_acq_rel);
          break;
      }
    }
  }
  user_.push(e);
  schedule_if_idle();
  return {};
}

void cell::enqueue_system(envelope* e) noexcept {
  system_.push(e);
  schedule_if_idle();
}

void cell::schedule_if_idle() noexcept {
  std::uint8_t s = sched_.load(std::memory_order_seq_cst);
  if (s == idle) {
    if (sched_.compare_exchange_strong(s, scheduled, std::memory_order_seq_cst)) {
      add_ref();  // the scheduling reference, dropped at the end of the turn
      exec_->post(this, post_hint::wake);
      return;
    }
  }
  if (s == closed) drain_closed();
}

void cell::use_own_executor(std::shared_ptr<executor> ex) {
  exec_ = ex.get();
  extension().own_exec = std::move(ex);
}

bool cell::claim() noexcept {
  std::uint8_t held = 0;
  return launch_.compare_exchange_strong(held, 3, std::memory_order_acq_rel);
}

void cell::activate() noexcept {
  launch_.store(1, std::memory_order_release);
  phase_ = phase::created;  // the first turn runs post_start
  add_ref();
  exec_->post(this, post_hint::wake);
}

bool cell::discard() noexcept {
  std::uint8_t held = 0;
  if (!launch_.compare_exchange_strong(held, 2, std::memory_order_acq_rel)) return false;
  discard_claimed();
  return true;
}

void cell::discard_claimed() noexcept {
  launch_.store(2, std::memory_order_release);
  ref_ptr<cell> keep(this);  // detach() may drop the system's reference
  abandon();
  core_->detach(this);
}

void cell::abandon() noexcept {
  phase_ = phase::dead;
  closing_.store(true, std::memory_order_release);
  // Timers armed by the constructor or on_start hold a reference to the cell
  // (and would tick into a dead mailbox forever); an actor may hold its own
  // endpoint. Release both, as terminate() does.
  release_instance(errc::actor_not_found);
  destroy_actor();
  notify_watchers(exit_reason::failed("start failed"));
  if (ext_ && ext_->own_exec) ext_->own_exec->retire();
  sched_.store(closed, std::memory_order_seq_cst);
  drain_closed();
}

void cell::release_instance(errc asks_end_with) noexcept {
  if (!ext_) return;
  // Suspended handlers are destroyed, never resumed; their asks end.
  auto tasks = std::move(ext_->tasks);
  suspended_ = 0;
  for (detail::task_promise_base* p : tasks) p->abandon(asks_end_with);
  for (auto& t : ext_->timers) t->cancel();
  ext_->timers.clear();
  for (auto& [target, token] : ext_->outgoing_watches) target->remove_watch(token);
  ext_->outgoing_watches.clear();
}

void cell::request_stop(exit_reason why) noexcept {
  enqueue_system(new signal(sig_stop, std::move(why)));
}

void cell::request_kill() noexcept { enqueue_system(new signal(sig_kill, {})); }

void cell::request_drain() noexcept {
  if (closing_.exchange(true, std::memory_order_acq_rel)) return;
  // The marker bypasses the closing check: everything queued before it is
  // still handled.
  user_.push(new signal(sig_drain_marker, {}));
  if (bounded_) ext_->count.fetch_add(1, std::memory_order_acq_rel);
  schedule_if_idle();
}

void cell::fail_self(std::string text) noexcept {
  stop_self(exit_reason::failed({}));
  ext_->pending = exit_reason::failed(std::move(text));  // a failure wins over a pending stop
}

void cell::stop_self(exit_reason why) noexcept {
  ext& x = extension();
  if (!x.pending_set) {
    x.pending = std::move(why);
    x.pending_set = true;
  }
  if (phase_ == phase::running) phase_ = phase::stopping;
}

envelope* cell::pop_user() noexcept {
  for (;;) {
    mpsc_node* n = user_.pop();
    if (n == nullptr) return nullptr;
    auto* e = static_cast<envelope*>(n);
    if (!bounded_) return e;
    ext& x = *ext_;
    x.count.fetch_sub(1, std::memory_order_acq_rel);
    std::size_t d = x.to_drop.load(std::memory_order_acquire);
    while (d != 0 && !x.to_drop.compare_exchange_weak(d, d - 1, std::memory_order_acq_rel)) {
    }
    if (d == 0) return e;
    reject_envelope(*core_, e, errc::mailbox_full);  // drop_oldest: this one goes
  }
}

void cell::deliver(envelope* e) noexcept {
  try {
    e->deliver(*this);
  } catch (...) {
    fail_self(detail::exception_text(std::current_exception()));
  }
  // A handler coroutine may keep referring to its message: the task owns
  // the envelope then and disposes it when it ends.
  if (envelope_retained_) {
    envelope_retained_ = false;
  } else {
    e->dispose();
  }
  end_if_pending();
}

void cell::handle_signal(int kind, exit_reason why) noexcept {
  if (phase_ == phase::dead) return;
  switch (kind) {
    case sig_stop:
      stop_self(std::move(why));
      return;
    case sig_kill:
      terminate(exit_reason::killed());
      return;
    case sig_drain_marker:
      stop_self(exit_reason::normal());
      return;
    case sig_exit:
      if (phase_ != phase::restarting) terminate(std::move(why));
      return;
    default:
      return;
  }
}

void cell::start_task(std::coroutine_handle<> h, detail::task_promise_base& p, envelope* keep) {
  p.owner = this;
  p.keep = keep;
  if (keep != nullptr) envelope_retained_ = true;
  extension().tasks.push_back(&p);
  ++suspended_;
  h.resume();
}

void cell::task_finished(detail::task_promise_base& p, std::exception_ptr failure) noexcept {
  ext& x = *ext_;
  std::erase(x.tasks, &p);
  --suspended_;
  if (failure) fail_self(detail::exception_text(failure));
}

void cell::own_timer(timer_base* t) {
  auto& timers = extension().timers;
  std::erase_if(timers, [](const ref_ptr<timer_base>& x) { return !x->active(); });
  timers.emplace_back(t);
}

void cell::terminate(exit_reason why) noexcept {
  if (ext_ && ext_->supervisor && !ext_->final_exit && why.what() != exit_reason::kind::shutdown &&
      !core_->shutting_down()) {
    // A supervised actor's exit is its supervisor's to judge: the cell (and
    // every endpoint to it, and its mailbox) stays, waiting for a restart or
    // a final stop.
    if (phase_ != phase::restarting) retire(std::move(why), true);
    return;
  }
  phase_ = phase::dead;
  closing_.store(true, std::memory_order_release);
  if (has_actor()) {
    release_instance(errc::actor_not_found);
    call_post_stop(why);
    destroy_actor();
  }
  if (ext_ && ext_->own_exec) ext_->own_exec->retire();
  ext& x = extension();
  notify_watchers(why);
  x.reason = std::move(why);
  sched_.store(closed, std::memory_order_seq_cst);
  drain_closed();
  core_->detach(this);
}

void cell::exit_linked(exit_reason why) noexcept {
  enqueue_system(new signal(sig_exit, std::move(why)));
}

void cell::drain_closed() noexcept {
  while (drain_lock_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
  reject_queued(*core_, system_);
  reject_queued(*core_, user_);
  drain_lock_.store(false, std::memory_order_release);
}

void cell::run_post_start() noexcept {
  phase_ = phase::running;
  try {
    call_post_start();
  } catch (...) {
    fail_self(detail::exception_text(std::current_exception()));
  }
  end_if_pending();
}

void cell::end_if_pending() noexcept {
  if (phase_ != phase::dead && ext_ && ext_->pending_set) {
    if (suspended_ == 0 || ext_->pending == exit_reason::kind::failed) terminate(ext_->pending);
  }
}

void cell::run() noexcept {
  cell* prev = detail::exchange_current_cell(this);
  std::size_t budget = core_->batch;
  // The first turn starts with post_start, before any signal or message.
  if (phase_ == phase::created) run_post_start();
  for (;;) {
    if (phase_ == phase::dead) break;
    if (mpsc_node* n = system_.pop()) {
      deliver(static_cast<envelope*>(n));
      if (phase_ == phase::dead) break;
      continue;
    }
    if (blocked() || phase_ == phase::stopping) break;
    if (budget == 0) {
      if (user_.empty()) break;
      detail::exchange_current_cell(prev);
      exec_->post(this, post_hint::yield);  // keeps the scheduling reference
      return;
    }
    envelope* e = pop_user();
    if (e == nullptr) break;
    --budget;
    deliver(e);
    if (phase_ == phase::dead) break;
  }
  detail::exchange_current_cell(prev);
  if (phase_ != phase::dead) {
    // Read the consumer-side state before going idle: once sched_ says idle,
    // another thread may start a turn of this cell and own those fields.
    const bool system_drained = system_.consumer_drained();
    const bool user_wanted = !blocked() && phase_ != phase::stopping;
    const bool user_drained = user_.consumer_drained();
    sched_.store(idle, std::memory_order_seq_cst);
    bool more = !(system_drained && system_.no_pushes()) ||
                (user_wanted && !(user_drained && user_.no_pushes()));
    if (more) {
      std::uint8_t s = idle;
      if (sched_.compare_exchange_strong(s, scheduled, std::memory_order_seq_cst)) {
        exec_->post(this, post_hint::yield);
        return;
      }
    }
  }
  release();
}

}  // namespace troupe
