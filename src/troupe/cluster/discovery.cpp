#include "troupe/cluster/discovery.hpp"

#include <utility>

#include "troupe/cluster/host_port.hpp"

namespace troupe::cluster {

namespace {

error in_discovery(const error& e) {
  std::string detail = "discovery: ";
  detail += e.detail();
  return {e.code(), std::move(detail)};
}

error invalid(std::string_view what) {
  std::string detail = "discovery: ";
  detail += what;
  return {errc::invalid_argument, std::move(detail)};
}

// The DNS half of `config` for a node on `port`.
dns_discovery_config dns_part(const discovery_config& config, std::uint16_t port) {
  dns_discovery_config d;
  d.names = config.dns_names;
  d.srv_names = config.srv_names;
  d.port = port;
  d.server = config.dns_server;
  d.interval = std::chrono::duration_cast<std::chrono::milliseconds>(config.refresh);
  d.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.dns_timeout);
  return d;
}

// Writes a lookup's outcome as text, to tell only changes.
std::string outcome(const result<std::vector<std::string>>& found) {
  if (!found) return "failed " + found.error().message();
  std::string s = "found";
  for (const std::string& a : *found) s.append(" ").append(a);
  return s;
}

}  // namespace

std::string_view to_string(discovery_source s) noexcept {
  return s == discovery_source::mdns ? "mdns" : "dns";
}

result<void> discovery::check(const discovery_config& config, std::string_view address) {
  if (config.refresh < std::chrono::milliseconds(1) ||
      config.dns_timeout < std::chrono::milliseconds(1))
    return invalid("refresh and dns_timeout must be 1 ms or more");
  const bool dns = !config.dns_names.empty() || !config.srv_names.empty();
  if (!dns && !config.dns_server.empty())
    return invalid("dns_server '" + config.dns_server + "' is set without dns_names or srv_names");
  if (!config.mdns_options.instance.empty() || config.mdns_options.incarnation != 0 ||
      !config.mdns_options.address.empty())
    return invalid(
        "mdns_options.instance, incarnation and address are the node's name, incarnation and "
        "listen address: leave them empty");
  auto self = parse_host_port(address);
  if (!self) return in_discovery(self.error());
  if (dns)
    if (auto ok = dns_discovery::check(dns_part(config, self->port)); !ok)
      return in_discovery(ok.error());
  return {};
}

result<std::unique_ptr<discovery>> discovery::start(discovery_config config, std::string_view name,
                                                    std::uint64_t incarnation,
                                                    std::string_view address, join_fn join) {
  if (auto ok = check(config, address); !ok) return ok.error();
  const std::uint16_t port = parse_host_port(address)->port;
  std::unique_ptr<discovery> d(new discovery(std::move(config), std::move(join)));
  discovery* raw = d.get();
  if (d->config_.mdns) {
    mdns_config mc = d->config_.mdns_options;
    mc.instance = std::string(name);
    mc.incarnation = incarnation;
    mc.address = std::string(address);
    // `started` is told first: the browser's events wait for the lock.
    std::lock_guard events(d->event_mu_);
    auto m = mdns::start(std::move(mc), [raw](const mdns_event& e) { raw->on_mdns(e); });
    if (!m) return in_discovery(m.error());
    discovery_event started;
    started.what = discovery_event::kind::started;
    started.source = discovery_source::mdns;
    started.instance.name = std::string(name);
    started.instance.address = (*m)->advertised_address();
    started.interface_address = (*m)->interface_address();
    {
      std::lock_guard lock(d->stop_mu_);
      d->mdns_ = std::move(*m);
    }
    if (d->config_.on_event) d->config_.on_event(started);
  }
  if (!d->config_.dns_names.empty() || !d->config_.srv_names.empty()) {
    auto dns = dns_discovery::start(
        dns_part(d->config_, port),
        [raw](const result<std::vector<std::string>>& found) { raw->on_dns(found); });
    if (!dns) return in_discovery(dns.error());  // d's destructor stops mDNS
    std::lock_guard lock(d->stop_mu_);
    d->dns_ = std::move(*dns);
  }
  return d;
}

discovery::discovery(discovery_config config, join_fn join)
    : config_(std::move(config)), join_(std::move(join)) {}

discovery::~discovery() { stop(); }

void discovery::stop() noexcept {
  std::lock_guard lock(stop_mu_);
  if (mdns_) mdns_->stop();  // says goodbye
  if (dns_) dns_->stop();
  mdns_.reset();
}

std::string discovery::mdns_address() const {
  std::lock_guard lock(stop_mu_);
  return mdns_ ? mdns_->advertised_address() : std::string();
}

std::uint64_t discovery::dns_lookups() const {
  std::lock_guard lock(stop_mu_);
  return dns_ ? dns_->lookups() : 0;
}

void discovery::on_mdns(const mdns_event& e) {
  discovery_event out;
  out.source = discovery_source::mdns;
  out.instance = e.instance;
  if (e.what == mdns_event::kind::gone) {
    out.what = discovery_event::kind::gone;
    tell(out);
    return;
  }
  out.what = discovery_event::kind::found;
  out.addresses = {e.instance.address};
  if (auto joined = join_(out.addresses); !joined) {
    out.what = discovery_event::kind::failed;
    out.failure = joined.error();
  }
  tell(out);
}

void discovery::on_dns(const result<std::vector<std::string>>& found) {
  discovery_event out;
  out.source = discovery_source::dns;
  if (!found) {
    out.what = discovery_event::kind::failed;
    out.failure = found.error();
  } else {
    out.what = discovery_event::kind::found;
    out.addresses = *found;
    // Joined after every lookup: that keeps the addresses named (see
    // membership::join()).
    if (!found->empty())
      if (auto joined = join_(*found); !joined) {
        out.what = discovery_event::kind::failed;
        out.failure = joined.error();
      }
  }
  std::string now = out.what == discovery_event::kind::failed ? "failed " + out.failure.message()
                                                              : outcome(found);
  {
    std::lock_guard lock(event_mu_);
    if (now == last_dns_) return;
    last_dns_ = std::move(now);
  }
  tell(out);
}

void discovery::tell(const discovery_event& e) {
  if (!config_.on_event) return;
  std::lock_guard lock(event_mu_);
  config_.on_event(e);
}

}  // namespace troupe::cluster
