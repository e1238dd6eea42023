#include "troupe/cluster/cluster.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace troupe::cluster {

namespace {
// The reason a session to a member declared dead is dropped with.
constexpr std::string_view dropped_dead = "declared dead by membership";
}  // namespace

result<std::unique_ptr<cluster>> cluster::start(clock& time, random_source& random, transport& net,
                                                net::node& n, cluster_config config) {
  if (n.address().empty())
    return error(errc::invalid_argument, "a cluster member's node must listen");
  // Checked even when off: a DNS server alone is a mistake to report.
  if (auto ok = discovery::check(config.discovery, n.address()); !ok) return ok.error();
  const bool discover = config.discovery.enabled();
  membership_config mc;
  mc.name = n.name();
  mc.generation = n.incarnation();
  mc.listen = n.address();
  mc.seeds = std::move(config.seeds);
  mc.swim = config.swim;
  mc.encryption = std::move(config.encryption);
  net::node* streams = &n;
  mc.stream = [streams](const member_key& to, std::span<const std::byte> data) {
    return streams->send_channel(to.name, to.generation, state_channel, data).has_value();
  };
  auto m = membership::start(time, random, net, std::move(mc));
  if (!m) return m.error();
  std::unique_ptr<cluster> c(new cluster(n, std::move(*m)));
  if (config.replicate_receptionist || config.replicate_groups) {
    auto on_conflict = std::move(config.on_label_conflict);
    if (!on_conflict) {
      net::node* nd = &n;
      on_conflict = [nd](const reception_conflict& k) {
        nd->log("receptionist: this node's entry " + k.label + " (version " +
                std::to_string(k.loser.version) + ") lost its label to origin " +
                std::to_string(k.winner.origin) + "'s; it stays hidden");
      };
    }
    troupe::system& local = n.local_system();
    auto sync = reception_sync::start(
        time, n, config.replicate_receptionist ? &local.receptionist() : nullptr,
        config.replicate_groups ? &local.groups() : nullptr, config.anti_entropy,
        std::move(on_conflict));
    if (!sync) {
      c->members_->stop();
      return sync.error();
    }
    c->sync_ = std::move(*sync);
  }
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
  (void)n.set_channel(state_channel, [raw, g](const std::string& peer, std::uint64_t inc,
                                              std::span<const std::byte> body) {
    if (!g->enter()) return;
    ++callbacks_here;
    raw->members_->on_stream(member_key{peer, inc}, body);
    --callbacks_here;
    g->leave();
  });
  c->mesh_ = ticker::start(time, config.mesh_check, [raw, g] {
    if (!g->enter()) return;
    ++callbacks_here;
    raw->keep_mesh();
    --callbacks_here;
    g->leave();
  });
  if (discover) {
    // Discovery is stopped before membership (stop(), leave()).
    membership* m = c->members_.get();
    auto d =
        discovery::start(std::move(config.discovery), n.name(), n.incarnation(), n.address(),
                         [m](const std::vector<std::string>& found) { return m->join(found); });
    if (!d) return d.error();  // c's destructor stops the rest
    c->finder_ = std::move(*d);
  }
  return c;
}

cluster::cluster(net::node& n, std::unique_ptr<membership> m) : node_(n), members_(std::move(m)) {}

cluster::~cluster() { stop(); }

void cluster::on_member(const member_event& e) {
  if (e.member.key.name == node_.name()) return;
  switch (e.what) {
    case member_event::kind::joined:
    case member_event::kind::alive:
      if (sync_) sync_->member_up(e.member.key.name, e.member.key.generation);
      // One end dials (the smaller name), so a pair does not race two
      // connections; the node keeps redialing while the member lives.
      if (node_.name() < e.member.key.name) (void)node_.connect(e.member.address);
      break;
    case member_event::kind::dead:
      if (node_.name() < e.member.key.name) node_.disconnect(e.member.address);
      // Its asks and watches end now, not at the session's heartbeat bound.
      node_.drop(e.member.key.name, e.member.key.generation, dropped_dead);
      if (sync_) sync_->member_gone(e.member.key.name, e.member.key.generation);
      break;
    case member_event::kind::left:
      if (node_.name() < e.member.key.name) node_.disconnect(e.member.address);
      if (sync_) sync_->member_gone(e.member.key.name, e.member.key.generation);
      break;
    case member_event::kind::suspect:
      break;
  }
}

void cluster::on_node(const net::node_event& e) {
  if (e.node.empty()) return;
  if (e.what == net::node_event::kind::authenticated) {
    if (sync_) sync_->session_up(e.node, e.incarnation);
    return;
  }
  if (e.what != net::node_event::kind::disconnected) return;
  if (sync_) sync_->session_down(e.node, e.incarnation);
  // A goodbye, our own close, or a drop for a death already known is not
  // news; anything else may be a death.
  if (e.reason.find("goodbye") != std::string::npos ||
      e.reason.find("this side") != std::string::npos ||
      e.reason.find(dropped_dead) != std::string::npos)
    return;
  members_->peer_lost(member_key{e.node, e.incarnation});
}

void cluster::keep_mesh() {
  const std::vector<std::string> peers = node_.peers();  // sorted
  for (const member_info& m : members_->members()) {
    if (m.key.name == node_.name() || !(node_.name() < m.key.name)) continue;
    if (m.state != member_state::alive && m.state != member_state::suspect) continue;
    if (std::binary_search(peers.begin(), peers.end(), m.key.name)) continue;
    (void)node_.connect(m.address);  // starts a fresh dial beside a stuck one
  }
}

void cluster::leave() {
  if (finder_) finder_->stop();
  members_->leave();
}

thread_local int cluster::callbacks_here = 0;

void cluster::stop() noexcept {
  if (finder_) finder_->stop();  // its joins need membership
  {
    std::unique_lock lock(gate_->mu);
    if (!gate_->open) return;
    gate_->open = false;
    // A callback on this thread (stop() called from inside one) stays.
    const int mine = callbacks_here;
    gate_->cv.wait(lock, [&] { return gate_->inside <= mine; });
  }
  if (mesh_ != nullptr) mesh_->end();
  (void)node_.set_channel(state_channel, {});
  node_.unsubscribe(node_sub_);
  members_->unsubscribe(member_sub_);
  if (sync_) sync_->stop();
  members_->stop();
}

}  // namespace troupe::cluster
