#include "troupe/core/cell.hpp"

#include "troupe/core/internal/cell_ext.hpp"
#include "troupe/core/response.hpp"

namespace troupe {

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
  // The next instance starts with no links (those of this one go with it).
  if (ext_) {
    for (auto& l : ext_->links) remove_watch(l.on_self);
    ext_->links.clear();
  }
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
      if (ack) ack->complete(result<void>{});
      run_post_start();  // a failing post_start goes to the supervisor again
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

}  // namespace troupe
