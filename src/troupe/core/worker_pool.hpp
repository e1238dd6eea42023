#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "troupe/core/endpoint.hpp"
#include "troupe/core/fan_out.hpp"
#include "troupe/core/hash_ring.hpp"
#include "troupe/core/rate_limiter.hpp"
#include "troupe/core/system.hpp"

namespace troupe {

/// Chooses which worker takes a job.
enum class pool_dispatch : std::uint8_t {
  idle,    ///< the worker that has been idle longest; none idle: the job waits
  sticky,  ///< a job with a key goes to the worker its key maps to (a
           ///< consistent hash over the pool's worker slots), so one key's jobs
           ///< run one at a time, in order; a job without a key: as idle
};

/// Chooses which job gives way when the queue is full.
enum class pool_discard : std::uint8_t {
  reject_new,   ///< the new job (its ask ends with mailbox_full)
  drop_oldest,  ///< the oldest job of the lowest priority queued (its ask ends with dropped)
};

/// A job's priority: queued high jobs start before normal ones, normal
/// before low.
enum class job_priority : std::uint8_t { high, normal, low };

/// Configures a worker pool.
struct pool_options {
  std::size_t workers = 4;
  pool_dispatch dispatch = pool_dispatch::idle;
  /// Jobs waiting for a worker, at most (jobs running are not counted).
  std::size_t queue_capacity = 1024;
  pool_discard discard = pool_discard::reject_new;
  /// Limits how fast jobs start (on the system's clock); unlimited by default.
  rate_limit rate{};
  /// A job still running after this fails with timeout, and its worker
  /// (presumed stuck) is killed and replaced.
  duration job_timeout = std::chrono::seconds(30);
  /// Wait before trying again when a replacement worker failed to spawn.
  duration restart_delay = std::chrono::milliseconds(100);
};

/// Says how to queue one job.
struct job_options {
  std::optional<routing_key> key;  ///< used by pool_dispatch::sticky
  job_priority priority = job_priority::normal;
  /// Ends the job's ask (queue wait included) with timeout after this; the
  /// system's default ask timeout when unset. A job whose ask has ended
  /// before a worker took it is not run.
  std::optional<duration> timeout;
};

/// A snapshot of a pool's counters.
struct pool_stats {
  std::size_t workers = 0;      ///< live workers
  std::size_t queued = 0;       ///< jobs waiting for a worker
  std::size_t busy = 0;         ///< workers running a job
  std::uint64_t done = 0;       ///< jobs that ended with a reply
  std::uint64_t failed = 0;     ///< jobs that ended with an error, or expired in the queue
  std::uint64_t dropped = 0;    ///< jobs discarded by the queue policy
  std::uint64_t restarted = 0;  ///< workers replaced after they ended
};

namespace detail {

/// Where a running job reports its end: the dispatcher, the worker slot and
/// the worker's incarnation in that slot.
struct job_ticket {
  ref_ptr<actor_handle> dispatcher;
  std::size_t slot = 0;
  std::uint64_t generation = 0;
};

/// Tells the dispatcher of `t` that its job ended (`failure`: how, if it did
/// not succeed). Any thread.
void report_job_end(const job_ticket& t, std::optional<errc> failure) noexcept;

/// One job, typed by the message it carries and erased for the dispatcher.
///
/// Thread safety: start(), discard() and expired() run in the dispatcher's
/// turn (or, for a job whose submission was refused, on the submitting
/// thread, through the destructor). The job's end is reported from the
/// thread that completes the worker's reply.
class pool_job {
 public:
  virtual ~pool_job() = default;
  /// Asks `worker` to run the job (reply deadline: `timeout`); the job
  /// reports its end to `t` and then completes its own ask.
  virtual void start(const ref_ptr<actor_handle>& worker, duration timeout, job_ticket t) = 0;
  /// Ends the job's ask with `why` without running it.
  virtual void discard(const troupe::error& why) noexcept = 0;
  /// Returns true when the job's ask has already ended (its deadline passed).
  [[nodiscard]] virtual bool expired() const noexcept = 0;
};

/// Waits for a worker's reply on the completing thread, reports it to the
/// dispatcher, then hands it to the job's asker (if any).
template <class R>
detached relay_job_reply(response<R> r, ref_ptr<reply_state<R>> asker, job_ticket t) {
  outside_cell_awaiter<R> aw{std::move(r).operator co_await()};
  result<R> outcome = co_await aw;
  std::optional<errc> failure;
  if (!outcome) failure = outcome.error().code();
  report_job_end(t, failure);
  if (asker) asker->complete(std::move(outcome));
}

/// A job carrying message M for workers of type W, and the asker's reply
/// (null for a tell).
template <class W, class M>
class typed_job final : public pool_job {
 public:
  using reply = reply_of_t<M>;
  typed_job(M m, ref_ptr<reply_state<reply>> asker)
      : msg_(std::move(m)), asker_(std::move(asker)) {}
  /// A job destroyed unrun (its pool stopped) ends with actor_not_found.
  ~typed_job() override { discard(troupe::error(errc::actor_not_found, "the pool stopped")); }

  void start(const ref_ptr<actor_handle>& worker, duration timeout, job_ticket t) override {
    response<reply> r = endpoint<W>(worker).ask(std::move(msg_), timeout);
    relay_job_reply(std::move(r), std::move(asker_), std::move(t));
  }
  void discard(const troupe::error& why) noexcept override {
    if (asker_) std::exchange(asker_, {})->complete(why);
  }
  [[nodiscard]] bool expired() const noexcept override { return asker_ && asker_->done(); }

 private:
  M msg_;
  ref_ptr<reply_state<reply>> asker_;  // null for a tell, or once started / discarded
};

/// Makes one worker and returns its handle.
using worker_maker = std::function<result<ref_ptr<actor_handle>>(system&)>;

/// Spawns a pool's dispatcher, which spawns the first workers; fails when
/// the options are invalid or a first worker cannot be made.
result<ref_ptr<actor_handle>> spawn_pool(system& sys, const pool_options& o, worker_maker make);
/// Queues `job` on the pool.
send_result submit_to_pool(const ref_ptr<actor_handle>& pool, std::unique_ptr<pool_job> job,
                           const job_options& o);
response<pool_stats> pool_stats_of(const ref_ptr<actor_handle>& pool);
void resize_pool(const ref_ptr<actor_handle>& pool, std::size_t workers);

}  // namespace detail

/// A pool of N workers, actors of type W, fed from one bounded, prioritized
/// job queue by a dispatcher actor that owns the queue (ractor's factory).
///
/// A job is any message W handles. The dispatcher gives each worker one job
/// at a time (to an idle worker, or by key with pool_dispatch::sticky),
/// applies the queue's discard policy and the rate limit, replaces workers
/// that end (or that overrun job_timeout) and can be resized at run time.
///
/// The pool supervises its workers itself: the factory must return fresh,
/// unsupervised actors.
///
/// Thread safety: a worker_pool is a cheap handle (copies refer to one pool);
/// every member function may be called from any thread, including inside
/// actors. Replies follow troupe::response's rules (get() from threads,
/// co_await in handler coroutines, which resume in their own actor's turn).
template <class W>
class worker_pool {
 public:
  /// Makes one worker; called by the dispatcher (first workers: inside
  /// spawn(); replacements: in the dispatcher's turn).
  using factory = std::function<result<endpoint<W>>(system&)>;

  /// Starts a pool whose workers are made by `make`.
  static result<worker_pool> spawn(system& sys, const pool_options& o, factory make) {
    detail::worker_maker erased =
        [make = std::move(make)](system& s) -> result<ref_ptr<actor_handle>> {
      result<endpoint<W>> ep = make(s);
      if (!ep) return ep.error();
      return ep->handle();
    };
    result<ref_ptr<actor_handle>> h = detail::spawn_pool(sys, o, std::move(erased));
    if (!h) return h.error();
    return worker_pool(std::move(h).value());
  }
  /// Starts a pool of default-constructed workers.
  static result<worker_pool> spawn(system& sys, const pool_options& o) {
    return spawn(sys, o, [](system& s) { return s.spawn<W>(); });
  }

  /// Queues `m` as a job. The result says whether the dispatcher took it;
  /// the queue's policy may still discard it (counted in stats().dropped).
  template <class M>
  send_result tell(M&& m, const job_options& o = {}) const {
    using msg = std::remove_cvref_t<M>;
    static_assert(handles_v<W, msg>, "troupe: a pool's job must be a message its workers handle");
    auto job = std::make_unique<detail::typed_job<W, msg>>(
        std::forward<M>(m), ref_ptr<detail::reply_state<reply_of_t<msg>>>());
    return detail::submit_to_pool(h_, std::move(job), o);
  }

  /// Queues `m` as a job and returns the worker's reply. The ask ends with
  /// the reply, or mailbox_full (rejected: queue full), dropped (pushed out
  /// by drop_oldest), timeout (o.timeout passed, or job_timeout while
  /// running), handler_failed / actor_not_found (the worker died), or
  /// actor_not_found (the pool stopped).
  template <class M>
  auto ask(M&& m, const job_options& o = {}) const {
    using msg = std::remove_cvref_t<M>;
    using reply = reply_of_t<msg>;
    static_assert(handles_v<W, msg>, "troupe: a pool's job must be a message its workers handle");
    system_core& core = h_->core();
    auto st = make_ref<detail::reply_state<reply>>();
    st->arm_deadline(core.time(), core.time().now() + o.timeout.value_or(core.default_ask_timeout));
    auto job = std::make_unique<detail::typed_job<W, msg>>(std::forward<M>(m), st);
    (void)detail::submit_to_pool(h_, std::move(job), o);  // a refusal ends `st`
    return response<reply>(std::move(st), &core);
  }

  /// Returns the pool's counters.
  [[nodiscard]] response<pool_stats> stats() const { return detail::pool_stats_of(h_); }
  /// Grows or shrinks the pool to `workers`. Extra workers finish their
  /// current job, then stop.
  void resize(std::size_t workers) const { detail::resize_pool(h_, workers); }
  /// Stops the pool: queued jobs end with actor_not_found, workers stop
  /// after their current job.
  void stop() const { h_->stop(exit_reason::normal()); }

  /// Returns the dispatcher's handle (to watch the pool, for example).
  [[nodiscard]] const ref_ptr<actor_handle>& handle() const noexcept { return h_; }

 private:
  explicit worker_pool(ref_ptr<actor_handle> h) : h_(std::move(h)) {}
  ref_ptr<actor_handle> h_;
};

}  // namespace troupe
