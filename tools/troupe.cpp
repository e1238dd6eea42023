// troupe: the command-line program.
//
//   troupe node --name NAME --listen HOST:PORT --cookie COOKIE
//               [--seeds HOST:PORT,...] [--profile lan|wan|local]
//               [--tls-ca FILE --tls-cert FILE --tls-key FILE]
//
// runs a plain cluster member: a node listening on HOST:PORT (TCP) with its
// membership on the same host and port (UDP), joined through the seeds. It
// prints one JSON object per line on standard output, each with a monotonic
// timestamp in milliseconds since start:
//
//   {"t_ms":0,"event":"started","member":"a","generation":123,"address":"10.0.0.1:7000"}
//   {"t_ms":812,"event":"joined","member":"b","generation":456,"address":"...","incarnation":0}
//   ... "alive", "suspect", "dead", "left" alike, and
//   {"t_ms":830,"event":"session_up","member":"b"} / "session_down" (with "reason")
//
// Standard input takes commands, one per line: "members" prints the member
// list ({"event":"members","members":[...]}), "leave" leaves the cluster and
// exits. End of input, SIGTERM or SIGINT leave and exit too. Exit status: 0
// after leaving, 1 when the node or membership cannot start, 2 for bad
// arguments (with a message on standard error).

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
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

void on_signal(int) {
  const char c = 's';
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
            << "                   [--tls-ca FILE --tls-cert FILE --tls-key FILE]\n";
  return 2;
}

class printer {
 public:
  explicit printer(troupe::clock& c) : clock_(c), start_(c.now()) {}
  void line(const std::string& event, const std::string& rest) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start_).count();
    std::lock_guard lock(mu_);
    std::cout << "{\"t_ms\":" << ms << ",\"event\":" << json_string(event) << rest << "}"
              << std::endl;
  }

 private:
  troupe::clock& clock_;
  troupe::time_point start_;
  std::mutex mu_;
};

std::string member_fields(const troupe::cluster::member_info& m) {
  return ",\"member\":" + json_string(m.key.name) +
         ",\"generation\":" + std::to_string(m.key.generation) +
         ",\"address\":" + json_string(m.address) +
         ",\"incarnation\":" + std::to_string(m.incarnation);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
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
  nc.log = [](std::string_view line) { std::cerr << line << "\n"; };

  troupe::system sys;
  printer out(sys.time());
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
  for (int attempt = 0; attempt < (any_port ? 8 : 1) && !member; ++attempt) {
    auto n = troupe::net::node::start(sys, nc, troupe::net::remote_types{});
    if (!n) {
      std::cerr << "troupe: node: " << n.error().message() << "\n";
      return 1;
    }
    auto c = troupe::cluster::cluster::start(sys.time(), random, **net, **n, cc);
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
  out.line("started", ",\"member\":" + json_string(nc.name) +
                          ",\"generation\":" + std::to_string(node->incarnation()) +
                          ",\"address\":" + json_string(node->address()));

  // Commands on stdin until "leave", end of input or a signal.
  std::string pending;
  bool done = false;
  while (!done) {
    pollfd fds[2] = {{0, POLLIN, 0}, {signal_pipe[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) break;
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      char buf[512];
      const ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = pending.find('\n')) != std::string::npos) {
        const std::string cmd = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        if (cmd == "leave") {
          done = true;
        } else if (cmd == "members") {
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
        } else if (!cmd.empty()) {
          std::cerr << "troupe: unknown command '" << cmd << "' (members, leave)\n";
        }
      }
    }
  }
  member->leave();
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
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return usage("bad argument '" + a + "'");
    opt[a.substr(2)] = argv[++i];
  }
  for (const auto& [k, v] : opt) {
    static const char* known[] = {"name",    "listen", "cookie",   "seeds",
                                  "profile", "tls-ca", "tls-cert", "tls-key"};
    bool ok = false;
    for (const char* kk : known) ok = ok || k == kk;
    if (!ok) return usage("unknown option --" + k);
  }
  if (pipe(signal_pipe) != 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return run_node(opt);
}
