#include "troupe/core/cell.hpp"

#include <thread>

#include "troupe/core/actor.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/timer.hpp"
#include "troupe/core/watch.hpp"

namespace troupe {
namespace {

thread_local cell* tl_current = nullptr;

enum signal_kind : int { sig_post_start, sig_stop, sig_kill, sig_drain_marker, sig_exit };

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

/// Resumes a coroutine in its actor's turn.
class resume_envelope final : public envelope {
 public:
  explicit resume_envelope(std::coroutine_handle<> h) : h_(h) {}
  void deliver(cell&) override { h_.resume(); }
  void reject(errc) noexcept override {}

 private:
  std::coroutine_handle<> h_;
};

/// Posts a resumption to its actor when it fires.
class sleep_timer final : public timer_base {
 public:
  sleep_timer(clock& c, ref_ptr<actor_handle> target, std::coroutine_handle<> h)
      : timer_base(c, duration::zero()), target_(std::move(target)), h_(h) {}

 private:
  void on_fire() noexcept override { target_->enqueue_system(new resume_envelope(h_)); }
  ref_ptr<actor_handle> target_;
  std::coroutine_handle<> h_;
};
}  // namespace

cell* exchange_current_cell(cell* c) noexcept { return std::exchange(tl_current, c); }
cell* exchange_constructing_cell(cell* c) noexcept { return std::exchange(tl_constructing, c); }
cell* constructing_cell() noexcept { return tl_constructing; }
actor_handle* handle_of(cell* c) noexcept { return c; }
bool drive_done(void* state) noexcept { return static_cast<reply_base*>(state)->done(); }

std::string exception_text(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

void finish_top_level(task_promise_base& p) noexcept {
  if (p.complete) p.complete(p, nullptr);
  p.owner->task_finished(p, p.exception);
  envelope* keep = p.keep;
  p.self.destroy();
  if (keep != nullptr) keep->dispose();
}

void task_promise_base::abandon(errc why) noexcept {
  if (complete) complete(*this, &why);
  envelope* k = keep;
  self.destroy();
  if (k != nullptr) k->dispose();
}

void sleep_awaitable::await_suspend(std::coroutine_handle<> h) {
  clock& c = cell_.core().time();
  auto t = make_ref<sleep_timer>(c, ref_ptr<actor_handle>(&cell_), h);
  cell_.own_timer(t.get());
  t->start(c.now() + delay_);
}

}  // namespace detail

struct cell::watch_list {
  std::vector<std::pair<std::uint64_t, ref_ptr<watch_entry>>> entries;
  std::uint64_t next_token = 1;
  bool closed = false;
  exit_reason reason;  // valid once closed
};

struct cell::ext {
  ref_ptr<supervision_hook> supervisor;
  bool final_exit = false;
  std::vector<detail::task_promise_base*> tasks;
  std::vector<std::pair<ref_ptr<actor_handle>, std::uint64_t>> outgoing_watches;
  std::vector<ref_ptr<timer_base>> timers;
  exit_reason pending;
  bool pending_set = false;
  exit_reason reason;
  std::size_t capacity = 0;
  overflow policy = overflow::reject;
  std::atomic<std::size_t> count{0};
  std::atomic<std::size_t> to_drop{0};
};

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

void cell::activate() noexcept {
  phase_ = phase::created;
  system_.push(new signal(sig_post_start, {}));
  add_ref();
  exec_->post(this, post_hint::wake);
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
  if (own_exec_) own_exec_->retire();
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

/// A supervisor's order to one of its children, answered on `ack`.
class cell::control final : public envelope {
 public:
  using order = control_order;
  control(order o, exit_reason why, ref_ptr<detail::reply_state<void>> ack)
      : order_(o), why_(std::move(why)), ack_(std::move(ack)) {}
  void deliver(cell& c) override { c.obey(order_, std::move(why_), ack_); }
  void reject(errc why) noexcept override {
    if (ack_) ack_->complete(why);
  }

 private:
  order order_;
  exit_reason why_;
  ref_ptr<detail::reply_state<void>> ack_;
};

void cell::set_supervisor(ref_ptr<supervision_hook> hook) {
  extension().supervisor = std::move(hook);
}

void cell::request_restart(ref_ptr<detail::reply_state<void>> ack) noexcept {
  enqueue_system(new control(control::order::restart, {}, std::move(ack)));
}

void cell::request_retire(exit_reason why, ref_ptr<detail::reply_state<void>> ack) noexcept {
  enqueue_system(new control(control::order::retire, std::move(why), std::move(ack)));
}

void cell::request_final_stop(exit_reason why, ref_ptr<detail::reply_state<void>> ack) noexcept {
  enqueue_system(new control(control::order::final_stop, std::move(why), std::move(ack)));
}

void cell::retire(exit_reason why, bool tell_supervisor) noexcept {
  release_instance(why.what() == exit_reason::kind::failed ? errc::handler_failed
                                                           : errc::actor_not_found);
  if (has_actor()) {
    call_post_stop(why);
    destroy_actor();
  }
  ext& x = extension();
  x.pending_set = false;
  phase_ = phase::restarting;
  if (tell_supervisor && x.supervisor) x.supervisor->child_exited(id_, why);
}

void cell::obey(control_order o, exit_reason why,
                const ref_ptr<detail::reply_state<void>>& ack) noexcept {
  switch (o) {
    case control_order::restart: {
      if (phase_ != phase::restarting) {
        if (ack) ack->complete(result<void>{});
        return;
      }
      result<void> r = rebuild();
      if (!r) {
        if (ack) ack->complete(r.error());
        return;  // still restarting: the supervisor decides again
      }
      phase_ = phase::running;
      try {
        call_post_start();
      } catch (const std::exception& ex) {
        stop_self(exit_reason::failed(ex.what()));
      } catch (...) {
        stop_self(exit_reason::failed("unknown exception"));
      }
      if (ack) ack->complete(result<void>{});
      return;
    }
    case control_order::retire:
      if (phase_ == phase::running || phase_ == phase::stopping || phase_ == phase::created) {
        retire(std::move(why), false);
      }
      if (ack) ack->complete(result<void>{});
      return;
    case control_order::final_stop:
      extension().final_exit = true;
      terminate(std::move(why));
      if (ack) ack->complete(result<void>{});
      return;
  }
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
  } catch (const std::exception& ex) {
    stop_self(exit_reason::failed(ex.what()));
    ext_->pending = exit_reason::failed(ex.what());
  } catch (...) {
    stop_self(exit_reason::failed("unknown exception"));
    ext_->pending = exit_reason::failed("unknown exception");
  }
  // A handler coroutine may keep referring to its message: the task owns
  // the envelope then and disposes it when it ends.
  if (envelope_retained_) {
    envelope_retained_ = false;
  } else {
    e->dispose();
  }
  if (phase_ != phase::dead && ext_ && ext_->pending_set) {
    if (suspended_ == 0 || ext_->pending == exit_reason::kind::failed) terminate(ext_->pending);
  }
}

void cell::handle_signal(int kind, exit_reason why) noexcept {
  if (phase_ == phase::dead) return;
  switch (kind) {
    case sig_post_start:
      phase_ = phase::running;
      try {
        call_post_start();
      } catch (const std::exception& ex) {
        stop_self(exit_reason::failed(ex.what()));
      } catch (...) {
        stop_self(exit_reason::failed("unknown exception"));
      }
      return;
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
  if (failure) {
    std::string text = detail::exception_text(failure);
    stop_self(exit_reason::failed(text));
    x.pending = exit_reason::failed(std::move(text));
  }
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
  if (own_exec_) own_exec_->retire();
  ext& x = extension();
  notify_watchers(why);
  x.reason = std::move(why);
  sched_.store(closed, std::memory_order_seq_cst);
  drain_closed();
  core_->detach(this);
}

void cell::lock_watches() noexcept {
  while (watch_lock_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
}

void cell::notify_watchers(const exit_reason& why) noexcept {
  std::vector<std::pair<std::uint64_t, ref_ptr<watch_entry>>> entries;
  lock_watches();
  if (!watches_) watches_ = std::make_unique<watch_list>();
  watches_->closed = true;
  watches_->reason = why;
  entries.swap(watches_->entries);
  unlock_watches();
  for (auto& [token, e] : entries) e->notify(id_, why);
}

std::uint64_t cell::add_watch(ref_ptr<watch_entry> e) {
  lock_watches();
  if (!watches_) watches_ = std::make_unique<watch_list>();
  if (watches_->closed) {
    exit_reason why = watches_->reason;
    unlock_watches();
    e->notify(id_, why);
    return 0;
  }
  std::uint64_t token = watches_->next_token++;
  try {
    watches_->entries.emplace_back(token, std::move(e));
  } catch (...) {
    unlock_watches();
    throw;
  }
  unlock_watches();
  return token;
}

void cell::remove_watch(std::uint64_t token) noexcept {
  ref_ptr<watch_entry> gone;  // released outside the lock
  lock_watches();
  if (watches_) {
    auto& v = watches_->entries;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it->first == token) {
        gone = std::move(it->second);
        v.erase(it);
        break;
      }
    }
  }
  unlock_watches();
}

void cell::own_watch(const ref_ptr<actor_handle>& target, std::uint64_t token) {
  if (token != 0) extension().outgoing_watches.emplace_back(target, token);
}

void cell::exit_linked(exit_reason why) noexcept {
  enqueue_system(new signal(sig_exit, std::move(why)));
}

void cell::enqueue_notice(envelope* e) noexcept {
  if (bounded_) ext_->count.fetch_add(1, std::memory_order_acq_rel);
  user_.push(e);
  schedule_if_idle();
}

void cell::drain_closed() noexcept {
  while (drain_lock_.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
  reject_queued(*core_, system_);
  reject_queued(*core_, user_);
  drain_lock_.store(false, std::memory_order_release);
}

void cell::run() noexcept {
  cell* prev = detail::exchange_current_cell(this);
  std::size_t budget = core_->batch;
  for (;;) {
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
