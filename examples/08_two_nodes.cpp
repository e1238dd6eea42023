// Example 8: two nodes, two processes.
//
// Run with no arguments, this program is the first node. It starts a copy of
// itself as the second node, a separate OS process (see node_process.hpp),
// and the two talk over TCP on 127.0.0.1:
//
// - the second node listens on port 0 (the OS picks a free port), checks a
//   ponger in at its receptionist as "svc/ponger" and reports its address;
// - the first node connects to it (both prove the cluster cookie), looks the
//   ponger up by label, plays a few rounds of ping-pong with asks and sends
//   it a tell;
// - it spawns a greeter on the second node, watches it, stops it and gets
//   exactly one down;
// - it lets the second node go: that process stops its node and exits.
//
// The code that talks to the remote actors is the code you would write for
// local ones: endpoint<A>, tell, ask, watch, stop. Only the way the endpoint
// was obtained (lookup, spawn_on) is about nodes. Every wait is bounded; the
// program exits non-zero, with a message, on any failure.

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "node_process.hpp"
#include "troupe/net/node.hpp"
#include "troupe/net/tcp_transport.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace example {

/// Every run ends within this many seconds, whatever happens.
constexpr unsigned time_limit_s = 60;

/// Prints one line, tagged with the node that prints it. Both processes
/// write to the same standard output, a whole line at a time.
void say(std::string_view node, const std::string& text) {
  std::printf("[%-6.*s] %s\n", static_cast<int>(node.size()), node.data(), text.c_str());
  std::fflush(stdout);
}

// ---- messages and actors ---------------------------------------------------
//
// Both nodes are built from the same definitions. A message that crosses the
// wire needs a wire name (type_name); its fields are encoded with no code from
// you (reflection over the aggregate's fields).

struct pong {
  int seq = 0;
  std::string node;  ///< the node that answered
  int pid = 0;       ///< and the process it runs in
};

struct ping {
  using reply = pong;
  static constexpr std::string_view type_name = "example.ping";
  int seq = 0;
};

/// A tell-only message: no reply type.
struct note {
  static constexpr std::string_view type_name = "example.note";
  std::string text;
};

struct notes_so_far {
  using reply = std::vector<std::string>;
  static constexpr std::string_view type_name = "example.notes_so_far";
};

class ponger : public troupe::actor<ponger> {
 public:
  /// An actor type's wire name: lookup() and spawn_on() check it.
  static constexpr std::string_view type_name = "example.ponger";
  using handles = troupe::handles<ping, note, notes_so_far>;
  explicit ponger(std::string node) : node_(std::move(node)) {}

  pong handle(const ping& m) {
    say(node_, "ponger: ping " + std::to_string(m.seq));
    return pong{m.seq, node_, static_cast<int>(getpid())};
  }
  void handle(const note& m) {
    say(node_, "ponger: note \"" + m.text + "\"");
    notes_.push_back(m.text);
  }
  std::vector<std::string> handle(const notes_so_far&) const { return notes_; }

 private:
  std::string node_;
  std::vector<std::string> notes_;
};

struct greet {
  using reply = std::string;
  static constexpr std::string_view type_name = "example.greet";
  std::string name;
};

class greeter : public troupe::actor<greeter> {
 public:
  static constexpr std::string_view type_name = "example.greeter";
  using handles = troupe::handles<greet>;
  explicit greeter(std::string greeting) : greeting_(std::move(greeting)) {}

  std::string handle(const greet& m) {
    return greeting_ + ", " + m.name + "! (from pid " + std::to_string(getpid()) + ")";
  }
  void post_stop(const troupe::exit_reason& why) {
    say("second", "greeter stopped: " + why.to_string());
  }

 private:
  std::string greeting_;
};

/// Lists what crosses the wire. Both nodes build the same list: a node can
/// only send, receive and spawn the types it lists.
troupe::result<troupe::net::remote_types> wire_types() {
  troupe::net::remote_types types;
  // A ponger's messages may come from other nodes.
  if (troupe::result<void> r = types.add<ponger>(); !r) return r.error();
  // Other nodes may also spawn a greeter, from one std::string argument.
  if (troupe::result<void> r = types.add_spawnable<greeter, std::string>(); !r) return r.error();
  return types;
}

/// Starts node `name` over TCP. `listen` is "host:port" (port 0: the OS
/// picks one), or empty for a node that only dials out.
troupe::result<std::unique_ptr<troupe::net::node>> start_node(troupe::system& sys, std::string name,
                                                              std::string listen) {
  auto types = wire_types();
  if (!types) return types.error();
  auto tcp = troupe::net::tcp_transport::make({});
  if (!tcp) return tcp.error();
  troupe::net::node_config cfg;
  cfg.name = name;
  cfg.listen = std::move(listen);
  cfg.cookie = "example-08 cluster secret";  // the same on every node of the cluster
  // The node logs refused handshakes and closed sessions, with the reason
  // (standard error by default).
  cfg.log = [name](std::string_view line) { say(name, "log: " + std::string(line)); };
  return troupe::net::node::start(sys, std::move(cfg), std::move(*types),
                                  std::shared_ptr<troupe::transport>(std::move(*tcp)));
}

int failed(const std::string& what) {
  std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  return 1;
}

// ---- the second node ---------------------------------------------------------

int second_node(const node_process::parent_link& parent) {
  troupe::system sys;
  auto node = start_node(sys, "second", "127.0.0.1:0");
  if (!node) return failed("second: node: " + node.error().message());

  // Check a ponger in at the receptionist: other nodes look it up by label.
  auto p = sys.spawn<ponger>(std::string("second"));
  if (!p) return failed("second: spawn: " + p.error().message());
  if (!sys.receptionist().check_in("svc/ponger", *p)) return failed("second: check_in");

  say("second", "pid " + std::to_string(getpid()) + ", listening on " + (*node)->address());
  if (!parent.report((*node)->address())) return failed("second: cannot report the address");
  parent.wait_for_release();

  say("second", "released: stopping the node");
  (*node)->stop();
  return 0;
}

// ---- the first node ----------------------------------------------------------

int first_node() {
  // Start the second node's process before this one starts any thread.
  auto second = node_process::child::start({});
  if (!second) return failed("cannot start the second node's process");
  std::optional<std::string> address = second->read_address(30s);
  if (!address) return failed("the second node did not report its address");
  say("first", "pid " + std::to_string(getpid()) + " started the second node as pid " +
                   std::to_string(second->pid()));

  // What the watch below records. Declared before the system and the node:
  // a watch callback may run until the node has stopped.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<troupe::down> downs;

  troupe::system sys;
  // The first node only dials out, so it does not listen. Give it a listen
  // address too when other nodes should be able to dial it.
  auto started = start_node(sys, "first", "");
  if (!started) return failed("first: node: " + started.error().message());
  std::unique_ptr<troupe::net::node> node = std::move(*started);

  // connect() ends once the session is authenticated (both sides proved the
  // cookie), with the peer's name; from then on the node keeps it connected.
  troupe::result<std::string> peer = node->connect(*address).get();
  if (!peer) return failed("connect: " + peer.error().message());
  say("first", "connected to node \"" + *peer + "\" at " + *address);

  // ---- lookup by label, then asks and a tell
  troupe::result<troupe::endpoint<ponger>> remote_ponger =
      node->lookup<ponger>(*peer, "svc/ponger").get();
  if (!remote_ponger) return failed("lookup: " + remote_ponger.error().message());
  say("first", "looked up svc/ponger on " + *peer);

  for (int seq = 1; seq <= 3; ++seq) {
    const auto sent = std::chrono::steady_clock::now();
    ping msg{seq};
    // Every ask ends: with the reply or a typed error (timeout, node_down,
    // actor_not_found, ...) by its deadline at the latest.
    troupe::result<pong> r = remote_ponger->ask(msg, 5s).get();
    if (!r) return failed("ping " + std::to_string(seq) + ": " + r.error().message());
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - sent)
                        .count();
    say("first", "pong " + std::to_string(r->seq) + " from node \"" + r->node + "\" (pid " +
                     std::to_string(r->pid) + ") after " + std::to_string(us) + " us");
    if (r->seq != seq || r->pid != second->pid()) return failed("a pong from the wrong place");
  }

  // A tell returns at once; it says whether the message was sent, not
  // whether it arrived. Messages from one sender to one actor arrive in
  // order, so the ask below sees the note.
  note hello{"hello from pid " + std::to_string(getpid())};
  if (troupe::send_result s = remote_ponger->tell(std::move(hello)); !s)
    return failed("tell: " + troupe::error(s.error()).message());
  troupe::result<std::vector<std::string>> notes = remote_ponger->ask(notes_so_far{}, 5s).get();
  if (!notes) return failed("notes: " + notes.error().message());
  if (notes->size() != 1) return failed("the note did not arrive once");
  say("first", "the ponger has the note: \"" + notes->front() + "\"");

  // ---- remote spawn, watch, stop
  // The second node listed greeter with add_spawnable<greeter, std::string>,
  // so this node may spawn one there. The argument is encoded and sent.
  troupe::result<troupe::endpoint<greeter>> g =
      node->spawn_on<greeter>(*peer, "svc/greeter", std::string("Hej")).get();
  if (!g) return failed("spawn_on: " + g.error().message());
  say("first", "spawned a greeter on " + *peer + " (checked in there as svc/greeter)");
  greet who{"first"};
  troupe::result<std::string> hi = g->ask(who, 5s).get();
  if (!hi) return failed("greet: " + hi.error().message());
  say("first", "greeter says: " + *hi);

  // A watch across nodes: exactly one down, when the actor ends or when its
  // node is lost. The callback runs on a network thread: keep it short.
  // Dropping the watch_ref keeps the watch; watch.cancel() would end it.
  troupe::watch_ref watch = sys.watch(*g, [&](const troupe::down& d) {
    std::lock_guard lock(mu);
    downs.push_back(d);
    cv.notify_all();
  });
  g->stop();  // as on a local endpoint: the actor stops after its current message
  {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, 10s, [&] { return !downs.empty(); }))
      return failed("no down within 10 s");
    say("first", "down: the greeter ended (" + downs.front().reason.to_string() + ")");
    if (downs.front().reason.what() != troupe::exit_reason::kind::normal)
      return failed("the greeter did not stop normally");
  }
  // The endpoint still exists, the actor does not: asks end with a typed
  // error instead of hanging.
  troupe::result<std::string> late = g->ask(who, 5s).get();
  if (late || late.error() != troupe::errc::actor_not_found)
    return failed("an ask to the stopped greeter did not end with actor_not_found");
  say("first", "asking it again ends with: " + late.error().message());

  // ---- the end
  // Stopping the node closes the session. A watch still active would fire
  // now (node_down): the count stays at one.
  node->stop();
  {
    std::lock_guard lock(mu);
    if (downs.size() != 1) return failed(std::to_string(downs.size()) + " downs, not one");
  }
  say("first", "node stopped; exactly one down");

  std::string how;
  const bool clean = second->release(10s, &how);
  say("first", "second node's process " + how);
  if (!clean) return failed("the second node did not exit cleanly");
  say("first", "done");
  return 0;
}

}  // namespace example

int main(int argc, char** argv) {
  // Started by the first node as `<exe> --node <fd>`: this is the second.
  if (auto parent = node_process::parent_link::from_args(argc, argv, example::time_limit_s + 10))
    return example::second_node(*parent);
  node_process::arm_time_limit(example::time_limit_s);
  return example::first_node();
}
