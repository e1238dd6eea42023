#include "troupe/core/supervisor.hpp"

#include <algorithm>

namespace troupe {

namespace detail {

void child_hook::child_exited(actor_id who, const exit_reason& why) noexcept {
  try {
    sup_->enqueue_notice(
        new tell_envelope<supervisor, child_exit_notice>(child_exit_notice{index_, who, why}));
  } catch (...) {  // out of memory: the supervisor cannot be told
  }
}

}  // namespace detail

supervisor::supervisor(supervisor_spec spec) : spec_(std::move(spec)) {
  children_.reserve(spec_.children.size());
  for (auto& c : spec_.children)
    children_.push_back(child_state{std::move(c), {}, false, false, 0, {}, {}});
  spec_.children.clear();
}

result<void> supervisor::on_start() {
  ref_ptr<actor_handle> me = self().handle();
  for (std::size_t i = 0; i < children_.size(); ++i) {
    child_state& ch = children_[i];
    if (!ch.spec.start)
      return error(errc::start_failed, "child '" + ch.spec.label + "' has no start function");
    auto hook = make_ref<detail::child_hook>(me, i);
    result<ref_ptr<cell>> r =
        ch.spec.start(ref_ptr<system_core>(&me->core()), hook, ch.spec.options);
    if (!r) {
      // Children already started stop again, last first.
      for (std::size_t j = i; j-- > 0;) {
        children_[j].c->request_final_stop(exit_reason::shutdown(), {});
        children_[j].running = false;
      }
      return error(errc::start_failed,
                   "child '" + ch.spec.label + "' failed to start: " + r.error().message());
    }
    ch.c = std::move(*r);
    ch.running = true;
    ch.next_delay = spec_.backoff.initial;
    ch.last_start = now();
    emit(supervision_event::kind::started, ch, exit_reason::normal());
  }
  return {};
}

void supervisor::post_stop(const exit_reason&) {
  // Children stop last first. On a pool their ends may overlap; the
  // requests are issued in reverse start order.
  for (std::size_t j = children_.size(); j-- > 0;) {
    if (children_[j].c) children_[j].c->request_final_stop(exit_reason::shutdown(), {});
  }
}

void supervisor::emit(supervision_event::kind k, const child_state& ch, const exit_reason& why,
                      duration delay) {
  if (!spec_.on_event) return;
  supervision_event ev;
  ev.what = k;
  ev.label = ch.spec.label;
  ev.child = ch.c ? ch.c->id() : 0;
  ev.reason = why;
  ev.restarts = ch.restarts;
  ev.delay = delay;
  try {
    spec_.on_event(ev);
  } catch (...) {  // an observer may not fail the supervisor
  }
}

std::vector<std::size_t> supervisor::affected(std::size_t failed) const {
  std::vector<std::size_t> set;
  switch (spec_.strategy) {
    case supervision_strategy::one_for_one:
      set.push_back(failed);
      break;
    case supervision_strategy::one_for_all:
      for (std::size_t i = 0; i < children_.size(); ++i) set.push_back(i);
      break;
    case supervision_strategy::rest_for_one:
      for (std::size_t i = failed; i < children_.size(); ++i) set.push_back(i);
      break;
  }
  // Only children that still exist take part.
  std::erase_if(set, [&](std::size_t i) { return !children_[i].c; });
  return set;
}

bool supervisor::over_intensity() {
  const time_point t = now();
  restart_times_.push_back(t);
  while (!restart_times_.empty() && t - restart_times_.front() > spec_.intensity.window) {
    restart_times_.pop_front();
  }
  return restart_times_.size() > spec_.intensity.max_restarts;
}

duration supervisor::backoff_for(child_state& ch) {
  const backoff_options& b = spec_.backoff;
  if (ch.restarts == 0 || now() - ch.last_start >= b.reset_after) {
    ch.next_delay = b.initial;  // first restart, or it ran stably: start over
  }
  duration d = ch.next_delay;
  auto grown = std::chrono::duration_cast<duration>(
      std::chrono::duration<double, std::nano>(static_cast<double>(d.count()) * b.multiplier));
  ch.next_delay = std::min(std::max(grown, d), b.cap);
  return std::min(d, b.cap);
}

ref_ptr<detail::reply_state<void>> supervisor::new_ack() {
  // Armed before the order is sent: the child may answer at once, from
  // another thread.
  auto ack = make_ref<detail::reply_state<void>>();
  ack->arm_deadline(self().handle()->core().time(), now() + ack_timeout);
  return ack;
}

task<bool> supervisor::await_ack(ref_ptr<detail::reply_state<void>> ack) {
  response<void> pending(std::move(ack), &self().handle()->core());
  result<void> r = co_await pending;
  co_return r.has_value();
}

task<void> supervisor::give_up(exit_reason why) {
  giving_up_ = true;
  for (std::size_t j = children_.size(); j-- > 0;) {
    child_state& ch = children_[j];
    if (!ch.c) continue;
    auto ack = new_ack();
    ch.c->request_final_stop(exit_reason::shutdown(), ack);
    co_await await_ack(std::move(ack));
    ch.running = false;
    ch.c.reset();
  }
  stop(std::move(why));
}

task<void> supervisor::handle(detail::child_exit_notice n) {
  if (giving_up_ || n.index >= children_.size()) co_return;
  child_state& ch = children_[n.index];
  if (!ch.c || ch.c->id() != n.who) co_return;
  ch.running = false;
  const bool restart = ch.spec.policy == restart_policy::permanent ||
                       (ch.spec.policy == restart_policy::transient && !n.why.is_normal());
  if (!restart) {
    emit(supervision_event::kind::exited, ch, n.why);
    auto ack = new_ack();
    ch.c->request_final_stop(n.why, ack);
    co_await await_ack(std::move(ack));
    emit(supervision_event::kind::stopped, ch, n.why);
    ch.c.reset();
    co_return;
  }
  if (over_intensity()) {
    emit(supervision_event::kind::exited, ch, n.why);
    emit(supervision_event::kind::gave_up, ch, n.why);
    exit_reason limit(exit_reason::kind::restart_limit,
                      "child '" + ch.spec.label + "' exited too often: " + n.why.to_string());
    co_await give_up(std::move(limit));
    co_return;
  }
  const duration delay = backoff_for(ch);
  emit(supervision_event::kind::exited, ch, n.why, delay);
  std::vector<std::size_t> set = affected(n.index);
  // Siblings that restart with it stop first, last started first.
  for (auto it = set.rbegin(); it != set.rend(); ++it) {
    child_state& sib = children_[*it];
    if (*it == n.index || !sib.running) continue;
    auto ack = new_ack();
    sib.c->request_retire(exit_reason::shutdown(), ack);
    co_await await_ack(std::move(ack));
    sib.running = false;
  }
  for (std::size_t i : set) children_[i].pending_restart = true;
  send_after(delay, detail::restart_due{std::move(set), ++generation_});
}

task<void> supervisor::handle(detail::restart_due r) {
  if (giving_up_ || r.generation == 0) co_return;
  // Restart in start order; each one finishes on_start before the next.
  for (std::size_t i : r.indices) {
    child_state& ch = children_[i];
    if (!ch.c || !ch.pending_restart) continue;
    ch.pending_restart = false;
    auto ack = new_ack();
    ch.c->request_restart(ack);
    auto pending = ack;
    bool ok = co_await await_ack(std::move(ack));
    if (!ok) {
      // The new instance refused to start: that counts as another exit.
      result<void> why = pending->done() ? pending->take() : result<void>(errc::timeout);
      std::string text = why ? "restart failed" : why.error().message();
      detail::child_exit_notice again{i, ch.c->id(), exit_reason::failed(std::move(text))};
      self().handle()->enqueue_notice(
          new detail::tell_envelope<supervisor, detail::child_exit_notice>(std::move(again)));
      ch.running = true;  // so that the notice is judged like any exit
      continue;
    }
    ++ch.restarts;
    ch.running = true;
    ch.last_start = now();
    emit(supervision_event::kind::restarted, ch, exit_reason::normal());
  }
}

which_children::reply supervisor::handle(which_children) {
  which_children::reply out;
  out.reserve(children_.size());
  for (const child_state& ch : children_) {
    which_children::child c;
    c.label = ch.spec.label;
    c.id = ch.c ? ch.c->id() : 0;
    c.running = ch.running;
    c.restarts = ch.restarts;
    c.handle = ch.c ? ref_ptr<actor_handle>(ch.c.get()) : ref_ptr<actor_handle>();
    c.type = ch.spec.type;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace troupe
