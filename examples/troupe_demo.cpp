// troupe_demo: a sharded key-value store served by a cluster of troupe
// nodes, each an OS process of its own on this machine (127.0.0.1), and what
// happens when one of them is killed.
//
// The front node (this process) starts four store nodes (copies of this
// program, see node_process.hpp). store-1 starts the cluster; the others and
// the front join it through store-1 alone, and membership (SWIM) connects
// every node to every other. Each store checks one shard actor in at its
// receptionist as kv/shard/<name>, under the reception key kv/shards; the
// receptionists replicate, so the front finds all four shards in its own
// receptionist without being told where they are.
//
// The front writes 2,000 keys, each to two shards chosen by rendezvous
// hashing, and reads them back. Then it kills store-3 with SIGKILL and keeps
// reading: reads that were on their way to store-3 end with node_down and go
// to the key's other copy. The transcript shows when the front and the
// other stores declare store-3 dead, and when its shard leaves every
// registry. The front then copies the keys that lost a copy to their new
// second shard, checks that every key reads back with its value, writes
// more, and lets the stores leave the cluster.
//
// The program exits 0 only if every key was readable throughout, store-3
// was declared dead and dropped from the registry within the bounds below,
// and the other stores left cleanly. Every wait is bounded, and an alarm ends
// everything (the store processes included) should something hang.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "node_process.hpp"
#include "troupe/cluster/cluster.hpp"
#include "troupe/net/node.hpp"
#include "troupe/net/tcp_transport.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace demo {

constexpr unsigned time_limit_s = 120;
constexpr std::string_view cookie = "troupe demo cluster secret";
constexpr int store_count = 4;
constexpr int key_count = 2000;
constexpr std::size_t copies = 2;
constexpr const char* victim = "store-3";

// ---- the transcript --------------------------------------------------------------

/// Prints one line at a time, stamped with the time since the front node
/// started (every process of the demo uses the same origin).
class transcript {
 public:
  void start(std::chrono::steady_clock::time_point origin) { start_ = origin; }
  void say(std::string_view who, const std::string& text) {
    std::lock_guard lock(mu_);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
            .count();
    std::printf("%8.1f ms  %-10s %s\n", ms, ("[" + std::string(who) + "]").c_str(), text.c_str());
    std::fflush(stdout);  // one write per line: the processes' lines do not mix
  }

 private:
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_{};
};

transcript journal;  // NOLINT: one transcript per process

int failed(const std::string& what) {
  std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  return 1;
}

std::string ms_since(std::chrono::steady_clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t);
  return std::to_string(ms.count()) + " ms";
}

// ---- the store -------------------------------------------------------------------

struct put {
  using reply = bool;
  static constexpr std::string_view type_name = "demo.put";
  std::string key;
  std::string value;
};

struct found {
  bool present = false;
  std::string value;
};

struct get {
  using reply = found;
  static constexpr std::string_view type_name = "demo.get";
  std::string key;
};

struct shard_size {
  using reply = std::uint64_t;
  static constexpr std::string_view type_name = "demo.size";
};

/// One shard of the store: a map in an actor.
class kv_shard : public troupe::actor<kv_shard> {
 public:
  static constexpr std::string_view type_name = "demo.kv_shard";
  using handles = troupe::handles<put, get, shard_size>;

  bool handle(const put& m) {
    data_[m.key] = m.value;
    return true;
  }
  found handle(const get& m) const {
    auto it = data_.find(m.key);
    return it == data_.end() ? found{} : found{true, it->second};
  }
  std::uint64_t handle(shard_size) const { return data_.size(); }

 private:
  std::map<std::string, std::string> data_;
};

const troupe::reception_key<kv_shard> shards{"kv/shards"};

// ---- a cluster member --------------------------------------------------------------

/// A node that is a cluster member, with what it needs.
struct member {
  troupe::system sys;
  troupe::system_random random;
  std::unique_ptr<troupe::transport> datagrams;
  std::unique_ptr<troupe::net::node> node;
  std::unique_ptr<troupe::cluster::cluster> cluster;

  ~member() {
    if (cluster) cluster->stop();
    if (node) node->stop();
  }
};

/// Starts `m` as node `name` on 127.0.0.1, joining through `seeds`.
troupe::result<void> join(member& m, const std::string& name, std::vector<std::string> seeds) {
  auto udp = troupe::net::tcp_transport::make({});
  if (!udp) return udp.error();
  m.datagrams = std::move(*udp);
  troupe::net::node_config nc;
  nc.name = name;
  nc.listen = "127.0.0.1:0";
  nc.cookie = std::string(cookie);
  nc.log = [name](std::string_view line) {
    // Keep the lines that tell of a failure; redials of a dead node and
    // orderly goodbyes at the end are noise here.
    for (std::string_view quiet : {"dialing", "goodbye", "the node is stopping"})
      if (line.find(quiet) != std::string_view::npos) return;
    journal.say(name, "log: " + std::string(line));
  };
  troupe::cluster::cluster_config cc;
  cc.seeds = std::move(seeds);
  // Membership takes UDP on the node's TCP port; the port the kernel picked
  // for TCP may be taken for UDP, so try again with another.
  troupe::error last(troupe::errc::invalid_argument, "no attempt");
  for (int attempt = 0; attempt < 8; ++attempt) {
    troupe::net::remote_types types;  // the actor types other nodes may reach here
    if (auto r = types.add<kv_shard>(); !r) return r.error();
    auto n = troupe::net::node::start(m.sys, nc, std::move(types));
    if (!n) return n.error();
    auto c = troupe::cluster::cluster::start(m.sys.time(), m.random, *m.datagrams, **n, cc);
    if (c) {
      m.node = std::move(*n);
      m.cluster = std::move(*c);
      return {};
    }
    last = c.error();
    (*n)->stop();
  }
  return last;
}

/// Prints what `m` learns about other members (joins only when `joins`).
void narrate_members(member& m, const std::string& me, bool joins) {
  m.cluster->members().subscribe([me, joins](const troupe::cluster::member_event& e) {
    using kind = troupe::cluster::member_event::kind;
    if (e.what == kind::joined && !joins) return;
    if (e.member.key.name == me) return;
    journal.say(me, "membership: " + e.member.key.name + " is " +
                        std::string(troupe::cluster::to_string(e.what)));
  });
}

// ---- a store node's process --------------------------------------------------------

/// `<exe> --node <fd> <name> <origin> [seed]`: serves one shard until the
/// front lets it go, then leaves the cluster.
int store_node(const node_process::parent_link& parent) {
  const auto& args = parent.args();
  if (args.size() < 2) return failed("store: missing arguments");
  const std::string name = args[0];
  journal.start(std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(std::stoll(args[1]))));
  std::vector<std::string> seeds;
  if (args.size() > 2) seeds.push_back(args[2]);

  auto m = std::make_unique<member>();
  if (auto r = join(*m, name, seeds); !r) return failed(name + ": " + r.error().message());
  narrate_members(*m, name, false);

  // Other stores' shards come and go in this registry too.
  auto listing = m->sys.receptionist().subscribe(shards);
  if (!listing) return failed(name + ": subscribe: " + listing.error().message());

  auto shard = m->sys.spawn<kv_shard>();
  if (!shard) return failed(name + ": spawn: " + shard.error().message());
  if (auto r = m->sys.receptionist().check_in("kv/shard/" + name, *shard, shards); !r)
    return failed(name + ": check_in: " + r.error().message());
  journal.say(name, "pid " + std::to_string(getpid()) + ", node at " + m->node->address() +
                        ", shard checked in as kv/shard/" + name);
  if (!parent.report(m->node->address())) return failed(name + ": cannot report the address");

  // Report removals from this node's registry while serving.
  std::atomic<bool> serving{true};
  std::thread watcher([&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(time_limit_s);
    while (serving && std::chrono::steady_clock::now() < until) {
      auto e = listing->next(100ms).get();
      if (e && e->what == troupe::listing_change::removed)
        journal.say(name, "registry: " + e->label + " removed");
    }
  });
  parent.wait_for_release();
  m->cluster->leave();
  std::this_thread::sleep_for(300ms);  // the goodbye's gossip goes out
  serving = false;
  watcher.join();
  listing->cancel();
  m.reset();
  return 0;
}

// ---- the front node ------------------------------------------------------------------

/// FNV-1a: rendezvous hashing needs the same hash on every run.
std::uint64_t fnv(std::string_view a, std::string_view b) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (std::string_view s : {a, std::string_view("|"), b}) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
  }
  return h;
}

using shard_map = std::map<std::string, troupe::endpoint<kv_shard>>;

/// The shards that hold `key`, best first (rendezvous hashing: removing a
/// shard leaves the others' order as it was).
std::vector<std::string> owners(const shard_map& s, const std::string& key) {
  std::vector<std::string> labels;
  for (const auto& [label, ep] : s) labels.push_back(label);
  std::sort(labels.begin(), labels.end(),
            [&](const std::string& a, const std::string& b) { return fnv(a, key) > fnv(b, key); });
  return labels;
}

std::string key_of(int i) { return "user:" + std::to_string(i); }
std::string value_of(int i, int round) {
  return "profile-" + std::to_string(i) + "-v" + std::to_string(round);
}

/// Reads what the listing holds now into `s`; returns the changes.
std::vector<std::string> follow(troupe::listing<kv_shard>& l, shard_map& s, troupe::duration wait) {
  std::vector<std::string> changes;
  for (int i = 0; i < 100; ++i) {
    auto e = l.next(i == 0 ? wait : 0ms).get();
    if (!e) break;
    if (e->what == troupe::listing_change::added) {
      s[e->label] = e->actor;
      changes.push_back("+" + e->label);
    } else {
      s.erase(e->label);
      changes.push_back("-" + e->label);
    }
  }
  return changes;
}

/// Writes keys [from, to) to every owner; returns the number of failures.
int write_keys(const shard_map& s, int from, int to, int round) {
  std::vector<troupe::response<bool>> pending;
  for (int i = from; i < to; ++i) {
    const auto o = owners(s, key_of(i));
    for (std::size_t c = 0; c < copies && c < o.size(); ++c)
      pending.push_back(s.at(o[c]).ask(put{key_of(i), value_of(i, round)}, 5s));
  }
  int failures = 0;
  for (auto& p : pending)
    if (!std::move(p).get()) ++failures;
  return failures;
}

struct read_report {
  int ok = 0;
  int wrong = 0;
  int fell_over = 0;  ///< served by a later owner after the first failed
  std::map<std::string, int> first_errors;
};

/// Reads every key, from its first owner, then the next on failure.
read_report read_keys(const shard_map& s, int count, int round) {
  read_report r;
  for (int i = 0; i < count; ++i) {
    const auto o = owners(s, key_of(i));
    for (std::size_t c = 0; c < o.size(); ++c) {
      auto got = s.at(o[c]).ask(get{key_of(i)}, 2s).get();
      if (got && got->present) {
        if (got->value == value_of(i, round)) {
          ++r.ok;
        } else {
          ++r.wrong;
        }
        if (c > 0) ++r.fell_over;
        break;
      }
      if (!got) ++r.first_errors[std::string(troupe::to_string(got.error().code()))];
    }
  }
  return r;
}

std::string describe(const read_report& r) {
  std::string s = std::to_string(r.ok) + " read back";
  if (r.fell_over > 0) s += " (" + std::to_string(r.fell_over) + " from their second copy)";
  for (const auto& [code, n] : r.first_errors) s += ", " + std::to_string(n) + " x " + code;
  return s;
}

int front_node() {
  const auto origin = std::chrono::steady_clock::now();
  journal.start(origin);
  const std::string origin_arg = std::to_string(origin.time_since_epoch().count());

  // The store processes start before this one starts any thread.
  std::vector<std::unique_ptr<node_process::child>> stores;
  std::vector<std::string> names;
  std::string seed;
  for (int i = 1; i <= store_count; ++i) {
    names.push_back("store-" + std::to_string(i));
    std::vector<std::string> args{names.back(), origin_arg};
    if (!seed.empty()) args.push_back(seed);
    stores.push_back(node_process::child::start(args));
    if (!stores.back()) return failed("cannot start " + names.back());
    std::optional<std::string> address = stores.back()->read_address(30s);
    if (!address) return failed(names.back() + " did not report its address");
    if (seed.empty()) seed = *address;
  }
  journal.say("front", "started " + std::to_string(store_count) +
                           " store processes; every node joins through store-1 at " + seed);

  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::chrono::steady_clock::time_point> victim_dead;
  int left = 0;

  auto m = std::make_unique<member>();
  if (auto r = join(*m, "front", {seed}); !r) return failed("front: " + r.error().message());
  narrate_members(*m, "front", true);
  m->cluster->members().subscribe([&](const troupe::cluster::member_event& e) {
    using kind = troupe::cluster::member_event::kind;
    std::lock_guard lock(mu);
    if (e.what == kind::dead && e.member.key.name == victim)
      victim_dead = std::chrono::steady_clock::now();
    if (e.what == kind::left) ++left;
    cv.notify_all();
  });

  // ---- 1. the shards, found in this node's own (replicated) registry
  auto listing = m->sys.receptionist().subscribe(shards);
  if (!listing) return failed("subscribe: " + listing.error().message());
  shard_map shard_set;
  const auto looking = std::chrono::steady_clock::now();
  while (shard_set.size() < static_cast<std::size_t>(store_count)) {
    if (std::chrono::steady_clock::now() - looking > 30s)
      return failed("only " + std::to_string(shard_set.size()) + " shards appeared");
    for (const std::string& c : follow(*listing, shard_set, 1s))
      journal.say("front", "registry: " + c.substr(1) + " added");
  }
  journal.say("front", "all " + std::to_string(store_count) + " shards found " + ms_since(looking) +
                           " after joining, without naming their nodes");

  // ---- 2. writes and reads
  auto t = std::chrono::steady_clock::now();
  if (int f = write_keys(shard_set, 0, key_count, 1); f != 0)
    return failed(std::to_string(f) + " writes failed");
  journal.say("front", "wrote " + std::to_string(key_count) + " keys, each on " +
                           std::to_string(copies) + " shards, in " + ms_since(t));
  t = std::chrono::steady_clock::now();
  read_report before = read_keys(shard_set, key_count, 1);
  journal.say("front", describe(before) + " in " + ms_since(t));
  if (before.ok != key_count) return failed("not every key read back");
  std::string spread;
  for (const auto& [label, ep] : shard_set) {
    auto n = ep.ask(shard_size{}, 5s).get();
    spread += " " + label.substr(9) + "=" + (n ? std::to_string(*n) : "?");
  }
  journal.say("front", "keys per shard:" + spread);

  // ---- 3. kill -9 one store, keep reading
  const std::size_t victim_index = 2;
  journal.say("front", std::string("kill -9 ") + victim + " (pid " +
                           std::to_string(stores[victim_index]->pid()) + ")");
  const auto killed = std::chrono::steady_clock::now();
  kill(stores[victim_index]->pid(), SIGKILL);
  read_report during = read_keys(shard_set, key_count, 1);
  journal.say("front", "reads right after the kill: " + describe(during));
  if (during.ok != key_count) return failed("keys were lost when a store died");

  {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, 15s, [&] { return victim_dead.has_value(); }))
      return failed(std::string(victim) + " was not declared dead");
    journal.say("front", std::string(victim) + " declared dead " +
                             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                *victim_dead - killed)
                                                .count()) +
                             " ms after the kill");
  }
  const std::string victim_label = std::string("kv/shard/") + victim;
  while (shard_set.count(victim_label) != 0) {
    if (std::chrono::steady_clock::now() - killed > 20s)
      return failed("the dead store's shard stayed in the registry");
    for (const std::string& c : follow(*listing, shard_set, 1s))
      journal.say("front", "registry: " + c.substr(1) + (c[0] == '+' ? " added" : " removed") +
                               " " + ms_since(killed) + " after the kill");
  }
  std::string who = " now:";
  for (const auto& [label, ep] : shard_set) who += " " + label.substr(9);
  journal.say("front", "shards" + who);

  // ---- 4. the keys that lost a copy get a new one; the store goes on
  t = std::chrono::steady_clock::now();
  if (int f = write_keys(shard_set, 0, key_count, 1); f != 0)
    return failed(std::to_string(f) + " re-replication writes failed");
  journal.say("front",
              "every key has " + std::to_string(copies) + " copies again (" + ms_since(t) + ")");
  if (int f = write_keys(shard_set, key_count, key_count + 500, 1); f != 0)
    return failed(std::to_string(f) + " new writes failed");
  read_report after = read_keys(shard_set, key_count + 500, 1);
  journal.say("front", "after the repair and 500 new keys: " + describe(after));
  if (after.ok != key_count + 500 || after.fell_over != 0)
    return failed("the store did not carry on whole");

  // ---- 5. the stores leave
  listing->cancel();
  bool clean = true;
  for (std::size_t i = 0; i < stores.size(); ++i) {
    std::string how;
    const bool exited = stores[i]->release(10s, &how);
    if (i != victim_index && !exited) clean = false;
    journal.say("front", names[i] + ": " + how);
  }
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return left >= store_count - 1; });
    journal.say("front", std::to_string(left) + " stores left the cluster with a goodbye");
  }
  m.reset();
  if (!clean) return failed("a store did not exit cleanly");
  journal.say("front", "done: every key stayed readable while a node died");
  return 0;
}

}  // namespace demo

int main(int argc, char** argv) {
  // Started by the front node as `<exe> --node <fd> <name> <origin> [seed]`.
  if (auto parent = node_process::parent_link::from_args(argc, argv, demo::time_limit_s + 10))
    return demo::store_node(*parent);
  node_process::arm_time_limit(demo::time_limit_s);
  return demo::front_node();
}
