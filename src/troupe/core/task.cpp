#include "troupe/core/task.hpp"

#include "troupe/core/actor.hpp"
#include "troupe/core/cell.hpp"
#include "troupe/core/timer.hpp"

namespace troupe {

namespace detail {

namespace {

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

}  // namespace troupe
