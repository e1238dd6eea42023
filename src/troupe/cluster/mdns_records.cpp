#include "troupe/cluster/mdns_records.hpp"

#include <algorithm>
#include <cstdio>

#include "troupe/cluster/host_port.hpp"

namespace troupe::cluster {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t legacy_max_ttl = 10;  // RFC 6762, section 6.7
constexpr std::size_t max_known_answers = 32;
constexpr std::size_t max_resolve_questions = 24;
constexpr std::uint16_t mdns_response_flags =
    dns_message::flag_response | dns_message::flag_authoritative;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

dns_name service_type() { return dns_name::parse(mdns_service_type).value(); }

// True for "<label>._troupe._tcp.local": the instance's label in `label`.
bool instance_of(const dns_name& n, const dns_name& type, std::string& label) {
  if (n.labels.size() != type.labels.size() + 1) return false;
  dns_name rest;
  rest.labels.assign(n.labels.begin() + 1, n.labels.end());
  if (!(rest == type)) return false;
  label = n.labels[0];
  return true;
}

time_point expiry(time_point now, std::uint32_t ttl) {
  // A goodbye (TTL 0) is kept one second (RFC 6762, section 10.1).
  return now + (ttl == 0 ? duration(1s) : duration(std::chrono::seconds(ttl)));
}

bool same_data(const dns_record& a, const dns_record& b) {
  return a.type == b.type && a.name == b.name && a.a == b.a && a.target == b.target &&
         a.port == b.port && a.priority == b.priority && a.weight == b.weight && a.txt == b.txt;
}

}  // namespace

// ------------------------------------------------------------ the responder

result<mdns_responder> mdns_responder::make(mdns_service service) {
  mdns_responder r;
  r.type_ = service_type();
  r.meta_ = dns_name::parse("_services._dns-sd._udp.local").value();
  auto instance = r.type_.prepend(service.instance);
  if (!instance)
    return error(errc::invalid_name, "an mDNS instance name must be 1 to 63 bytes, not " +
                                         std::to_string(service.instance.size()));
  r.instance_ = std::move(*instance);
  auto host = dns_name::parse(service.host);
  if (!host || host->labels.empty())
    return error(errc::invalid_name, "a bad mDNS host name '" + service.host + "'");
  r.host_ = std::move(*host);
  if (service.port == 0) return error(errc::invalid_argument, "an mDNS service needs a port");
  for (const auto& [k, v] : service.txt)
    if (k.empty() || k.find('=') != std::string::npos || k.size() + 1 + v.size() > 255)
      return error(errc::invalid_argument, "a bad TXT entry '" + k +
                                               "' (a key without '=', "
                                               "key=value at most 255 bytes)");
  r.service_ = std::move(service);
  return r;
}

dns_record mdns_responder::record(std::size_t id, std::uint32_t ttl, bool flush) const {
  dns_record r;
  r.ttl = ttl;
  r.cache_flush = flush && id != ptr && id != meta;  // PTRs are shared, the rest ours alone
  switch (id) {
    case ptr:
      r.name = type_;
      r.type = dns_type::ptr;
      r.target = instance_;
      break;
    case meta:
      r.name = meta_;
      r.type = dns_type::ptr;
      r.target = type_;
      break;
    case srv:
      r.name = instance_;
      r.type = dns_type::srv;
      r.port = service_.port;
      r.target = host_;
      break;
    case txt:
      r.name = instance_;
      r.type = dns_type::txt;
      for (const auto& [k, v] : service_.txt) r.txt.push_back(k + "=" + v);
      break;
    default:
      r.name = host_;
      r.type = dns_type::a;
      r.a = service_.ipv4;
  }
  return r;
}

dns_message mdns_responder::announcement(bool goodbye, time_point now) {
  dns_message m;
  m.flags = mdns_response_flags;
  for (std::size_t id : {ptr, srv, txt, a, meta}) {
    m.answers.push_back(record(id, goodbye ? 0 : service_.ttl, !goodbye));
    last_multicast_[id] = now;
    multicast_ever_[id] = true;
  }
  return m;
}

std::vector<mdns_responder::reply> mdns_responder::answer(const dns_message& query,
                                                          std::uint16_t from_port, time_point now) {
  std::vector<reply> out;
  // Only standard queries (RFC 6762, section 18.3).
  if (query.is_response() || (query.flags & 0x7800) != 0) return out;
  bool want[count]{};
  bool unicast[count]{};
  auto ask = [&](std::size_t id, bool qu) {
    want[id] = true;
    unicast[id] = unicast[id] || qu;
  };
  for (const dns_question& q : query.questions) {
    if (q.klass != dns_class_in && q.klass != dns_type::any) continue;
    const bool any = q.type == dns_type::any;
    if (q.name == type_ && (any || q.type == dns_type::ptr)) ask(ptr, q.unicast_response);
    if (q.name == meta_ && (any || q.type == dns_type::ptr)) ask(meta, q.unicast_response);
    if (q.name == instance_ && (any || q.type == dns_type::srv)) ask(srv, q.unicast_response);
    if (q.name == instance_ && (any || q.type == dns_type::txt)) ask(txt, q.unicast_response);
    if (q.name == host_ && (any || q.type == dns_type::a)) ask(a, q.unicast_response);
  }
  // Known-answer suppression (section 7.1): the querier holds it with at
  // least half its TTL left.
  for (const dns_record& known : query.answers)
    for (std::size_t id = 0; id < count; ++id)
      if (want[id] && known.ttl >= service_.ttl / 2 && same_data(known, record(id, 0, false)))
        want[id] = false;
  if (std::none_of(std::begin(want), std::end(want), [](bool w) { return w; })) return out;

  auto build = [&](const bool* answers, std::uint32_t ttl, bool flush) {
    dns_message m;
    m.flags = mdns_response_flags;
    bool extra[count]{};
    for (std::size_t id = 0; id < count; ++id) {
      if (!answers[id]) continue;
      m.answers.push_back(record(id, ttl, flush));
      if (id == ptr) extra[srv] = extra[txt] = extra[a] = true;
      if (id == srv) extra[a] = true;
    }
    for (std::size_t id : {srv, txt, a})
      if (extra[id] && !answers[id]) m.additionals.push_back(record(id, ttl, flush));
    return m;
  };

  if (from_port != mdns_port) {
    // A legacy resolver (a plain DNS client): a unicast reply it can read.
    dns_message m = build(want, std::min(service_.ttl, legacy_max_ttl), false);
    m.id = query.id;
    m.questions = query.questions;
    out.push_back({std::move(m), true});
    return out;
  }
  bool group[count]{};
  bool direct[count]{};
  for (std::size_t id = 0; id < count; ++id) {
    if (!want[id]) continue;
    const duration since = now - last_multicast_[id];
    // A unicast-response question gets its answer multicast anyway unless
    // it was multicast within a quarter of its TTL (section 5.4); any other
    // is multicast at most once a second (section 6).
    const duration fresh =
        unicast[id] ? duration(std::chrono::seconds(service_.ttl / 4)) : duration(1s);
    if (!multicast_ever_[id] || since >= fresh)
      group[id] = true;
    else if (unicast[id])
      direct[id] = true;
  }
  if (std::any_of(std::begin(group), std::end(group), [](bool g) { return g; })) {
    dns_message m = build(group, service_.ttl, true);
    for (const dns_record& r : m.answers)
      for (std::size_t id = 0; id < count; ++id)
        if (group[id] && same_data(r, record(id, 0, false))) {
          last_multicast_[id] = now;
          multicast_ever_[id] = true;
        }
    out.push_back({std::move(m), false});
  }
  if (std::any_of(std::begin(direct), std::end(direct), [](bool d) { return d; }))
    out.push_back({build(direct, service_.ttl, true), true});
  return out;
}

// -------------------------------------------------------------- the browser

mdns_browser::mdns_browser(std::string self, std::string cluster, duration refresh_report)
    : self_(lower(self)),
      cluster_(std::move(cluster)),
      refresh_report_(refresh_report),
      type_(service_type()) {}

std::vector<mdns_event> mdns_browser::on_response(const dns_message& response, time_point now) {
  std::vector<mdns_event> events;
  if (!response.is_response() || response.rcode() != 0) return events;
  std::vector<const dns_record*> records;
  for (const auto* section : {&response.answers, &response.additionals})
    for (const dns_record& r : *section) records.push_back(&r);
  std::vector<std::string> touched;
  auto remember = [](auto& map, const std::string& key, auto value) {
    auto it = map.find(key);
    if (it == map.end() && map.size() >= max_entries) return false;
    map[key] = std::move(value);
    return true;
  };
  std::string label;
  for (const dns_record* r : records) {
    if (r->type == dns_type::ptr && r->name == type_ && instance_of(r->target, type_, label)) {
      entry e{expiry(now, r->ttl), r->ttl, now};
      if (remember(ptrs_, lower(label), std::make_pair(label, e))) touched.push_back(lower(label));
    } else if (r->type == dns_type::srv && instance_of(r->name, type_, label)) {
      srv_entry e;
      static_cast<entry&>(e) = {expiry(now, r->ttl), r->ttl, now};
      e.target = r->target;
      e.port = r->port;
      if (remember(srvs_, lower(label), std::move(e))) touched.push_back(lower(label));
    } else if (r->type == dns_type::txt && instance_of(r->name, type_, label)) {
      txt_entry e;
      static_cast<entry&>(e) = {expiry(now, r->ttl), r->ttl, now};
      e.strings = r->txt;
      if (remember(txts_, lower(label), std::move(e))) touched.push_back(lower(label));
    }
  }
  // A records only for hosts that an SRV held names.
  for (const dns_record* r : records) {
    if (r->type != dns_type::a) continue;
    const std::string host = lower(r->name.to_string());
    for (const auto& [key, s] : srvs_) {
      if (lower(s.target.to_string()) != host) continue;
      host_entry e;
      static_cast<entry&>(e) = {expiry(now, r->ttl), r->ttl, now};
      e.ipv4 = r->a;
      if (remember(hosts_, host, e)) touched.push_back(key);
    }
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const std::string& key : touched) {
    auto found = resolve(key, now);
    if (!found || !wanted(*found)) continue;
    auto it = reported_.find(key);
    if (it != reported_.end() && it->second.instance == *found &&
        now - it->second.at < refresh_report_)
      continue;
    reported_[key] = reported{*found, now};
    events.push_back({mdns_event::kind::found, std::move(*found)});
  }
  return events;
}

std::vector<mdns_event> mdns_browser::expire(time_point now) {
  auto gone = [&](const auto& kv) { return kv.second.expires <= now; };
  std::erase_if(ptrs_, [&](const auto& kv) { return kv.second.second.expires <= now; });
  std::erase_if(srvs_, gone);
  std::erase_if(txts_, gone);
  std::erase_if(hosts_, gone);
  std::vector<mdns_event> events;
  for (auto it = reported_.begin(); it != reported_.end();) {
    auto now_found = resolve(it->first, now);
    if (now_found && wanted(*now_found)) {
      ++it;
      continue;
    }
    events.push_back({mdns_event::kind::gone, it->second.instance});
    it = reported_.erase(it);
  }
  return events;
}

dns_message mdns_browser::query(time_point now) const {
  dns_message m;
  dns_question q;
  q.name = type_;
  q.type = dns_type::ptr;
  m.questions.push_back(q);
  for (const auto& [key, p] : ptrs_) {
    const auto& [label, e] = p;
    if (m.answers.size() >= max_known_answers) break;
    if (e.expires <= now) continue;
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(e.expires - now).count();
    if (static_cast<std::uint64_t>(left) * 2 <= e.ttl) continue;
    auto target = type_.prepend(label);
    if (!target) continue;
    dns_record r;
    r.name = type_;
    r.type = dns_type::ptr;
    r.ttl = static_cast<std::uint32_t>(left);
    r.target = std::move(*target);
    m.answers.push_back(std::move(r));
  }
  return m;
}

std::optional<dns_message> mdns_browser::resolve_query(time_point now) const {
  dns_message m;
  auto ask = [&](const dns_name& n, std::uint16_t type) {
    if (m.questions.size() >= max_resolve_questions) return;
    dns_question q;
    q.name = n;
    q.type = type;
    m.questions.push_back(std::move(q));
  };
  for (const auto& [key, p] : ptrs_) {
    if (p.second.expires <= now) continue;
    auto name = type_.prepend(p.first);
    if (!name) continue;
    auto s = srvs_.find(key);
    if (s == srvs_.end() || s->second.expires <= now) {
      ask(*name, dns_type::srv);
    } else {
      auto h = hosts_.find(lower(s->second.target.to_string()));
      if (h == hosts_.end() || h->second.expires <= now) ask(s->second.target, dns_type::a);
    }
    auto t = txts_.find(key);
    if (t == txts_.end() || t->second.expires <= now) ask(*name, dns_type::txt);
  }
  if (m.questions.empty()) return std::nullopt;
  return m;
}

std::vector<mdns_instance> mdns_browser::instances(time_point now) const {
  std::vector<mdns_instance> out;
  for (const auto& [key, p] : ptrs_)
    if (auto i = resolve(key, now); i && wanted(*i)) out.push_back(std::move(*i));
  return out;
}

std::optional<mdns_instance> mdns_browser::resolve(const std::string& key, time_point now) const {
  auto p = ptrs_.find(key);
  auto s = srvs_.find(key);
  auto t = txts_.find(key);
  if (p == ptrs_.end() || s == srvs_.end() || t == txts_.end()) return std::nullopt;
  if (p->second.second.expires <= now || s->second.expires <= now || t->second.expires <= now)
    return std::nullopt;
  // A goodbye (kept one second) is no longer an instance.
  if (p->second.second.ttl == 0 || s->second.ttl == 0) return std::nullopt;
  auto h = hosts_.find(lower(s->second.target.to_string()));
  if (h == hosts_.end() || h->second.expires <= now || h->second.ttl == 0) return std::nullopt;
  mdns_instance i;
  i.name = p->second.first;
  i.host = s->second.target.to_string();
  i.address = format_ipv4(h->second.ipv4) + ":" + std::to_string(s->second.port);
  for (const std::string& str : t->second.strings) {
    if (str.empty()) continue;
    const std::size_t eq = str.find('=');
    i.txt[lower(str.substr(0, eq))] = eq == std::string::npos ? "" : str.substr(eq + 1);
  }
  return i;
}

bool mdns_browser::wanted(const mdns_instance& i) const {
  if (lower(i.name) == self_) return false;
  if (cluster_.empty()) return true;
  auto c = i.txt.find("cluster");
  return c != i.txt.end() && c->second == cluster_;
}

std::string mdns_host_label(std::string_view instance) {
  const bool plain = !instance.empty() && instance.size() <= 63 && instance.front() != '-' &&
                     instance.back() != '-' &&
                     std::all_of(instance.begin(), instance.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-';
                     });
  if (plain) return lower(instance);
  std::string out;
  for (char c : lower(instance.substr(0, 54)))
    out += ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c : '-';
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (char c : instance) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", h);
  return (out.empty() ? std::string("troupe") : out) + "-" + hex;
}

}  // namespace troupe::cluster
