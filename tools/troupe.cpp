// troupe: the command-line program.
//
//   troupe node --name NAME --listen HOST:PORT --cookie COOKIE
//               [--seeds HOST:PORT,...] [--profile lan|wan|local]
//               [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//               [--gossip-key-file FILE] [--cluster-name NAME]
//               [--mdns [--mdns-interface IPV4]]
//               [--dns NAME,...] [--dns-srv NAME,...] [--dns-server IP[:PORT]]
//               [--dns-interval SECONDS] [--entries N]
//
// runs a plain cluster member: a node listening on HOST:PORT (TCP) with its
// membership on the same host and port (UDP), joined through the seeds. It
// prints one JSON object per line on standard output, each with a monotonic
// timestamp in milliseconds since start:
//
//   {"t_ms":0,"event":"started","member":"a","generation":123,"address":"10.0.0.1:7000",
//    "entries":0}
//   {"t_ms":812,"event":"joined","member":"b","generation":456,"address":"...","incarnation":0}
//   ... "alive", "suspect", "dead", "left" alike, and
//   {"t_ms":830,"event":"session_up","member":"b"} / "session_down" (with "reason")
//
// Discovery (--mdns, --dns, --dns-srv) is cluster_config::discovery; what it
// finds is printed ("discovered", "discovery_gone", "discovery_failed",
// "mdns_started"). --entries N checks in N actors under "<name>/e<i>"
// (replicated to every member).
//
// Standard input takes commands, one per line: "members" prints the member
// list ({"event":"members","members":[...]}), "stats" the gossip counters
// ({"event":"stats","packets_sent":...,"bytes_sent":...,"dropped_unauthentic":...}),
// "digest" the receptionist's digest ({"event":"digest","digest":"<16 hex
// digits>","entries":N}: equal on members that show the same entries),
// "register LABEL" checks a new actor in ({"event":"registered","label":...,
// "version":...}), "unregister LABEL" checks this node's entry out and stops
// its actor ({"event":"unregistered",...}), "leave" leaves the cluster and
// exits. A command that fails prints {"event":"command_failed","command":...,
// "error":"<errc>","reason":...} and the node runs on. End of input, SIGTERM
// or SIGINT leave and exit too. SIGHUP reads --gossip-key-file again and makes its
// keys the ones in use (first the primary), to rotate keys without a
// restart; it prints {"event":"keys_reloaded","keys":N} or
// {"event":"keys_reload_failed","reason":...}. Exit status: 0
// after leaving, 1 when the node or membership cannot start, 2 for bad
// arguments (with a message on standard error).

#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "troupe/cluster/cluster.hpp"
#include "troupe/net/node.hpp"
#include "troupe/troupe.hpp"

namespace {

int signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  const char c = sig == SIGHUP ? 'h' : 's';
  (void)!write(signal_pipe[1], &c, 1);
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

int usage(const std::string& why) {
  std::cerr << "troupe: " << why << "\n"
            << "usage: troupe node --name NAME --listen HOST:PORT --cookie COOKIE\n"
            << "                   [--seeds HOST:PORT,...] [--profile lan|wan|local]\n"
            << "                   [--tls-ca FILE --tls-cert FILE --tls-key FILE]\n"
            << "                   [--gossip-key-file FILE] [--cluster-name NAME]\n"
            << "                   [--mdns [--mdns-interface IPV4]]\n"
            << "                   [--dns NAME,...] [--dns-srv NAME,...] [--dns-server IP[:PORT]]\n"
            << "                   [--dns-interval SECONDS] [--entries N]\n"
            << "  --gossip-key-file  encrypts gossip (AES-256-GCM): FILE holds 32-byte keys,\n"
            << "                     64 hex digits or base64 each, one per line, the first\n"
            << "                     the primary ('#' comments and blank lines skipped);\n"
            << "                     SIGHUP reads it again (key rotation without restart)\n"
            << "  --cluster-name     the cluster's name, bound into every sealed gossip packet\n"
            << "                     (default: none)\n"
            << "  --mdns             advertises this node as <name>._troupe._tcp.local (mDNS /\n"
            << "                     DNS-SD, TXT node=, incarnation=, cluster= with\n"
            << "                     --cluster-name) and joins the nodes it finds that way\n"
            << "  --mdns-interface   the IPv4 address of the interface for mDNS (default: the\n"
            << "                     --listen host, or the first multicast interface)\n"
            << "  --dns NAME,...     joins every address the NAMEs resolve to (A/AAAA records,\n"
            << "                     e.g. a Kubernetes headless service), at this node's port\n"
            << "  --dns-srv NAME,... joins the targets of the NAMEs' SRV records\n"
            << "                     (_troupe._tcp.DOMAIN)\n"
            << "  --dns-server       the DNS server to ask (default: the system resolver for\n"
            << "                     --dns, the first nameserver of /etc/resolv.conf for SRV)\n"
            << "  --dns-interval     resolves again this often (default: 30 s)\n"
            << "  --entries N        checks in N actors under NAME/e0 ... (0 to 100000)\n"
            << "  Discovery prints {\"event\":\"discovered\",\"source\":\"mdns\"|\"dns\",...}.\n"
            << "  Commands on stdin: members, stats, digest, register LABEL, unregister LABEL,\n"
            << "  leave.\n";
  return 2;
}

// Prints the JSON lines. Lines may be held back until the first one that
// should come first is printed (release()).
class printer {
 public:
  explicit printer(troupe::clock& c) : clock_(c), start_(c.now()) {}
  void line(const std::string& event, const std::string& rest) {
    std::string text = format(event, rest);
    std::lock_guard lock(mu_);
    if (held_)
      pending_.push_back(std::move(text));
    else
      std::cout << text << std::endl;
  }
  /// Holds the lines back until release().
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  /// Prints this line, then those held back, and stops holding.
  void release(const std::string& event, const std::string& rest) {
    const std::string first = format(event, rest);
    std::lock_guard lock(mu_);
    std::cout << first << "\n";
    for (const std::string& l : pending_) std::cout << l << "\n";
    std::cout << std::flush;
    pending_.clear();
    held_ = false;
  }

 private:
  std::string format(const std::string& event, const std::string& rest) const {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start_).count();
    std::string text = "{\"t_ms\":";
    text += std::to_string(ms);
    text += ",\"event\":";
    text += json_string(event);
    text += rest;
    text += "}";
    return text;
  }
  troupe::clock& clock_;
  troupe::time_point start_;
  std::mutex mu_;
  bool held_ = false;
  std::vector<std::string> pending_;
};

std::string member_fields(const troupe::cluster::member_info& m) {
  return ",\"member\":" + json_string(m.key.name) +
         ",\"generation\":" + std::to_string(m.key.generation) +
         ",\"address\":" + json_string(m.address) +
         ",\"incarnation\":" + std::to_string(m.incarnation);
}

// Reads the keys of --gossip-key-file; the error says what is wrong (never
// the file's text: keys are secrets).
troupe::result<std::vector<troupe::cluster::gossip_key>> read_gossip_keys(const std::string& path) {
  const auto fail = [&](const std::string& why) {
    return troupe::error(troupe::errc::invalid_argument, "--gossip-key-file " + path + ": " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::strerror(errno));
  std::string text;
  constexpr std::size_t max_size = 64 * 1024;
  text.resize(max_size + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > max_size) return fail("larger than 64 KiB: not a key file");
  auto keys = troupe::cluster::parse_gossip_keys(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!keys) return fail(keys.error().detail());
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    std::cerr << "troupe: warning: " << path << " is readable by other users\n";
  return keys;
}

void wipe(std::vector<troupe::cluster::gossip_key>& keys) {
  if (!keys.empty()) OPENSSL_cleanse(keys.data(), keys.size() * sizeof(keys.front()));
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// Prints what discovery does (cluster_config::discovery's on_event).
void print_discovery(printer& out, const troupe::cluster::discovery_event& e) {
  using kind = troupe::cluster::discovery_event::kind;
  std::string fields = ",\"source\":";
  fields += json_string(troupe::cluster::to_string(e.source));
  if (e.what == kind::started) {
    out.line("mdns_started", ",\"address\":" + json_string(e.instance.address) +
                                 ",\"interface\":" + json_string(e.interface_address));
  } else if (e.what == kind::failed) {
    out.line("discovery_failed", fields + ",\"reason\":" + json_string(e.failure.message()));
  } else if (e.source == troupe::cluster::discovery_source::mdns) {
    const auto inc = e.instance.txt.find("incarnation");
    fields += ",\"member\":" + json_string(e.instance.name) +
              ",\"address\":" + json_string(e.instance.address) +
              ",\"host\":" + json_string(e.instance.host) +
              ",\"incarnation\":" + json_string(inc == e.instance.txt.end() ? "" : inc->second);
    out.line(e.what == kind::gone ? "discovery_gone" : "discovered", fields);
  } else {
    std::string list;
    for (const std::string& a : e.addresses) {
      if (!list.empty()) list += ",";
      list += json_string(a);
    }
    out.line("discovered", fields + ",\"addresses\":[" + list + "]");
  }
}

// Sets `d` from the discovery flags; the error names the flag.
troupe::result<void> discovery_from_flags(const std::map<std::string, std::string>& opt,
                                          troupe::cluster::discovery_config& d) {
  const auto bad = [](const std::string& why) {
    return troupe::error(troupe::errc::invalid_argument, why);
  };
  if (opt.contains("mdns")) {
    d.mdns = true;
    if (opt.contains("mdns-interface")) d.mdns_options.interface_address = opt.at("mdns-interface");
    if (opt.contains("cluster-name")) d.mdns_options.cluster = opt.at("cluster-name");
  } else if (opt.contains("mdns-interface")) {
    return bad("--mdns-interface goes with --mdns");
  }
  if (opt.contains("dns") && (d.dns_names = split(opt.at("dns"))).empty())
    return bad("--dns takes NAME[,NAME...]");
  if (opt.contains("dns-srv") && (d.srv_names = split(opt.at("dns-srv"))).empty())
    return bad("--dns-srv takes NAME[,NAME...]");
  if (opt.contains("dns-server")) d.dns_server = opt.at("dns-server");
  if (opt.contains("dns-interval")) {
    if (d.dns_names.empty() && d.srv_names.empty())
      return bad("--dns-interval goes with --dns or --dns-srv");
    const std::string& v = opt.at("dns-interval");
    if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(v) == 0)
      return bad("--dns-interval takes whole seconds (1 to 999999)");
    d.refresh = std::chrono::seconds(std::stoul(v));
  }
  return {};
}

// What --entries and "register" check in: an actor that answers a ping.
struct entry_ping {
  using reply = std::string;
  static constexpr std::string_view type_name = "troupe.node.ping";
};

class entry_actor : public troupe::actor<entry_actor> {
 public:
  using handles = troupe::handles<entry_ping>;
  std::string handle(const entry_ping&) { return "pong"; }
};

// The actors this node checks in (--entries, "register"), one per label.
// Called from the command loop's thread only.
class entries {
 public:
  explicit entries(troupe::system& sys) : sys_(sys) {}
  // Spawns an actor and checks it in under `label`.
  troupe::result<troupe::entry_stamp> add(const std::string& label) {
    if (auto ok = troupe::validate_label(label); !ok) return ok.error();
    auto a = sys_.spawn<entry_actor>();
    if (!a) return a.error();
    auto stamp = sys_.receptionist().check_in(label, *a);
    if (!stamp) {
      a->stop();
      return stamp.error();
    }
    actors_.emplace(label, *a);
    return stamp;
  }
  // Checks out this node's entry of `label` and stops its actor.
  troupe::result<void> remove(const std::string& label) {
    if (auto ok = troupe::validate_label(label); !ok) return ok.error();
    const auto it = actors_.find(label);
    if (it == actors_.end())
      return troupe::error(troupe::errc::actor_not_found, "no entry of this node under " + label);
    (void)sys_.receptionist().check_out(label);
    it->second.stop();
    actors_.erase(it);
    return {};
  }

 private:
  troupe::system& sys_;
  std::map<std::string, troupe::endpoint<entry_actor>> actors_;
};

// Reads --entries: 0 to 100000.
troupe::result<std::size_t> entry_count(const std::map<std::string, std::string>& opt) {
  if (!opt.contains("entries")) return std::size_t{0};
  const std::string& v = opt.at("entries");
  if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(v) > 100'000)
    return troupe::error(troupe::errc::invalid_argument,
                         "--entries takes a count of actors to check in (0 to 100000)");
  return std::size_t{std::stoul(v)};
}

std::string failure_fields(const std::string& command, const troupe::error& e) {
  return ",\"command\":" + json_string(command) +
         ",\"error\":" + json_string(troupe::to_string(e.code())) +
         ",\"reason\":" + json_string(e.detail());
}

int run_node(const std::map<std::string, std::string>& opt) {
  for (const char* need : {"name", "listen", "cookie"})
    if (!opt.contains(need)) return usage(std::string("--") + need + " is required");
  troupe::cluster::cluster_config cc;
  if (opt.contains("seeds")) cc.seeds = split(opt.at("seeds"));
  const std::string profile = opt.contains("profile") ? opt.at("profile") : "lan";
  if (profile == "lan")
    cc.swim = troupe::cluster::swim_config::lan();
  else if (profile == "wan")
    cc.swim = troupe::cluster::swim_config::wan();
  else if (profile == "local")
    cc.swim = troupe::cluster::swim_config::local();
  else
    return usage("--profile must be lan, wan or local");
  troupe::net::node_config nc;
  nc.name = opt.at("name");
  nc.listen = opt.at("listen");
  nc.cookie = opt.at("cookie");
  const int tls_parts = static_cast<int>(opt.contains("tls-ca")) +
                        static_cast<int>(opt.contains("tls-cert")) +
                        static_cast<int>(opt.contains("tls-key"));
  if (tls_parts != 0 && tls_parts != 3)
    return usage("--tls-ca, --tls-cert and --tls-key go together");
  if (tls_parts == 3)
    nc.tls = troupe::net::tls_config{opt.at("tls-ca"), opt.at("tls-cert"), opt.at("tls-key")};
  if (auto d = discovery_from_flags(opt, cc.discovery); !d) return usage(d.error().detail());
  const auto entry_total = entry_count(opt);
  if (!entry_total) return usage(entry_total.error().detail());
  if (*entry_total > 0)
    if (auto ok = troupe::validate_label(nc.name + "/e0"); !ok)
      return usage("--entries: the node's name makes a bad label: " + ok.error().detail());
  if (opt.contains("gossip-key-file")) {
    auto keys = read_gossip_keys(opt.at("gossip-key-file"));
    if (!keys) return usage(keys.error().detail());
    cc.encryption.keys = troupe::cluster::gossip_keyring::make(*keys).value();
    wipe(*keys);
  }
  if (opt.contains("cluster-name")) cc.encryption.cluster_name = opt.at("cluster-name");
  nc.log = [](std::string_view line) { std::cerr << line << "\n"; };

  troupe::system sys;
  printer out(sys.time());
  cc.discovery.on_event = [&out](const troupe::cluster::discovery_event& e) {
    print_discovery(out, e);
  };
  auto net = troupe::net::tcp_transport::make({});
  if (!net) {
    std::cerr << "troupe: transport: " << net.error().message() << "\n";
    return 1;
  }
  troupe::system_random random;
  // Membership binds UDP on the node's TCP port. With port 0 the kernel
  // picks the TCP port, and its UDP twin may be taken: try another one.
  const bool any_port = nc.listen.ends_with(":0");
  std::unique_ptr<troupe::net::node> node;
  std::unique_ptr<troupe::cluster::cluster> member;
  out.hold();  // "started" comes first, before what discovery finds
  for (int attempt = 0; attempt < (any_port ? 8 : 1) && !member; ++attempt) {
    auto n = troupe::net::node::start(sys, nc, troupe::net::remote_types{});
    if (!n) {
      std::cerr << "troupe: node: " << n.error().message() << "\n";
      return 1;
    }
    auto c = troupe::cluster::cluster::start(sys.time(), random, **net, **n, cc);
    if (!c && c.error().detail().starts_with("discovery: ")) {
      std::cerr << "troupe: " << c.error().detail() << "\n";
      (*n)->stop();
      (*net)->stop();
      const auto code = c.error().code();
      return code == troupe::errc::invalid_argument || code == troupe::errc::invalid_name ? 2 : 1;
    }
    if (!c) {
      std::cerr << "troupe: membership: " << c.error().message() << "\n";
      (*n)->stop();
      continue;
    }
    node = std::move(*n);
    member = std::move(*c);
  }
  if (!member) return 1;
  auto& m = member->members();
  m.subscribe([&out](const troupe::cluster::member_event& e) {
    out.line(std::string(troupe::cluster::to_string(e.what)), member_fields(e.member));
  });
  node->subscribe([&out](const troupe::net::node_event& e) {
    if (e.what == troupe::net::node_event::kind::authenticated)
      out.line("session_up", ",\"member\":" + json_string(e.node));
    else if (e.what == troupe::net::node_event::kind::disconnected)
      out.line("session_down",
               ",\"member\":" + json_string(e.node) + ",\"reason\":" + json_string(e.reason));
  });
  entries mine(sys);
  for (std::size_t i = 0; i < *entry_total; ++i)
    if (auto added = mine.add(nc.name + "/e" + std::to_string(i)); !added) {
      std::cerr << "troupe: --entries: " << added.error().message() << "\n";
      return 1;  // member and node stop as they go out of scope
    }
  out.release("started", ",\"member\":" + json_string(nc.name) +
                             ",\"generation\":" + std::to_string(node->incarnation()) +
                             ",\"address\":" + json_string(node->address()) +
                             ",\"entries\":" + std::to_string(*entry_total));

  // SIGHUP: the key file's keys become the keyring's, in one step.
  const auto reload_keys = [&] {
    if (!cc.encryption.enabled()) {
      out.line("keys_reload_failed", ",\"reason\":\"gossip encryption is off\"");
      return;
    }
    auto keys = read_gossip_keys(opt.at("gossip-key-file"));
    if (!keys) {
      out.line("keys_reload_failed", ",\"reason\":" + json_string(keys.error().detail()));
      return;
    }
    (void)cc.encryption.keys->assign(*keys);  // not empty: parse_gossip_keys saw to it
    out.line("keys_reloaded", ",\"keys\":" + std::to_string(keys->size()));
    wipe(*keys);
  };

  // One command line; false for "leave".
  const auto command = [&](const std::string& cmd) {
    const std::size_t space = cmd.find(' ');
    const std::string verb = cmd.substr(0, space);
    const std::string arg = space == std::string::npos ? "" : cmd.substr(space + 1);
    if (cmd == "leave") return false;
    if (cmd == "members") {
      std::string list = ",\"members\":[";
      bool first = true;
      for (const auto& info : m.members()) {
        list += first ? "{" : ",{";
        first = false;
        list += "\"state\":" + json_string(troupe::cluster::to_string(info.state)) +
                member_fields(info);
        list += "}";
      }
      out.line("members", list + "]");
    } else if (cmd == "stats") {
      const troupe::cluster::swim_stats s = m.stats();
      out.line("stats", ",\"packets_sent\":" + std::to_string(s.packets_sent) +
                            ",\"bytes_sent\":" + std::to_string(s.bytes_sent) +
                            ",\"packets_received\":" + std::to_string(s.packets_received) +
                            ",\"bad_packets\":" + std::to_string(s.bad_packets) +
                            ",\"dropped_unencrypted\":" + std::to_string(s.dropped_unencrypted) +
                            ",\"dropped_unauthentic\":" + std::to_string(s.dropped_unauthentic) +
                            ",\"dropped_replays\":" + std::to_string(s.dropped_replays));
    } else if (cmd == "digest") {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx",
                    static_cast<unsigned long long>(sys.receptionist().digest()));
      out.line("digest", ",\"digest\":\"" + std::string(hex) +
                             "\",\"entries\":" + std::to_string(sys.receptionist().size()));
    } else if (verb == "register") {
      auto added = mine.add(arg);
      if (added)
        out.line("registered", ",\"label\":" + json_string(arg) +
                                   ",\"version\":" + std::to_string(added->version));
      else
        out.line("command_failed", failure_fields(verb, added.error()));
    } else if (verb == "unregister") {
      auto removed = mine.remove(arg);
      if (removed)
        out.line("unregistered", ",\"label\":" + json_string(arg));
      else
        out.line("command_failed", failure_fields(verb, removed.error()));
    } else if (!cmd.empty()) {
      out.line("command_failed",
               failure_fields(verb, troupe::error(troupe::errc::invalid_argument,
                                                  "unknown command; members, stats, digest, "
                                                  "register LABEL, unregister LABEL, leave")));
    }
    return true;
  };

  // Commands on stdin until "leave", end of input or a signal.
  std::string pending;
  bool done = false;
  while (!done) {
    pollfd fds[2] = {{0, POLLIN, 0}, {signal_pipe[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) {
      char sig = 's';
      if (read(signal_pipe[0], &sig, 1) == 1 && sig == 'h') {
        reload_keys();
        continue;
      }
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      char buf[512];
      const ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while (!done && (nl = pending.find('\n')) != std::string::npos) {
        const std::string cmd = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        done = !command(cmd);
      }
    }
  }
  member->leave();  // discovery first: mDNS says goodbye
  // Two leave rounds go out a gossip interval apart; give them the time.
  std::this_thread::sleep_for(cc.swim.gossip_interval * 3);
  member->stop();
  node->stop();
  (*net)->stop();
  out.line("stopped", "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "node") != 0)
    return usage(argc < 2 ? "no command" : std::string("unknown command '") + argv[1] + "'");
  std::map<std::string, std::string> opt;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--mdns") {  // the one flag without a value
      opt["mdns"] = "on";
      continue;
    }
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return usage("bad argument '" + a + "'");
    opt[a.substr(2)] = argv[++i];
  }
  for (const auto& [k, v] : opt) {
    static const char* known[] = {
        "name",     "listen",  "cookie",          "seeds",        "profile", "tls-ca",
        "tls-cert", "tls-key", "gossip-key-file", "cluster-name", "mdns",    "mdns-interface",
        "dns",      "dns-srv", "dns-server",      "dns-interval", "entries"};
    bool ok = false;
    for (const char* kk : known) ok = ok || k == kk;
    if (!ok) return usage("unknown option --" + k);
  }
  if (pipe(signal_pipe) != 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  return run_node(opt);
}
