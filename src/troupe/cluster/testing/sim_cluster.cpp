#include "troupe/cluster/testing/sim_cluster.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

namespace troupe::cluster::testing {

using namespace std::chrono_literals;

namespace {

// Joins strings with += (g++ 12 warns wrongly about "literal" + std::string).
template <class... T>
std::string cat(const T&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

std::string seconds(duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", std::chrono::duration<double>(d).count());
  return buf;
}

std::string short_incarnation(std::uint64_t inc) { return std::to_string(inc % 10000); }

}  // namespace

sim_cluster_error::sim_cluster_error(troupe::error e)
    : std::runtime_error(cat("sim_cluster: ", e.message())), error_(std::move(e)) {}

// One life of a node: from a start to the crash that ends it. Members are
// destroyed in reverse order (member, node, host, system), as they must be.
struct sim_cluster::life {
  std::uint64_t incarnation = 0;
  std::unique_ptr<troupe::system> sys;
  std::shared_ptr<transport> host;
  std::unique_ptr<net::node> node;
  std::unique_ptr<cluster> member;
  time_point crashed = time_point::max();
  // The transcript's listeners (0: none).
  std::uint64_t member_listener = 0;
  std::uint64_t node_listener = 0;
};

struct sim_cluster::slot {
  std::string name;
  std::vector<life> lives;
  bool up = false;
  bool frozen = false;
};

sim_cluster::sim_cluster(sim_cluster_config config)
    : config_(std::move(config)),
      rt_(config_.seed),
      net_(rt_, config_.network),
      // Incarnations come from a stream of their own: whatever a test draws
      // from the runtime's random source, a node's incarnation stays.
      incarnations_(config_.seed * 0x9e3779b97f4a7c15ULL + 0x5eedULL),
      t0_(rt_.now()) {
  if (config_.port == 0) fail(errc::invalid_argument, "port 0: the nodes need a known port");
  try {
    for (std::size_t i = 0; i < config_.nodes; ++i) {
      std::vector<std::string> seeds;
      if (i != 0) seeds.push_back(address(0));
      nodes_.push_back(std::make_unique<slot>());
      nodes_.back()->name = cat(config_.prefix, std::to_string(i));
      start_life(i, std::move(seeds));
    }
  } catch (...) {
    teardown();
    throw;
  }
}

sim_cluster::~sim_cluster() { teardown(); }

void sim_cluster::teardown() noexcept {
  // Every member first, then every node, then every system: a node that
  // stops says goodbye to members that are still running.
  for (auto& s : nodes_)
    for (auto& l : s->lives)
      if (l.member) l.member->stop();
  for (auto& s : nodes_)
    for (auto& l : s->lives)
      if (l.node) l.node->stop();
  for (auto& s : nodes_)
    for (auto& l : s->lives)
      if (l.sys) l.sys->shutdown(1s);
  nodes_.clear();
}

std::size_t sim_cluster::add() {
  const std::size_t i = nodes_.size();
  std::vector<std::string> seeds;
  for (std::size_t j : up()) seeds.push_back(address(j));
  nodes_.push_back(std::make_unique<slot>());
  nodes_.back()->name = cat(config_.prefix, std::to_string(i));
  try {
    start_life(i, std::move(seeds));
  } catch (...) {
    // A node that did not start is not kept; one whose on_start threw is.
    if (nodes_.back()->lives.empty()) nodes_.pop_back();
    throw;
  }
  return i;
}

void sim_cluster::start_life(std::size_t i, std::vector<std::string> seeds) {
  slot& s = *nodes_[i];
  life l;
  l.incarnation = 1 + incarnations_.below(std::uint64_t{1} << 62);
  net::node_config cfg;
  cfg.cookie = config_.cookie;
  cfg.log = config_.log ? config_.log : [](std::string_view) {};
  if (config_.node_setup) config_.node_setup(i, cfg);
  cfg.name = s.name;
  cfg.listen = address(i);
  cfg.incarnation = l.incarnation;
  net::remote_types types;
  if (config_.types) {
    auto made = config_.types();
    if (!made)
      fail(made.error().code(), cat(s.name, ": the remote types: ", made.error().message()));
    types = std::move(*made);
  }
  l.sys = std::make_unique<troupe::system>(rt_.config());
  l.host = net_.host(s.name);  // restarts a crashed host
  auto nd = net::node::start(*l.sys, cfg, std::move(types), l.host);
  if (!nd) {
    l.sys->shutdown(1s);
    fail(nd.error().code(), cat(s.name, ": the node does not start: ", nd.error().message()));
  }
  l.node = std::move(*nd);
  cluster_config cc;
  cc.seeds = std::move(seeds);
  if (config_.cluster_setup) config_.cluster_setup(i, cc);
  auto m = cluster::start(rt_.clock(), rt_.random(), *l.host, *l.node, cc);
  if (!m) {
    l.node->stop();
    l.sys->shutdown(1s);
    fail(m.error().code(), cat(s.name, ": the member does not start: ", m.error().message()));
  }
  l.member = std::move(*m);
  if (config_.record) {
    const std::string self = s.name;
    l.member_listener = l.member->members().subscribe([this, self](const member_event& e) {
      note(cat(self, " sees ", e.member.key.name, "#", short_incarnation(e.member.key.generation),
               " ", to_string(e.what), " inc ", std::to_string(e.member.incarnation)));
    });
    l.node_listener = l.node->subscribe([this, self](const net::node_event& e) {
      if (e.what == net::node_event::kind::connected) return;
      const bool authenticated = e.what == net::node_event::kind::authenticated;
      note(cat(self, authenticated ? " session up " : " session down ", e.node, " ", e.reason));
    });
  }
  s.lives.push_back(std::move(l));
  s.up = true;
  s.frozen = false;
  note(cat("start ", s.name, "#", short_incarnation(s.lives.back().incarnation), " incarnation ",
           std::to_string(s.lives.back().incarnation)));
  if (config_.on_start) config_.on_start(*this, i);
}

// ---- nodes -------------------------------------------------------------------

const sim_cluster::slot& sim_cluster::at(std::size_t i) const {
  if (i >= nodes_.size()) {
    if (nodes_.empty()) fail(errc::invalid_argument, cat("no node ", std::to_string(i), ": none"));
    fail(errc::invalid_argument, cat("no node ", std::to_string(i), " (the nodes are 0 to ",
                                     std::to_string(nodes_.size() - 1), ")"));
  }
  return *nodes_[i];
}

sim_cluster::slot& sim_cluster::at(std::size_t i) {
  return const_cast<slot&>(std::as_const(*this).at(i));
}

const sim_cluster::slot& sim_cluster::up_at(std::size_t i, std::string_view call) const {
  const slot& s = at(i);
  if (!s.up)
    fail(errc::node_down, cat(call, "(", std::to_string(i), "): ", s.name, " is down (crashed at ",
                              seconds(s.lives.back().crashed - t0_), " s; restart(",
                              std::to_string(i), ") starts it again)"));
  return s;
}

sim_cluster::slot& sim_cluster::up_at(std::size_t i, std::string_view call) {
  return const_cast<slot&>(std::as_const(*this).up_at(i, call));
}

const std::string& sim_cluster::name(std::size_t i) const { return at(i).name; }

std::string sim_cluster::address(std::size_t i) const {
  return cat(at(i).name, ":", std::to_string(config_.port));
}

bool sim_cluster::is_up(std::size_t i) const { return at(i).up; }

std::vector<std::size_t> sim_cluster::up() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->up) out.push_back(i);
  return out;
}

troupe::system& sim_cluster::sys(std::size_t i) { return *up_at(i, "sys").lives.back().sys; }

net::node& sim_cluster::node(std::size_t i) { return *up_at(i, "node").lives.back().node; }

cluster& sim_cluster::member(std::size_t i) { return *up_at(i, "member").lives.back().member; }

std::uint64_t sim_cluster::incarnation(std::size_t i) const {
  return at(i).lives.back().incarnation;
}

member_key sim_cluster::key(std::size_t i) const {
  const slot& s = at(i);
  return member_key{s.name, s.lives.back().incarnation};
}

std::size_t sim_cluster::lives(std::size_t i) const { return at(i).lives.size(); }

std::uint64_t sim_cluster::incarnation(std::size_t i, std::size_t life) const {
  const slot& s = at(i);
  if (life >= s.lives.size())
    fail(errc::invalid_argument, cat("no life ", std::to_string(life), " of ", s.name, " (it has ",
                                     std::to_string(s.lives.size()), ")"));
  return s.lives[life].incarnation;
}

troupe::system& sim_cluster::sys(std::size_t i, std::size_t life) {
  (void)incarnation(i, life);  // checks both numbers
  return *nodes_[i]->lives[life].sys;
}

// ---- faults ------------------------------------------------------------------

void sim_cluster::crash(std::size_t i, crash_mode how) {
  slot& s = up_at(i, "crash");
  life& l = s.lives.back();
  note(cat("crash ", s.name, "#", short_incarnation(l.incarnation),
           how == crash_mode::process ? " (process)" : " (machine)"));
  // The network first: from here on nothing of this life reaches anyone,
  // so stopping its member and node below sends no goodbye.
  net_.crash(s.name);
  l.crashed = rt_.now();
  // A dead process records nothing more (not even its own sessions ending).
  if (l.member_listener != 0) l.member->members().unsubscribe(l.member_listener);
  if (l.node_listener != 0) l.node->unsubscribe(l.node_listener);
  l.member->stop();
  l.node->stop();
  l.host.reset();
  s.up = false;
  s.frozen = false;
  // A killed process leaves its machine up: dials to it are refused.
  if (how == crash_mode::process) (void)net_.host(s.name);
}

void sim_cluster::restart(std::size_t i) {
  slot& s = at(i);
  if (s.up)
    fail(errc::invalid_argument, cat("restart(", std::to_string(i), "): ", s.name, " is up (crash(",
                                     std::to_string(i), ") first)"));
  std::vector<std::string> seeds;
  for (std::size_t j : up()) seeds.push_back(address(j));
  start_life(i, std::move(seeds));
}

void sim_cluster::freeze(std::size_t i) {
  slot& s = up_at(i, "freeze");
  if (s.frozen)
    fail(errc::invalid_argument,
         cat("freeze(", std::to_string(i), "): ", s.name, " is frozen already"));
  note(cat("freeze ", s.name));
  net_.freeze(s.name);
  s.frozen = true;
}

void sim_cluster::thaw(std::size_t i) {
  slot& s = up_at(i, "thaw");
  if (!s.frozen)
    fail(errc::invalid_argument, cat("thaw(", std::to_string(i), "): ", s.name, " is not frozen"));
  note(cat("thaw ", s.name));
  net_.thaw(s.name);
  s.frozen = false;
}

std::vector<std::string> sim_cluster::names(const std::vector<std::size_t>& who) const {
  std::vector<std::string> out;
  out.reserve(who.size());
  for (std::size_t i : who) out.push_back(at(i).name);
  return out;
}

void sim_cluster::partition(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  const auto left = names(a);
  const auto right = names(b);
  std::string line = "partition";
  for (const auto& n : left) line += cat(" ", n);
  line += " |";
  for (const auto& n : right) line += cat(" ", n);
  note(line);
  net_.partition(left, right);
}

void sim_cluster::partition_one_way(std::size_t from, std::size_t to) {
  note(cat("one-way partition ", name(from), " -> ", name(to)));
  net_.partition_one_way(name(from), name(to));
}

void sim_cluster::heal() {
  note("heal");
  net_.heal();
}

// ---- time --------------------------------------------------------------------

void sim_cluster::run() { (void)rt_.run(); }

void sim_cluster::advance(duration d) { rt_.advance(d); }

void sim_cluster::fail_wait(std::string_view what, duration limit, duration from) const {
  fail(errc::timeout, cat("not within ", seconds(limit), " s (waited from ", seconds(from),
                          " s to ", seconds(elapsed()), " s): ", what));
}

void sim_cluster::fail(errc code, std::string detail) const {
  throw sim_cluster_error(troupe::error(code, std::move(detail)));
}

// ---- what the nodes see ------------------------------------------------------

bool sim_cluster::sees(std::size_t observer, std::size_t m, member_state state) const {
  const slot& o = up_at(observer, "sees");
  auto info = o.lives.back().member->members().find(key(m));
  return info && info->state == state;
}

bool sim_cluster::all_see(const std::vector<std::size_t>& who, std::size_t m,
                          member_state state) const {
  return std::all_of(who.begin(), who.end(), [&](std::size_t i) { return sees(i, m, state); });
}

bool sim_cluster::one_view() const {
  const auto live = up();
  for (std::size_t i : live) {
    const slot& s = *nodes_[i];
    std::size_t alive = 0;
    for (const auto& m : s.lives.back().member->members().members()) {
      if (m.key.name == s.name) continue;
      bool current = false;
      for (std::size_t j : live)
        if (m.key == key(j)) current = true;
      if (current) {
        if (m.state != member_state::alive) return false;
        ++alive;
      } else if (m.state != member_state::dead && m.state != member_state::left) {
        return false;
      }
    }
    if (alive + 1 != live.size()) return false;
  }
  return true;
}

bool sim_cluster::full_mesh(const std::vector<std::size_t>& who) const {
  for (std::size_t i : who) {
    const auto peers = up_at(i, "full_mesh").lives.back().node->peers();
    for (std::size_t j : who)
      if (j != i && std::find(peers.begin(), peers.end(), at(j).name) == peers.end()) return false;
  }
  return true;
}

bool sim_cluster::same_registry(const std::vector<std::size_t>& who) const {
  return same_digest(who, "same_registry",
                     [](troupe::system& s) { return s.receptionist().digest(); });
}

bool sim_cluster::same_groups(const std::vector<std::size_t>& who) const {
  return same_digest(who, "same_groups", [](troupe::system& s) { return s.groups().digest(); });
}

bool sim_cluster::same_digest(const std::vector<std::size_t>& who, std::string_view what,
                              std::uint64_t (*digest)(troupe::system&)) const {
  if (who.empty()) return true;
  const std::uint64_t first = digest(*up_at(who[0], what).lives.back().sys);
  for (std::size_t i : who)
    if (digest(*up_at(i, what).lives.back().sys) != first) return false;
  return true;
}

// ---- the transcript ----------------------------------------------------------

void sim_cluster::note(std::string_view what) {
  if (!config_.record) return;
  log_.push_back(cat(seconds(elapsed()), " s  ", what));
}

}  // namespace troupe::cluster::testing
