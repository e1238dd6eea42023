#include "troupe/cluster/cluster.hpp"

#include <utility>

namespace troupe::cluster {

result<std::unique_ptr<cluster>> cluster::start(clock& time, random_source& random, transport& net,
                                                net::node& n, cluster_config config) {
  if (n.address().empty())
    return error(errc::invalid_argument, "a cluster member's node must listen");
  membership_config mc;
  mc.name = n.name();
  mc.generation = n.incarnation();
  mc.listen = n.address();
  mc.seeds = std::move(config.seeds);
  mc.swim = config.swim;
  auto m = membership::start(time, random, net, std::move(mc));
  if (!m) return m.error();
  std::unique_ptr<cluster> c(new cluster(n, std::move(*m)));
  // The subscription starts with every member joined so far.
  std::shared_ptr<gate> g = c->gate_;
  cluster* raw = c.get();
  c->member_sub_ = c->members_->subscribe([raw, g](const member_event& e) {
    if (!g->enter()) return;
    ++callbacks_here;
    raw->on_member(e);
    --callbacks_here;
    g->leave();
  });
  c->node_sub_ = n.subscribe([raw, g](const net::node_event& e) {
    if (!g->enter()) return;
    ++callbacks_here;
    raw->on_node(e);
    --callbacks_here;
    g->leave();
  });
  return c;
}

cluster::cluster(net::node& n, std::unique_ptr<membership> m) : node_(n), members_(std::move(m)) {}

cluster::~cluster() { stop(); }

void cluster::on_member(const member_event& e) {
  if (e.member.key.name == node_.name()) return;
  switch (e.what) {
    case member_event::kind::joined:
    case member_event::kind::alive:
      // One end dials (the smaller name), so a pair does not race two
      // connections; the node keeps redialing while the member lives.
      if (node_.name() < e.member.key.name) (void)node_.connect(e.member.address);
      break;
    case member_event::kind::dead:
    case member_event::kind::left:
      if (node_.name() < e.member.key.name) node_.disconnect(e.member.address);
      break;
    case member_event::kind::suspect:
      break;
  }
}

void cluster::on_node(const net::node_event& e) {
  if (e.what != net::node_event::kind::disconnected || e.node.empty()) return;
  // A goodbye, or our own close, is not a death; anything else may be.
  if (e.reason.find("goodbye") != std::string::npos ||
      e.reason.find("this side") != std::string::npos)
    return;
  members_->peer_lost(member_key{e.node, e.incarnation});
}

void cluster::leave() { members_->leave(); }

thread_local int cluster::callbacks_here = 0;

void cluster::stop() noexcept {
  {
    std::unique_lock lock(gate_->mu);
    if (!gate_->open) return;
    gate_->open = false;
    // A callback on this thread (stop() called from inside one) stays.
    const int mine = callbacks_here;
    gate_->cv.wait(lock, [&] { return gate_->inside <= mine; });
  }
  node_.unsubscribe(node_sub_);
  members_->unsubscribe(member_sub_);
  members_->stop();
}

}  // namespace troupe::cluster
