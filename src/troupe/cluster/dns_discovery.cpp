#include "troupe/cluster/dns_discovery.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <tuple>

#include "troupe/cluster/dns_message.hpp"
#include "troupe/cluster/host_port.hpp"

namespace troupe::cluster {
namespace {

using steady = std::chrono::steady_clock;
constexpr int sends_per_query = 3;
constexpr std::uint16_t edns_payload = 4096;

struct server_address {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

result<server_address> parse_server(std::string_view text) {
  std::string with_port(text);
  in6_addr v6{};
  const std::string bare(text);
  if (parse_ipv4(text)) {
    with_port += ":53";
  } else if (inet_pton(AF_INET6, bare.c_str(), &v6) == 1) {
    with_port = "[" + bare + "]:53";
  } else if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    with_port += ":53";
  }
  auto hp = parse_host_port(with_port);
  if (!hp || !hp->numeric())
    return error(errc::invalid_argument,
                 "a DNS server is 'ip', 'ip:port' or '[v6]:port', not '" + bare + "'");
  server_address out;
  if (hp->form == host_port::kind::ipv4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(hp->port);
    in->sin_addr.s_addr = htonl(*parse_ipv4(hp->host));
    out.length = sizeof(sockaddr_in);
  } else {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(hp->port);
    inet_pton(AF_INET6, hp->host.c_str(), &in6->sin6_addr);
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_;
};

std::uint16_t next_id() {
  static std::mutex mu;
  static std::mt19937 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  return static_cast<std::uint16_t>(rng());
}

dns_message make_query(const dns_name& name, std::uint16_t type) {
  dns_message q;
  q.id = next_id();
  q.flags = dns_message::flag_recursion_desired;
  dns_question question;
  question.name = name;
  question.type = type;
  q.questions.push_back(std::move(question));
  dns_record opt;  // EDNS(0): answers up to 4096 bytes over UDP (RFC 6891)
  opt.type = dns_type::opt;
  opt.klass = edns_payload;
  q.additionals.push_back(std::move(opt));
  return q;
}

// Sends `query` to `server` (again every timeout / 3) until a response with
// its id and question comes, or the timeout ends.
result<dns_message> exchange(const dns_message& query, const server_address& server,
                             std::chrono::milliseconds timeout) {
  auto bytes = encode_dns(query, 512);
  if (!bytes) return bytes.error();
  fd_guard fd(::socket(server.storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0)
    return error(errc::node_down, std::string("dns: socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.storage), server.length) != 0)
    return error(errc::node_down, std::string("dns: connect: ") + std::strerror(errno));
  const auto start = steady::now();
  const auto deadline = start + timeout;
  auto next_send = start;
  int sent = 0;
  std::optional<error> last;
  std::vector<std::byte> buf(65'535);
  for (;;) {
    auto now = steady::now();
    if (sent < sends_per_query && now >= next_send) {
      (void)::send(fd.get(), bytes->data(), bytes->size(), 0);  // lost: sent again
      ++sent;
      next_send = now + timeout / sends_per_query;
    }
    const auto until = sent < sends_per_query ? std::min(deadline, next_send) : deadline;
    if (now >= deadline) break;
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    pollfd p{fd.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(wait, 1)));
    if (ready < 0 && errno != EINTR)
      return error(errc::node_down, std::string("dns: poll: ") + std::strerror(errno));
    if (ready <= 0) continue;
    const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == ECONNREFUSED) last = error(errc::node_down, "dns: the server refused (ICMP)");
      continue;
    }
    auto m = decode_dns(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
    if (!m) {
      last = m.error();
      continue;
    }
    if (!m->is_response() || m->id != query.id || m->questions.size() != 1 ||
        !(m->questions[0].name == query.questions[0].name) ||
        m->questions[0].type != query.questions[0].type)
      continue;  // not the answer to this query
    return m;
  }
  if (last) return *last;
  return error(errc::timeout, "dns: no answer within " + std::to_string(timeout.count()) + " ms");
}

// Returns nothing for a name that does not exist, an error for a failure.
result<bool> check_rcode(const dns_message& m, std::string_view name) {
  switch (m.rcode()) {
    case 0:
      return true;
    case 3:  // NXDOMAIN
      return false;
    default:
      return error(errc::node_down, "dns: the server answered rcode " + std::to_string(m.rcode()) +
                                        " for '" + std::string(name) + "'");
  }
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

result<dns_name> parse_name(std::string_view name) {
  auto n = dns_name::parse(name);
  if (!n || n->labels.empty())
    return error(errc::invalid_name, "a bad DNS name '" + std::string(name.substr(0, 300)) + "'");
  return n;
}

}  // namespace

result<std::string> first_nameserver(const std::string& resolv_conf) {
  std::ifstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    std::string value;
    if (!(words >> key >> value) || key != "nameserver") continue;
    if (value.find('%') != std::string::npos) continue;  // a scoped IPv6 address
    if (parse_ipv4(value)) return value + ":53";
    in6_addr v6{};
    if (inet_pton(AF_INET6, value.c_str(), &v6) == 1) return "[" + value + "]:53";
  }
  return error(errc::invalid_argument, "dns: " + resolv_conf + " names no nameserver");
}

result<std::vector<std::string>> query_a(std::string_view name, std::uint16_t port,
                                         std::string_view server,
                                         std::chrono::milliseconds timeout) {
  auto n = parse_name(name);
  if (!n) return n.error();
  auto s = parse_server(server);
  if (!s) return s.error();
  auto m = exchange(make_query(*n, dns_type::a), *s, timeout);
  if (!m) return m.error();
  auto exists = check_rcode(*m, name);
  if (!exists) return exists.error();
  std::vector<std::string> out;
  for (const dns_record& r : m->answers)
    if (r.type == dns_type::a) out.push_back(format_ipv4(r.a) + ":" + std::to_string(port));
  sort_unique(out);
  return out;
}

result<std::vector<srv_target>> query_srv(std::string_view name, std::string_view server,
                                          std::chrono::milliseconds timeout) {
  auto n = parse_name(name);
  if (!n) return n.error();
  auto s = parse_server(server);
  if (!s) return s.error();
  auto m = exchange(make_query(*n, dns_type::srv), *s, timeout);
  if (!m) return m.error();
  auto exists = check_rcode(*m, name);
  if (!exists) return exists.error();
  std::vector<srv_target> out;
  for (const dns_record& r : m->answers) {
    if (r.type != dns_type::srv || r.target.labels.empty() || r.port == 0) continue;
    srv_target t;
    t.host = r.target.to_string();
    t.port = r.port;
    t.priority = r.priority;
    t.weight = r.weight;
    for (const auto* section : {&m->answers, &m->additionals})
      for (const dns_record& a : *section)
        if (a.type == dns_type::a && a.name == r.target)
          t.addresses.push_back(format_ipv4(a.a) + ":" + std::to_string(r.port));
    if (t.addresses.empty()) {
      auto found = query_a(t.host, t.port, server, timeout);
      if (found) t.addresses = std::move(*found);  // else: a target without addresses
    }
    sort_unique(t.addresses);
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const srv_target& a, const srv_target& b) {
    return std::tie(a.priority, b.weight, a.host, a.port) <
           std::tie(b.priority, a.weight, b.host, b.port);
  });
  return out;
}

result<std::vector<std::string>> resolve_system(std::string_view name, std::uint16_t port) {
  auto n = parse_name(name);
  if (!n) return n.error();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  const std::string host(name);
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
  if (rc == EAI_NONAME || rc == EAI_NODATA) return std::vector<std::string>{};
  if (rc != 0)
    return error(errc::node_down, "dns: resolving '" + host + "': " + ::gai_strerror(rc));
  std::vector<std::string> out;
  for (addrinfo* a = list; a != nullptr; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      out.push_back(format_ipv4(ntohl(in->sin_addr.s_addr)) + ":" + std::to_string(port));
    } else if (a->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
      std::string v6 = "[";  // appended piecewise: g++ 12 warns (wrongly) on operator+ here
      v6.append(text).append("]:").append(std::to_string(port));
      out.push_back(std::move(v6));
    }
  }
  ::freeaddrinfo(list);
  sort_unique(out);
  return out;
}

result<std::vector<std::string>> dns_lookup(const dns_discovery_config& config) {
  std::vector<std::string> out;
  std::optional<error> failed;
  const auto take = [&](result<std::vector<std::string>> found) {
    if (found)
      out.insert(out.end(), found->begin(), found->end());
    else if (!failed)
      failed = found.error();
  };
  for (const std::string& name : config.names)
    take(config.server.empty() ? resolve_system(name, config.port)
                               : query_a(name, config.port, config.server, config.timeout));
  if (!config.srv_names.empty()) {
    auto server = config.server.empty() ? first_nameserver() : result<std::string>(config.server);
    for (const std::string& srv_name : config.srv_names) {
      auto found = server ? query_srv(srv_name, *server, config.timeout)
                          : result<std::vector<srv_target>>(server.error());
      if (!found) {
        take(found.error());
        continue;
      }
      std::vector<std::string> addresses;
      for (const srv_target& t : *found)
        addresses.insert(addresses.end(), t.addresses.begin(), t.addresses.end());
      take(std::move(addresses));
    }
  }
  sort_unique(out);
  if (out.empty() && failed) return *failed;
  return out;
}

// ------------------------------------------------------------ the thread

result<void> dns_discovery::check(const dns_discovery_config& config) {
  if (config.names.empty() && config.srv_names.empty())
    return error(errc::invalid_argument, "dns discovery needs a name or an SRV name");
  for (const std::string& name : config.names)
    if (auto n = parse_name(name); !n) return n.error();
  if (!config.names.empty() && config.port == 0)
    return error(errc::invalid_argument, "dns discovery: a name needs the members' port");
  for (const std::string& srv_name : config.srv_names)
    if (auto n = parse_name(srv_name); !n) return n.error();
  if (!config.server.empty())
    if (auto s = parse_server(config.server); !s) return s.error();
  if (config.server.empty() && !config.srv_names.empty())
    if (auto ns = first_nameserver(); !ns) return ns.error();
  if (config.interval.count() <= 0 || config.timeout.count() <= 0)
    return error(errc::invalid_argument,
                 "dns discovery: the interval and timeout must be positive");
  return {};
}

result<std::unique_ptr<dns_discovery>> dns_discovery::start(dns_discovery_config config,
                                                            report_fn report) {
  if (auto ok = check(config); !ok) return ok.error();
  std::unique_ptr<dns_discovery> d(new dns_discovery(std::move(config), std::move(report)));
  d->thread_ = std::thread([raw = d.get()] { raw->loop(); });
  return d;
}

dns_discovery::dns_discovery(dns_discovery_config config, report_fn report)
    : config_(std::move(config)), report_(std::move(report)) {}

dns_discovery::~dns_discovery() { stop(); }

void dns_discovery::stop() noexcept {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t dns_discovery::lookups() const {
  std::lock_guard lock(mu_);
  return lookups_;
}

void dns_discovery::loop() {
  for (;;) {
    auto found = dns_lookup(config_);
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      ++lookups_;
    }
    if (report_) report_(found);
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, config_.interval, [&] { return stop_; })) return;
  }
}

}  // namespace troupe::cluster
