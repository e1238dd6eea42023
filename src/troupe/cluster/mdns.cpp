// mDNS over a UDP multicast socket: the I/O around mdns_responder and
// mdns_browser (mdns_records.hpp), on one thread of its own.

#include "troupe/cluster/mdns.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "troupe/cluster/host_port.hpp"

namespace troupe::cluster {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using namespace std::chrono_literals;

namespace {

// Everything due is checked this often.
constexpr auto tick_every = 100ms;
// Announcements at start (RFC 6762, section 8.3: at least two, a second apart).
constexpr int announcements = 2;
// The largest message sent or received (RFC 6762, section 17).
constexpr std::size_t max_message = 9000;

// The mdns whose thread this is, if any (stop() from a callback).
thread_local const void* running_here = nullptr;

time_point now() {
  return std::chrono::time_point_cast<duration>(std::chrono::steady_clock::now());
}

error invalid(std::string detail) { return error(errc::invalid_argument, std::move(detail)); }

}  // namespace

result<std::string> default_multicast_interface() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return invalid("mdns: cannot list the interfaces");
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    const unsigned flags = i->ifa_flags;
    if (!(flags & IFF_UP) || !(flags & IFF_MULTICAST) || (flags & IFF_LOOPBACK)) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    found = format_ipv4(ntohl(in->sin_addr.s_addr));
  }
  freeifaddrs(list);
  if (found.empty())
    return invalid(
        "mdns: no interface is up, multicast-capable and not loopback; "
        "name one (interface_address)");
  return found;
}

class mdns::impl {
 public:
  impl() : socket_(io_), tick_(io_) {}

  result<void> open(std::uint32_t iface) {
    boost::system::error_code ec;
    auto fail = [&](const char* what) {
      return invalid(std::string("mdns: ") + what + ": " + ec.message());
    };
    socket_.open(udp::v4(), ec);
    if (ec) return fail("cannot open a UDP socket");
    const int one = 1;
    const int zero = 0;
    socket_.set_option(udp::socket::reuse_address(true), ec);
    if (ec) return fail("SO_REUSEADDR");
    // Other responders (Avahi, other nodes on this host) share port 5353.
    (void)setsockopt(socket_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    // Only the groups this socket joined, on the interface it joined them on.
    (void)setsockopt(socket_.native_handle(), IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero);
    socket_.bind(udp::endpoint(asio::ip::address_v4::any(), mdns_port), ec);
    if (ec) return fail("cannot bind port 5353");
    const asio::ip::address_v4 group = asio::ip::make_address_v4(std::string(mdns_group));
    const asio::ip::address_v4 local(iface);
    socket_.set_option(asio::ip::multicast::join_group(group, local), ec);
    if (ec) return fail(("cannot join 224.0.0.251 on " + local.to_string()).c_str());
    socket_.set_option(asio::ip::multicast::outbound_interface(local), ec);
    if (ec) return fail("cannot send multicast through the interface");
    socket_.set_option(asio::ip::multicast::hops(255), ec);  // section 11
    if (ec) return fail("IP_MULTICAST_TTL");
    socket_.set_option(asio::ip::multicast::enable_loopback(true), ec);
    if (ec) return fail("IP_MULTICAST_LOOP");
    group_ = udp::endpoint(group, mdns_port);
    return {};
  }

  // Runs the socket's thread, which holds `self` until it ends.
  void run(std::shared_ptr<impl> self) {
    thread_ = std::thread([this, self = std::move(self)] {
      running_here = this;
      receive();
      const time_point t = now();
      std::minstd_rand jitter(static_cast<unsigned>(t.time_since_epoch().count()));
      next_query_ = t + std::chrono::milliseconds(20 + jitter() % 101);  // section 5.2
      next_announce_ = t;
      on_tick();
      io_.run();
    });
  }

  void receive() {
    receiving_ = true;
    socket_.async_receive_from(
        asio::buffer(buf_), from_, [this](const boost::system::error_code& ec, std::size_t n) {
          if (ec == asio::error::operation_aborted || stopped_) return;
          if (ec) {
            receiving_ = false;  // the next tick tries again: no busy loop on an error
            return;
          }
          on_packet(n);
          receive();
        });
  }

  void on_packet(std::size_t n) {
    const time_point t = now();
    std::vector<mdns_event> events;
    {
      std::lock_guard lock(mu_);
      ++stats_.packets_received;
      auto m = decode_dns(std::span<const std::byte>(buf_.data(), n));
      if (!m) {
        ++stats_.bad_packets;
        return;
      }
      if (!m->is_response()) {
        if (!responder_) return;
        for (auto& reply : responder_->answer(*m, from_.port(), t))
          send(reply.message, reply.unicast ? from_ : group_, stats_.responses_sent);
        return;
      }
      if (!browser_) return;
      events = browser_->on_response(*m, t);
      for (auto& e : browser_->expire(t)) events.push_back(std::move(e));
    }
    deliver(events);
  }

  void on_tick() {
    if (stopped_) return;
    const time_point t = now();
    std::vector<mdns_event> events;
    {
      std::lock_guard lock(mu_);
      if (responder_ && announces_left_ > 0 && t >= next_announce_) {
        send(responder_->announcement(false, t), group_, stats_.responses_sent);
        --announces_left_;
        next_announce_ = t + 1s;
      }
      if (browser_) {
        if (t >= next_query_) {
          send(browser_->query(t), group_, stats_.queries_sent);
          next_query_ = t + query_gap_;
          query_gap_ = std::min<duration>(query_gap_ * 2, browse_max_);
        }
        if (t >= next_resolve_) {
          if (auto q = browser_->resolve_query(t)) send(*q, group_, stats_.queries_sent);
          next_resolve_ = t + 1s;
        }
        events = browser_->expire(t);
      }
    }
    deliver(events);
    if (stopped_) return;
    if (!receiving_) receive();
    tick_.expires_after(tick_every);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) on_tick();
    });
  }

  // Sends on the socket's thread (or under stop(), once that thread ended).
  void send(const dns_message& m, const udp::endpoint& to, std::uint64_t& counter) {
    auto bytes = encode_dns(m, max_message);
    if (!bytes) return;
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(*bytes), to, 0, ec);  // best effort, like the network
    if (!ec) ++counter;
  }

  void deliver(const std::vector<mdns_event>& events) {
    for (const mdns_event& e : events) {
      if (stopped_) return;
      if (on_event_) on_event_(e);
    }
  }

  // On the socket's thread: the goodbye, then nothing more.
  void shut() {
    {
      std::lock_guard lock(mu_);
      if (responder_ && socket_.is_open())
        send(responder_->announcement(true, now()), group_, stats_.responses_sent);
    }
    boost::system::error_code ec;
    tick_.cancel();
    socket_.close(ec);
  }

  asio::io_context io_;
  udp::socket socket_;
  asio::steady_timer tick_;
  udp::endpoint group_;
  std::thread thread_;
  std::atomic<bool> stopped_{false};

  mdns::event_fn on_event_;
  std::string advertised_;
  std::string interface_;
  duration browse_max_{};
  // Below: the socket's thread, and readers under mu_.
  mutable std::mutex mu_;
  std::optional<mdns_responder> responder_;
  std::optional<mdns_browser> browser_;
  mdns_stats stats_;
  bool receiving_ = false;  // the socket's thread only
  int announces_left_ = announcements;
  time_point next_announce_{};
  time_point next_query_{};
  time_point next_resolve_{};
  duration query_gap_{};
  std::array<std::byte, max_message> buf_{};
  udp::endpoint from_;
};

result<std::unique_ptr<mdns>> mdns::start(mdns_config config, event_fn on_event) {
  if (config.instance.empty() || config.instance.size() > 63)
    return error(errc::invalid_name, "mdns: the instance (node) name must be 1 to 63 bytes");
  auto address = parse_host_port(config.address);
  if (!address) return address.error();
  if (address->form != host_port::kind::ipv4)
    return invalid("mdns: the advertised address must be an IPv4 address, not '" + config.address +
                   "'");
  std::string iface_text = config.interface_address;
  if (iface_text.empty() && address->host != "0.0.0.0") iface_text = address->host;
  if (iface_text.empty()) {
    auto d = default_multicast_interface();
    if (!d) return d.error();
    iface_text = *d;
  }
  auto iface = parse_ipv4(iface_text);
  if (!iface || *iface == 0)
    return invalid("mdns: the interface address must be an IPv4 address, not '" + iface_text + "'");
  const std::uint32_t advertised = address->host == "0.0.0.0" ? *iface : *parse_ipv4(address->host);
  if (config.browse_first <= 0ms || config.browse_max < config.browse_first || config.ttl <= 0s ||
      config.ttl > std::chrono::hours(24))
    return invalid(
        "mdns: browse_first must be positive, browse_max at least browse_first, "
        "and the TTL 1 s to 24 h");

  auto i = std::make_shared<impl>();
  if (config.advertise) {
    mdns_service s;
    s.instance = config.instance;
    s.host =
        config.host_name.empty() ? mdns_host_label(config.instance) + ".local" : config.host_name;
    s.ipv4 = advertised;
    s.port = address->port;
    s.ttl = static_cast<std::uint32_t>(config.ttl.count());
    s.txt.emplace_back("node", config.instance);
    s.txt.emplace_back("incarnation", std::to_string(config.incarnation));
    if (!config.cluster.empty()) s.txt.emplace_back("cluster", config.cluster);
    for (auto& kv : config.txt) s.txt.push_back(kv);
    auto r = mdns_responder::make(std::move(s));
    if (!r) return r.error();
    i->responder_.emplace(std::move(*r));
  }
  if (config.browse) i->browser_.emplace(config.instance, config.cluster, config.refresh_report);
  i->query_gap_ = config.browse_first;
  i->browse_max_ = config.browse_max;
  i->on_event_ = std::move(on_event);
  i->advertised_ = format_ipv4(advertised) + ":" + std::to_string(address->port);
  i->interface_ = format_ipv4(*iface);
  if (auto ok = i->open(*iface); !ok) return ok.error();
  i->run(i);
  return std::unique_ptr<mdns>(new mdns(std::move(i)));
}

mdns::mdns(std::shared_ptr<impl> i) : impl_(std::move(i)) {}

mdns::~mdns() {
  stop();
  if (impl_->thread_.joinable()) {
    if (running_here == impl_.get())
      impl_->thread_.detach();  // destroyed from its own callback: the thread holds the impl
    else
      impl_->thread_.join();
  }
}

void mdns::stop() noexcept {
  impl& i = *impl_;
  if (i.stopped_.exchange(true)) return;
  if (running_here == &i) {
    i.shut();  // from the callback: the thread ends once it returns
    return;
  }
  asio::post(i.io_, [&i] { i.shut(); });
  if (i.thread_.joinable()) i.thread_.join();
}

std::vector<mdns_instance> mdns::instances() const {
  std::lock_guard lock(impl_->mu_);
  if (!impl_->browser_) return {};
  return impl_->browser_->instances(now());
}

std::string mdns::advertised_address() const { return impl_->advertised_; }

std::string mdns::interface_address() const { return impl_->interface_; }

mdns_stats mdns::stats() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->stats_;
}

}  // namespace troupe::cluster
