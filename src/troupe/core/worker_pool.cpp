#include "troupe/core/worker_pool.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <string>
#include <vector>

#include "troupe/core/actor.hpp"

namespace troupe::detail {
namespace {

struct submit_job {
  static constexpr std::string_view type_name = "troupe.pool.submit";
  std::unique_ptr<pool_job> job;
  std::optional<std::uint64_t> key;
  job_priority priority = job_priority::normal;
};
struct job_ended {
  static constexpr std::string_view type_name = "troupe.pool.job_ended";
  std::size_t slot = 0;
  std::uint64_t generation = 0;
  std::optional<errc> failure;
};
struct resize_to {
  static constexpr std::string_view type_name = "troupe.pool.resize";
  std::size_t workers = 0;
};
struct stats_query {
  using reply = pool_stats;
  static constexpr std::string_view type_name = "troupe.pool.stats";
};
struct rate_tick {
  static constexpr std::string_view type_name = "troupe.pool.rate_tick";
};
struct respawn {
  static constexpr std::string_view type_name = "troupe.pool.respawn";
  std::size_t slot = 0;
};

/// Stands for "some worker" in endpoints the dispatcher only watches.
struct any_worker {};

/// The pool's dispatcher: owns the job queue and the worker slots. Every
/// member runs in its own turn.
class pool_dispatcher : public actor<pool_dispatcher> {
 public:
  using handles =
      troupe::handles<submit_job, job_ended, down, resize_to, stats_query, rate_tick, respawn>;

  pool_dispatcher(system* sys, const pool_options& o, worker_maker make)
      : sys_(sys), opts_(o), make_(std::move(make)), limiter_(o.rate) {}

  result<void> on_start() {
    for (std::size_t i = 0; i < opts_.workers; ++i) {
      slots_.emplace_back();
      if (result<void> r = fill(i); !r) {
        stop_workers();
        return r;
      }
    }
    target_ = opts_.workers;
    rebuild_ring();
    return {};
  }

  void post_stop(const exit_reason&) {
    for (auto& level : queue_) {
      for (queued& q : level) q.job->discard(error(errc::actor_not_found, "the pool stopped"));
      level.clear();
    }
    queued_ = 0;
    stop_workers();
  }

  void handle(submit_job m) {
    const std::size_t lvl = std::min<std::size_t>(static_cast<std::size_t>(m.priority), 2);
    queue_[lvl].push_back(queued{std::move(m.job), m.key});
    ++queued_;
    pump();
    // Only the job just queued can have overflowed the queue: had pump()
    // started anything, there would be room.
    if (queued_ <= opts_.queue_capacity) return;
    --queued_;
    ++dropped_;
    if (opts_.discard == pool_discard::reject_new) {
      queued q = std::move(queue_[lvl].back());
      queue_[lvl].pop_back();
      q.job->discard(error(errc::mailbox_full, "the pool's queue is full"));
      return;
    }
    for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {  // lowest priority first
      if (it->empty()) continue;
      queued q = std::move(it->front());
      it->pop_front();
      q.job->discard(error(errc::dropped, "pushed out of the pool's full queue"));
      return;
    }
  }

  void handle(const job_ended& m) {
    if (m.failure) {
      ++failed_;
    } else {
      ++done_;
    }
    if (m.slot < slots_.size()) {
      slot& s = slots_[m.slot];
      if (s.gen == m.generation && s.st == state::busy) {
        if (s.draining) {
          s.st = state::ending;  // drained: it stops by itself after this job
        } else if (!m.failure) {
          s.st = state::idle;
        } else if (*m.failure == errc::timeout) {
          s.st = state::ending;  // presumed stuck: replaced once its down comes
          s.h->kill();
        } else if (*m.failure == errc::handler_failed || *m.failure == errc::actor_not_found) {
          s.st = state::ending;  // it failed or is gone: its down comes next
        } else {
          s.st = state::idle;
        }
      }
    }
    pump();
  }

  void handle(const down& d) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slot& s = slots_[i];
      if (s.id != d.who || s.st == state::empty) continue;
      s.h.reset();
      s.id = 0;
      s.st = state::empty;
      if (i < target_) {
        ++restarted_;
        (void)fill(i);
      }
      break;
    }
    trim();
    pump();
  }

  void handle(const resize_to& m) {
    const std::size_t n = m.workers;
    target_ = n;
    while (slots_.size() < n) slots_.emplace_back();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slot& s = slots_[i];
      if (i < n) {
        if (s.st == state::empty && !s.retry_pending) (void)fill(i);
      } else if (s.st == state::idle || s.st == state::busy) {
        s.h->drain();  // finishes the job it has, then stops
        s.draining = true;
        if (s.st == state::idle) s.st = state::ending;
      }
    }
    trim();
    rebuild_ring();
    pump();
  }

  pool_stats handle(stats_query) const {
    pool_stats st;
    for (const slot& s : slots_) {
      if (s.st == state::idle || s.st == state::busy) ++st.workers;
      if (s.st == state::busy) ++st.busy;
    }
    st.queued = queued_;
    st.done = done_;
    st.failed = failed_;
    st.dropped = dropped_;
    st.restarted = restarted_;
    return st;
  }

  void handle(rate_tick) {
    tick_pending_ = false;
    pump();
  }

  void handle(const respawn& m) {
    if (m.slot >= slots_.size()) return;
    slots_[m.slot].retry_pending = false;
    if (m.slot < target_ && slots_[m.slot].st == state::empty) (void)fill(m.slot);
    pump();
  }

 private:
  enum class state : std::uint8_t { empty, idle, busy, ending };
  struct slot {
    ref_ptr<actor_handle> h;
    actor_id id = 0;
    std::uint64_t gen = 0;
    std::uint64_t last_used = 0;
    state st = state::empty;
    bool retry_pending = false;
    bool draining = false;  // told to finish its job and stop (pool shrank)
  };
  struct queued {
    std::unique_ptr<pool_job> job;
    std::optional<std::uint64_t> key;
  };
  struct choice {
    std::size_t level;
    std::size_t index;
    std::size_t slot;
  };

  /// Puts a new worker in slot `i`; on failure, tries again later.
  result<void> fill(std::size_t i) {
    slot& s = slots_[i];
    result<ref_ptr<actor_handle>> made = make_(*sys_);
    if (!made || !*made) {
      if (!s.retry_pending && !sys_->core().shutting_down()) {
        s.retry_pending = true;
        send_after(opts_.restart_delay, respawn{i});
      }
      if (!made) return made.error();
      return error(errc::start_failed, "the worker factory returned an empty endpoint");
    }
    s.h = std::move(made).value();
    s.id = s.h->id();
    ++s.gen;
    s.st = state::idle;
    s.draining = false;
    watch(endpoint<any_worker>(s.h));
    return {};
  }

  void stop_workers() {
    for (slot& s : slots_) {
      if (s.h) s.h->stop(exit_reason::normal());
    }
  }

  /// Forgets retired slots at the end of the vector.
  void trim() {
    while (slots_.size() > target_ && slots_.back().st == state::empty) slots_.pop_back();
  }

  void rebuild_ring() {
    std::vector<std::uint64_t> ids;
    for (std::size_t i = 0; i < target_; ++i) ids.push_back(i);
    ring_.assign(ids);
  }

  /// Returns the idle worker that has waited longest.
  std::optional<std::size_t> longest_idle() const {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < slots_.size() && i < target_; ++i) {
      if (slots_[i].st != state::idle) continue;
      if (!best || slots_[i].last_used < slots_[*best].last_used) best = i;
    }
    return best;
  }

  /// Finds the first queued job (by priority, then age) that a worker can
  /// take now. Drops expired jobs on the way.
  std::optional<choice> choose() {
    const std::optional<std::size_t> idle = longest_idle();
    if (!idle) return std::nullopt;
    for (std::size_t level = 0; level < queue_.size(); ++level) {
      auto& q = queue_[level];
      for (std::size_t i = 0; i < q.size();) {
        if (q[i].job->expired()) {  // its asker gave up: never run it
          q.erase(q.begin() + static_cast<std::ptrdiff_t>(i));
          --queued_;
          ++failed_;
          continue;
        }
        if (opts_.dispatch == pool_dispatch::sticky && q[i].key) {
          std::optional<std::size_t> owner = ring_.owner(*q[i].key);
          if (owner && slots_[*owner].st == state::idle) return choice{level, i, *owner};
          ++i;  // its worker is busy: later jobs of other keys may go first
          continue;
        }
        return choice{level, i, *idle};
      }
    }
    return std::nullopt;
  }

  /// Starts queued jobs while workers and the rate limit allow.
  void pump() {
    while (queued_ > 0) {
      std::optional<choice> c = choose();
      if (!c) return;
      if (!limiter_.try_take(now())) {
        if (!tick_pending_) {
          tick_pending_ = true;
          send_after(limiter_.next_at(now()) - now(), rate_tick{});
        }
        return;
      }
      auto& level = queue_[c->level];
      std::unique_ptr<pool_job> job = std::move(level[c->index].job);
      level.erase(level.begin() + static_cast<std::ptrdiff_t>(c->index));
      --queued_;
      slot& s = slots_[c->slot];
      s.st = state::busy;
      s.last_used = ++uses_;
      job->start(s.h, opts_.job_timeout, job_ticket{self().handle(), c->slot, s.gen});
    }
  }

  system* sys_;
  pool_options opts_;
  worker_maker make_;
  rate_limiter limiter_;
  hash_ring ring_;
  std::vector<slot> slots_;
  std::size_t target_ = 0;
  std::array<std::deque<queued>, 3> queue_;
  std::size_t queued_ = 0;
  std::uint64_t uses_ = 0;
  std::uint64_t done_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t restarted_ = 0;
  bool tick_pending_ = false;
};

}  // namespace

void report_job_end(const job_ticket& t, std::optional<errc> failure) noexcept {
  try {
    endpoint<pool_dispatcher>(t.dispatcher).tell(job_ended{t.slot, t.generation, failure});
  } catch (...) {  // out of memory: the slot stays busy until the worker ends
  }
}

result<ref_ptr<actor_handle>> spawn_pool(system& sys, const pool_options& o, worker_maker make) {
  if (!make) return error(errc::invalid_argument, "the pool has no worker factory");
  if (o.job_timeout <= duration::zero()) {
    return error(errc::invalid_argument, "job_timeout must be positive");
  }
  if (o.rate.jobs > 0 && o.rate.per <= duration::zero()) {
    return error(errc::invalid_argument, "rate.per must be positive");
  }
  result<endpoint<pool_dispatcher>> d = sys.spawn<pool_dispatcher>(&sys, o, std::move(make));
  if (!d) return d.error();
  return d->handle();
}

send_result submit_to_pool(const ref_ptr<actor_handle>& pool, std::unique_ptr<pool_job> job,
                           const job_options& o) {
  std::optional<std::uint64_t> key;
  if (o.key) key = o.key->hash();
  submit_job m{std::move(job), key, o.priority};
  return endpoint<pool_dispatcher>(pool).tell(std::move(m));
}

response<pool_stats> pool_stats_of(const ref_ptr<actor_handle>& pool) {
  return endpoint<pool_dispatcher>(pool).ask(stats_query{});
}

void resize_pool(const ref_ptr<actor_handle>& pool, std::size_t workers) {
  (void)endpoint<pool_dispatcher>(pool).tell(resize_to{workers});
}

}  // namespace troupe::detail
