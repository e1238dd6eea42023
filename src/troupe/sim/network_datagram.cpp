// The simulated network's datagrams: binding, sending, arriving, holding at a
// frozen host, and closing (see the "Datagrams." paragraph of network.hpp).

#include <limits>
#include <utility>

#include "troupe/sim/internal/network_state.hpp"
#include "troupe/sim/network.hpp"

namespace troupe::sim {

namespace detail {

namespace {

/// The socket object handed to bind()'s caller.
class sim_datagram_socket final : public datagram_socket {
 public:
  explicit sim_datagram_socket(binding_ptr b) : b_(std::move(b)) {}
  ~sim_datagram_socket() override { close(); }
  sim_datagram_socket(const sim_datagram_socket&) = delete;
  sim_datagram_socket& operator=(const sim_datagram_socket&) = delete;

  result<void> send_to(std::string_view address, std::span<const std::byte> data) override {
    switch (b_->state) {
      case binding_state::crashed:
        return error(errc::node_down, "host crashed");
      case binding_state::closed:
        return error(errc::shutting_down, "socket closed");
      case binding_state::open:
        break;
    }
    return b_->net->send_datagram(*b_, address, data);
  }

  [[nodiscard]] std::string local_address() const override { return b_->address; }

  void close() noexcept override {
    if (b_->state == binding_state::open) b_->net->close_datagram(b_, binding_state::closed);
  }

 private:
  binding_ptr b_;  // open implies b_->net is alive
};

/// Returns a free datagram port of `h` from the ephemeral range, or 0 when
/// every one is bound.
std::uint16_t free_datagram_port(host_record& h) {
  constexpr std::uint16_t last = std::numeric_limits<std::uint16_t>::max();
  for (std::uint32_t tries = last - first_ephemeral_port + 1; tries != 0; --tries) {
    const std::uint16_t p = h.next_datagram_port;
    h.next_datagram_port = p == last ? first_ephemeral_port : static_cast<std::uint16_t>(p + 1);
    if (!h.datagram_ports.contains(p)) return p;
  }
  return 0;
}

}  // namespace

result<std::shared_ptr<datagram_socket>> sim_transport::bind(std::string_view address,
                                                             datagram_fn on_datagram) {
  if (stopped_) return error(errc::shutting_down, "transport stopped");
  if (net_ == nullptr) return error(errc::node_down, "network gone");
  if (dead_) return error(errc::node_down, "host crashed");
  return net_->bind(*this, address, std::move(on_datagram));
}

result<std::shared_ptr<datagram_socket>> network_state::bind(sim_transport& t,
                                                             std::string_view addr,
                                                             datagram_fn fn) {
  auto a = parse_address(addr);
  if (!a) return error(errc::invalid_argument, "malformed address: " + std::string(addr));
  if (a->host != t.host_)
    return error(errc::invalid_argument, "not this host: " + std::string(a->host));
  if (!fn) return error(errc::invalid_argument, "no datagram callback");
  host_record& h = *find_host(t.host_);
  std::uint16_t port = a->port;
  if (port == 0) {
    port = free_datagram_port(h);
    if (port == 0) return error(errc::invalid_argument, "no free datagram port on " + t.host_);
  } else if (h.datagram_ports.contains(port)) {
    return error(errc::invalid_argument, "address in use: " + std::string(addr));
  }
  auto b = std::make_shared<datagram_binding>();
  b->net = this;
  b->owner = &t;
  b->host = t.host_;
  b->port = port;
  b->address = join(t.host_, port);
  b->on_datagram = std::move(fn);
  h.datagram_ports.emplace(port, b);
  return std::shared_ptr<datagram_socket>(std::make_shared<sim_datagram_socket>(std::move(b)));
}

bool network_state::draw(double p) {
  if (!(p > 0)) return false;
  if (p >= 1) return true;
  constexpr double scale = 1.0 / static_cast<double>(std::uint64_t{1} << 53);
  return static_cast<double>(rt.random().next() >> 11) * scale < p;
}

result<void> network_state::send_datagram(const datagram_binding& b, std::string_view addr,
                                          std::span<const std::byte> data) {
  auto a = parse_address(addr);
  if (!a) return error(errc::invalid_argument, "malformed address: " + std::string(addr));
  if (data.size() > max_datagram_size) {
    return error(errc::invalid_argument,
                 "datagram of " + std::to_string(data.size()) + " bytes exceeds the maximum");
  }
  host_record& src = *find_host(b.host);
  ++src.datagrams.sent;
  src.datagrams.bytes_sent += data.size();
  if (src.frozen || draw(opt.datagram_loss)) {  // a frozen process sends nothing
    ++src.datagrams.dropped;
    return {};
  }
  auto p = std::make_shared<datagram_packet>();
  p->from = b.address;
  p->from_host = b.host;
  p->to_host = std::string(a->host);
  p->to_port = a->port;
  if (const host_record* dst = find_host(a->host)) p->to_crashes = dst->crashes;
  p->data.assign(data.begin(), data.end());
  const int copies = draw(opt.datagram_duplicate) ? 2 : 1;
  packet_ptr shared = std::move(p);
  for (int i = 0; i < copies; ++i)
    schedule(arrival(b.host, shared->to_host), [this, shared] { arrive_datagram(shared); });
  return {};
}

void network_state::arrive_datagram(const packet_ptr& p) {
  host_record* dst = find_host(p->to_host);
  if (dst == nullptr || blocked(p->from_host, p->to_host)) {  // lost on the way
    if (host_record* src = find_host(p->from_host)) ++src->datagrams.dropped;
    return;
  }
  auto it = dst->datagram_ports.find(p->to_port);
  if (dst->crashed || dst->crashes != p->to_crashes || it == dst->datagram_ports.end()) {
    ++dst->datagrams.dropped;
    return;
  }
  const binding_ptr b = it->second;
  if (dst->frozen || b->busy || !b->held.empty()) {  // wait behind what is held
    if (b->held.size() >= max_held_datagrams) {
      ++dst->datagrams.dropped;
      return;
    }
    b->held.push_back(p);
    if (!dst->frozen) schedule_drain(b);
    return;
  }
  deliver_datagram(b, *p);
}

void network_state::deliver_datagram(const binding_ptr& b, const datagram_packet& p) {
  ++find_host(b->host)->datagrams.delivered;
  b->busy = true;
  b->on_datagram(p.from, p.data);
  b->busy = false;
  if (b->state != binding_state::open) {  // closed by the call itself
    datagram_fn gone;
    std::swap(gone, b->on_datagram);
    return;
  }
  if (!b->held.empty() && !find_host(b->host)->frozen) schedule_drain(b);
}

void network_state::schedule_drain(const binding_ptr& b) {
  if (b->drain_scheduled) return;
  b->drain_scheduled = true;
  post([this, b] { drain_datagrams(b); });
}

void network_state::drain_datagrams(const binding_ptr& b) {
  b->drain_scheduled = false;
  const host_record& h = *find_host(b->host);
  // At most what is held now: a call that drives the runtime may add more,
  // which the next drain delivers.
  for (std::size_t n = b->held.size(); n != 0; --n) {
    if (b->state != binding_state::open || h.frozen || b->busy || b->held.empty()) return;
    const packet_ptr p = std::move(b->held.front());
    b->held.pop_front();
    deliver_datagram(b, *p);
  }
  if (!b->held.empty() && !h.frozen && !b->busy) schedule_drain(b);
}

void network_state::close_datagram(binding_ptr b, binding_state why) noexcept {
  if (b->state != binding_state::open) return;
  b->state = why;
  datagram_fn gone;                               // destroyed last: its captures may call back in
  if (!b->busy) std::swap(gone, b->on_datagram);  // else deliver_datagram() drops it
  if (host_record* h = find_host(b->host)) {
    h->datagrams.dropped += b->held.size();
    auto it = h->datagram_ports.find(b->port);
    if (it != h->datagram_ports.end() && it->second == b) h->datagram_ports.erase(it);
  }
  b->held.clear();
}

void network_state::close_datagram_sockets(host_record& h, const sim_transport* owner,
                                           bool crashed) noexcept {
  std::vector<binding_ptr> closing;
  for (const auto& [port, b] : h.datagram_ports)
    if (owner == nullptr || b->owner == owner) closing.push_back(b);
  for (binding_ptr& b : closing)
    close_datagram(std::move(b), crashed ? binding_state::crashed : binding_state::closed);
}

void network_state::thaw_datagrams(host_record& h) {
  for (const auto& [port, b] : h.datagram_ports)
    if (!b->held.empty()) schedule_drain(b);
}

}  // namespace detail

sim::datagram_stats network::datagram_stats(std::string_view name) const {
  const detail::host_record* h = state_->find_host(name);
  return h == nullptr ? sim::datagram_stats{} : h->datagrams;
}

}  // namespace troupe::sim
