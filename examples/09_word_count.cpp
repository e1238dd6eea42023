// 09_word_count: a word-frequency job shared by three troupe nodes, each an OS
// process of its own on this machine, talking over TCP on 127.0.0.1.
//
// The coordinator node (this process) starts two worker nodes, node-1 and
// node-2 (copies of this program, see node_process.hpp), connects to them
// and spawns two word-count workers on each (remote spawn). It splits a
// generated text of 600,000 words into 10 chunks and sends each chunk, words
// and all, to a worker; the workers reply with partial counts, which the
// coordinator hands to a local aggregator. Chunk 6 carries a poisoned record:
// worker-2 on node-2 throws on it, so that ask ends with handler_failed (the
// exception's text crosses the wire) and the worker dies; chunk 10, sent to
// the same worker after it, ends with actor_not_found. The coordinator
// watches every worker (one down each, across the network), re-dispatches
// both chunks to live workers, the poisoned one in lenient mode (skip
// malformed records), then stops the workers and lets the worker nodes go.
//
// The final counts are checked against a single-threaded count of the same
// text; the program exits 0 only if they match, every worker's down arrived
// exactly once and both worker processes exited cleanly. Every wait is
// bounded, and an alarm ends everything (the worker processes included)
// should something hang.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "node_process.hpp"
#include "troupe/net/node.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace demo {

/// Every run ends within this many seconds, whatever happens.
constexpr unsigned time_limit_s = 240;
constexpr std::string_view cookie = "troupe demo cluster secret";

// ---- the transcript ------------------------------------------------------------

/// Prints one transcript line at a time, stamped with the time since the
/// coordinator started (every process of the demo uses the same origin).
class transcript {
 public:
  void start(std::chrono::steady_clock::time_point origin) { start_ = origin; }
  void say(std::string_view who, const std::string& text) {
    std::lock_guard lock(mu_);  // one line at a time, stamped in print order
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
            .count();
    std::printf("%8.1f ms  %-18s %s\n", ms, ("[" + std::string(who) + "]").c_str(), text.c_str());
    std::fflush(stdout);  // one write per line: the processes' lines do not mix
  }

 private:
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_{};
};

transcript journal;     // NOLINT: one transcript per process
std::string this_node;  // NOLINT: the name of this process's node

// ---- the text ------------------------------------------------------------------

using corpus = std::vector<std::string>;
using word_counts = std::map<std::string, std::uint64_t>;

/// A record a strict worker refuses: it holds a control or non-ASCII byte.
bool malformed(std::string_view w) {
  return std::any_of(w.begin(), w.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c >= 0x7f;
  });
}

/// Lower-cases a word and keeps only its letters and apostrophes.
std::string normalize(std::string_view w) {
  std::string out;
  out.reserve(w.size());
  for (char ch : w) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    if ((ch >= 'a' && ch <= 'z') || ch == '\'') out.push_back(ch);
  }
  return out;
}

/// Generates `n` words (same seed, same text), with one malformed record at
/// index `poison_at`.
corpus make_corpus(std::size_t n, std::size_t poison_at) {
  static constexpr std::string_view vocabulary[] = {
      "the",    "actor",   "sends",  "a",       "message", "to",      "another",    "and",
      "waits",  "for",     "reply",  "mailbox", "of",      "every",   "thread",     "runs",
      "turn",   "in",      "order",  "is",      "never",   "shared",  "state",      "timer",
      "ticks",  "ask",     "tell",   "handler", "returns", "value",   "error",      "deadline",
      "passes", "worker",  "pool",   "steals",  "work",    "when",    "idle",       "parks",
      "system", "lane",    "stop",   "kill",    "drain",   "restart", "supervisor", "watches",
      "node",   "cluster", "gossip", "peer",    "it's",    "one",     "two",        "three"};
  constexpr std::size_t vocab = std::size(vocabulary);
  std::mt19937_64 gen(20240601);  // fixed seed: the same text on every run
  corpus text;
  text.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i == poison_at) {
      text.emplace_back("\x01\xff<poison>");
      continue;
    }
    // Squaring a uniform draw skews the choice toward the front of the list,
    // so some words are much more frequent than others.
    const double u = static_cast<double>(gen() >> 11) / static_cast<double>(1ULL << 53);
    std::string w(vocabulary[static_cast<std::size_t>(u * u * vocab)]);
    const std::uint64_t style = gen() % 20;
    if (style == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
    if (style == 1) w += ',';
    if (style == 2) w += '.';
    text.push_back(std::move(w));
  }
  return text;
}

// ---- messages ------------------------------------------------------------------
//
// count_words and chunk_result cross the network: they are plain aggregates
// with a wire name (the codec encodes their fields with no code from us).
// The others stay inside the coordinator's process.

struct chunk_result {
  int chunk = 0;
  std::string worker;
  std::string node;  ///< the node the worker runs on
  int pid = 0;       ///< and its process
  word_counts counts;
  std::uint64_t words = 0;
  std::uint64_t skipped = 0;  ///< malformed records left out (lenient mode)
};

/// Coordinator -> worker (on another node): count these words.
struct count_words {
  using reply = chunk_result;
  static constexpr std::string_view type_name = "demo.count_words";
  int chunk = 0;
  std::uint64_t first_word = 0;    ///< the index of words[0] in the whole text
  std::vector<std::string> words;  ///< the chunk itself: sent, not shared
  bool lenient = false;            ///< skip malformed records instead of failing
};

/// Coordinator -> aggregator: add one chunk's counts.
struct merge {
  static constexpr std::string_view type_name = "demo.merge";
  chunk_result part;
};

struct summary {
  word_counts counts;
  std::uint64_t words = 0;
  std::uint64_t skipped = 0;
  std::size_t chunks = 0;
};

struct get_summary {
  using reply = summary;
  static constexpr std::string_view type_name = "demo.get_summary";
};

/// Which worker, on which node and in which process, counted a chunk.
struct done_by {
  int chunk = 0;
  std::string worker;
  std::string node;
  int pid = 0;
};

struct job_report {
  summary totals;
  int redispatched = 0;
  std::vector<done_by> work;
};

/// Main -> coordinator: run the whole job.
struct run_job {
  using reply = job_report;
  static constexpr std::string_view type_name = "demo.run_job";
  std::shared_ptr<const corpus> text;
  std::size_t chunks;
};

// ---- actors --------------------------------------------------------------------

/// Counts words. Runs on a worker node, spawned there by the coordinator.
class worker : public troupe::actor<worker> {
 public:
  static constexpr std::string_view type_name = "demo.worker";  // its wire name
  using handles = troupe::handles<count_words>;
  explicit worker(std::string name) : name_(std::move(name)), tag_(this_node + "/" + name_) {}

  chunk_result handle(const count_words& m) {
    chunk_result r;
    r.chunk = m.chunk;
    r.worker = name_;
    r.node = this_node;
    r.pid = static_cast<int>(getpid());
    for (std::size_t i = 0; i < m.words.size(); ++i) {
      const std::string& w = m.words[i];
      if (malformed(w)) {
        const std::string at = std::to_string(m.first_word + i);
        if (!m.lenient) {
          journal.say(tag_, "failed: poisoned input in chunk " + std::to_string(m.chunk) +
                                " (malformed record at word " + at + ")");
          throw std::runtime_error("poisoned input: malformed record at word " + at);
        }
        ++r.skipped;
        continue;
      }
      ++r.counts[normalize(w)];
      ++r.words;
    }
    journal.say(tag_,
                "chunk " + std::to_string(m.chunk) + ": " + std::to_string(r.words) + " words, " +
                    std::to_string(r.counts.size()) + " distinct" +
                    (r.skipped ? ", " + std::to_string(r.skipped) + " malformed skipped" : ""));
    return r;
  }

  void post_stop(const troupe::exit_reason& why) {
    journal.say(tag_, "stopped: " + why.to_string());
  }

 private:
  std::string name_;
  std::string tag_;
};

class aggregator : public troupe::actor<aggregator> {
 public:
  using handles = troupe::handles<merge, get_summary>;
  explicit aggregator(std::size_t expected) : expected_(expected) {}

  void handle(const merge& m) {
    if (!merged_.insert(m.part.chunk).second) return;  // each chunk counts once
    for (const auto& [word, n] : m.part.counts) totals_.counts[word] += n;
    totals_.words += m.part.words;
    totals_.skipped += m.part.skipped;
    totals_.chunks = merged_.size();
    journal.say("aggregator", "merged chunk " + std::to_string(m.part.chunk) + " from " +
                                  m.part.worker + " on " + m.part.node + " (" +
                                  std::to_string(merged_.size()) + "/" + std::to_string(expected_) +
                                  ")");
  }
  summary handle(get_summary) { return totals_; }

 private:
  std::size_t expected_;
  std::set<int> merged_;
  summary totals_;
};

/// One worker as the coordinator knows it: a remote endpoint, a name and the
/// node it runs on.
struct worker_ref {
  troupe::endpoint<worker> ep;
  std::string name;
  std::string node;
};

class coordinator : public troupe::actor<coordinator> {
 public:
  using handles = troupe::handles<run_job>;
  coordinator(std::vector<worker_ref> workers, troupe::endpoint<aggregator> agg)
      : workers_(std::move(workers)), alive_(workers_.size(), true), aggregator_(std::move(agg)) {}

  // A coroutine handler: it dispatches every chunk at once, then awaits the
  // replies in chunk order, re-dispatching the chunks whose ask failed. The
  // workers are on other nodes; the code is the same as for local ones.
  troupe::task<job_report> handle(run_job m) {
    const std::size_t total = m.text->size();
    std::vector<count_words> chunks;
    std::vector<troupe::response<chunk_result>> pending;
    std::vector<std::size_t> assigned;
    for (std::size_t i = 0; i < m.chunks; ++i) {
      const std::size_t begin = total * i / m.chunks;
      const std::size_t end = total * (i + 1) / m.chunks;
      count_words c;
      c.chunk = static_cast<int>(i + 1);
      c.first_word = begin;
      c.words.assign(m.text->begin() + static_cast<std::ptrdiff_t>(begin),
                     m.text->begin() + static_cast<std::ptrdiff_t>(end));
      const std::size_t w = i % workers_.size();
      journal.say("coordinator", "dispatching chunk " + std::to_string(c.chunk) + " (" +
                                     std::to_string(c.words.size()) + " words) to " + name(w));
      pending.push_back(workers_[w].ep.ask(c, 60s));
      assigned.push_back(w);
      chunks.push_back(std::move(c));
    }

    job_report report;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      for (;;) {
        troupe::result<chunk_result> r = co_await pending[i];
        if (r) {
          report.work.push_back(done_by{r->chunk, r->worker, r->node, r->pid});
          merge part{std::move(*r)};
          aggregator_.tell(std::move(part));
          break;
        }
        const troupe::error& e = r.error();
        journal.say("coordinator", "chunk " + std::to_string(chunks[i].chunk) + " on " +
                                       name(assigned[i]) + " ended with " + e.message());
        // The worker failed, ended, or its node was lost: use the others.
        if (e == troupe::errc::handler_failed || e == troupe::errc::actor_not_found ||
            e == troupe::errc::node_down) {
          if (alive_[assigned[i]]) journal.say("coordinator", name(assigned[i]) + " is gone");
          alive_[assigned[i]] = false;
        }
        if (e == troupe::errc::handler_failed) chunks[i].lenient = true;
        const std::size_t w = next_alive();
        journal.say("coordinator",
                    "re-dispatching chunk " + std::to_string(chunks[i].chunk) + " to " + name(w) +
                        (chunks[i].lenient ? " (lenient: skip malformed records)" : ""));
        pending[i] = workers_[w].ep.ask(chunks[i], 60s);
        assigned[i] = w;
        ++report.redispatched;
      }
    }

    // Merges and this ask travel from the same sender to the same actor, so
    // they arrive in order: the summary includes every merge.
    get_summary query;
    troupe::response<summary> totals = aggregator_.ask(query);
    troupe::result<summary> s = co_await totals;
    if (!s) throw std::runtime_error("no summary: " + s.error().message());
    report.totals = std::move(*s);
    journal.say("coordinator", "all " + std::to_string(report.totals.chunks) + " chunks merged");
    co_return report;
  }

 private:
  std::string name(std::size_t w) const { return workers_[w].name + " on " + workers_[w].node; }

  /// Returns the next live worker after the last one chosen, round robin.
  std::size_t next_alive() {
    for (std::size_t k = 0; k < workers_.size(); ++k) {
      cursor_ = (cursor_ + 1) % workers_.size();
      if (alive_[cursor_]) return cursor_;
    }
    throw std::runtime_error("no live worker left");
  }

  std::vector<worker_ref> workers_;
  std::vector<bool> alive_;
  troupe::endpoint<aggregator> aggregator_;
  std::size_t cursor_ = 1;
};

// ---- nodes ---------------------------------------------------------------------

/// Starts this process's node (it makes its own TCP transport); `listen`
/// empty: it only dials out.
/// Both sides list the worker (the coordinator to talk to it, the worker
/// nodes to let others spawn it from a name).
troupe::result<std::unique_ptr<troupe::net::node>> start_node(troupe::system& sys,
                                                              std::string listen) {
  troupe::net::remote_types types;
  if (troupe::result<void> r = types.add_spawnable<worker, std::string>(); !r) return r.error();
  troupe::net::node_config cfg;
  cfg.name = this_node;
  cfg.listen = std::move(listen);
  cfg.cookie = std::string(cookie);
  cfg.log = [](std::string_view line) { journal.say(this_node, "log: " + std::string(line)); };
  return troupe::net::node::start(sys, std::move(cfg), std::move(types));  // over TCP
}

/// A worker node's process (`<exe> --node <fd> <name> <origin>`): serves
/// until the coordinator lets it go.
int worker_node(const node_process::parent_link& parent) {
  if (parent.args().size() != 2) return 2;
  this_node = parent.args()[0];
  journal.start(std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(std::stoll(parent.args()[1]))));
  troupe::system sys;
  auto node = start_node(sys, "127.0.0.1:0");
  if (!node) {
    std::fprintf(stderr, "FAILED: %s: %s\n", this_node.c_str(), node.error().message().c_str());
    return 1;
  }
  journal.say(this_node,
              "pid " + std::to_string(getpid()) + ", listening on " + (*node)->address());
  if (!parent.report((*node)->address())) return 1;
  parent.wait_for_release();
  journal.say(this_node, "released: stopping the node");
  (*node)->stop();
  return 0;
}

/// Watches the workers: counts their downs (exactly one each, across the
/// network) and waits, bounded, for a number of them.
class down_counter {
 public:
  void add(troupe::system& sys, const worker_ref& w) {
    std::string who = w.name + " on " + w.node;
    watches_.push_back(sys.watch(w.ep, [this, who](const troupe::down& d) {
      journal.say("coordinator", "down: " + who + " (" + d.reason.to_string() + ")");
      std::lock_guard lock(mu_);
      ++(d.reason.what() == troupe::exit_reason::kind::normal ? normal_ : other_);
      cv_.notify_all();
    }));
  }
  bool wait_for(int n, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return normal_ + other_ >= n; });
  }
  std::pair<int, int> counts() {
    std::lock_guard lock(mu_);
    return {normal_, other_};
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int normal_ = 0;
  int other_ = 0;
  std::vector<troupe::watch_ref> watches_;
};

// ---- the coordinator -------------------------------------------------------------

int fail(const std::string& what) {
  std::printf("\nverdict: FAILED: %s\n", what.c_str());
  return 1;
}

int coordinate() {
  constexpr std::size_t words = 600'000;
  constexpr std::size_t chunks = 10;
  constexpr std::size_t worker_nodes = 2;
  constexpr std::size_t workers = 4;
  // The poisoned record lies in chunk 6, which goes to worker-2 (on node-2).
  constexpr std::size_t poison_at = words * 5 / chunks + 12'345;

  this_node = "coordinator";
  const auto origin = std::chrono::steady_clock::now();
  journal.start(origin);
  std::printf(
      "troupe demo: counting %zu words in %zu chunks with %zu workers on %zu worker nodes\n\n",
      words, chunks, workers, worker_nodes);

  // Start the worker nodes' processes before this one starts any thread.
  std::vector<std::unique_ptr<node_process::child>> procs;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < worker_nodes; ++i) {
    names.push_back("node-" + std::to_string(i + 1));
    std::vector<std::string> args{names.back(), std::to_string(origin.time_since_epoch().count())};
    procs.push_back(node_process::child::start(args));
    if (!procs.back()) return fail("cannot start " + names.back());
    journal.say("coordinator",
                "started " + names.back() + " as pid " + std::to_string(procs.back()->pid()));
  }
  std::vector<std::string> addresses;
  for (std::size_t i = 0; i < worker_nodes; ++i) {
    std::optional<std::string> a = procs[i]->read_address(30s);
    if (!a) return fail(names[i] + " did not report its address");
    addresses.push_back(*a);
  }

  auto text = std::make_shared<const corpus>(make_corpus(words, poison_at));
  // The answer to check against: one thread, no actors.
  word_counts expected;
  std::uint64_t expected_words = 0;
  for (const std::string& w : *text) {
    if (malformed(w)) continue;
    ++expected[normalize(w)];
    ++expected_words;
  }

  // Declared before the system and the node: a watch callback may run until
  // the node has stopped.
  down_counter downs;
  troupe::system sys;  // the real work-stealing pool, one worker per hardware thread
  auto started = start_node(sys, "");
  if (!started) return fail("coordinator node: " + started.error().message());
  std::unique_ptr<troupe::net::node> node = std::move(*started);

  for (std::size_t i = 0; i < worker_nodes; ++i) {
    troupe::result<std::string> peer = node->connect(addresses[i]).get();
    if (!peer) return fail("connect to " + addresses[i] + ": " + peer.error().message());
    journal.say("coordinator", "connected to " + *peer + " at " + addresses[i]);
  }

  // Two workers per node, alternating: worker-1 on node-1, worker-2 on
  // node-2, and so on. Each is checked in on its node as wordcount/<name>.
  std::vector<worker_ref> pool;
  for (std::size_t i = 0; i < workers; ++i) {
    const std::string name = "worker-" + std::to_string(i + 1);
    const std::string& on = names[i % worker_nodes];
    troupe::result<troupe::endpoint<worker>> ep =
        node->spawn_on<worker>(on, "wordcount/" + name, name).get();
    if (!ep) return fail("spawn " + name + " on " + on + ": " + ep.error().message());
    journal.say("coordinator", "spawned " + name + " on " + on);
    pool.push_back(worker_ref{*ep, name, on});
    downs.add(sys, pool.back());
  }

  auto agg = sys.spawn<aggregator>(chunks).value();
  auto coord = sys.spawn<coordinator>(pool, agg).value();

  run_job job{.text = text, .chunks = chunks};
  troupe::result<job_report> report = coord.ask(job, 120s).get();
  if (!report) return fail("the job ended with " + report.error().message());
  const summary& got = report->totals;

  // The poisoned worker's down has arrived or is on its way; stop the others.
  journal.say("coordinator", "stopping the workers");
  for (const worker_ref& w : pool) w.ep.stop();
  const bool all_down = downs.wait_for(static_cast<int>(workers), 30s);
  node->stop();  // a watch still active would fire now: the counts must not move
  const auto [normal_downs, other_downs] = downs.counts();

  bool processes_clean = true;
  for (std::size_t i = 0; i < worker_nodes; ++i) {
    std::string how;
    processes_clean = procs[i]->release(10s, &how) && processes_clean;
    journal.say("coordinator", names[i] + " (pid " + std::to_string(procs[i]->pid()) + ") " + how);
  }
  troupe::shutdown_report down = sys.shutdown(5s);

  std::vector<std::pair<std::uint64_t, std::string>> top;
  for (const auto& [w, n] : got.counts) top.emplace_back(n, w);
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::printf("\ntop words:\n");
  for (std::size_t i = 0; i < std::min<std::size_t>(8, top.size()); ++i) {
    std::printf("  %-10s %7llu\n", top[i].second.c_str(),
                static_cast<unsigned long long>(top[i].first));
  }

  // Who did what: every chunk was counted in a worker node's process.
  std::printf("\nwho counted what:\n");
  bool work_remote = report->work.size() == chunks;
  for (std::size_t n = 0; n < worker_nodes; ++n) {
    std::printf("  %s (pid %d):\n", names[n].c_str(), static_cast<int>(procs[n]->pid()));
    for (const worker_ref& w : pool) {
      if (w.node != names[n]) continue;
      std::string line;
      for (const done_by& d : report->work) {
        if (d.worker != w.name) continue;
        line += " " + std::to_string(d.chunk);
        if (d.node != names[n] || d.pid != static_cast<int>(procs[n]->pid())) work_remote = false;
      }
      std::printf("    %s: chunks%s\n", w.name.c_str(), line.empty() ? " none" : line.c_str());
    }
  }

  const bool counts_match = got.counts == expected;
  const bool totals_match = got.words == expected_words && got.skipped == 1;
  const bool downs_ok = all_down && normal_downs == 3 && other_downs == 1;
  std::printf("\nchunks merged:        %zu of %zu\n", got.chunks, chunks);
  std::printf("chunks re-dispatched: %d\n", report->redispatched);
  std::printf("words counted:        %llu (single-threaded count: %llu)\n",
              static_cast<unsigned long long>(got.words),
              static_cast<unsigned long long>(expected_words));
  std::printf("malformed skipped:    %llu\n", static_cast<unsigned long long>(got.skipped));
  std::printf("distinct words:       %zu (single-threaded count: %zu)\n", got.counts.size(),
              expected.size());
  std::printf("worker downs:         %d stopped, %d failed (one each, expected 3 and 1)\n",
              normal_downs, other_downs);
  std::printf("worker nodes:         %s\n",
              processes_clean ? "both exited with status 0" : "did NOT exit cleanly");
  std::printf("shutdown:             %s\n", down.clean() ? "clean" : "NOT clean");

  const bool ok = counts_match && totals_match && got.chunks == chunks && work_remote && downs_ok &&
                  processes_clean && down.clean();
  std::printf("\nverdict: %s\n",
              ok ? "PASS: the nodes' counts match the single-threaded count"
                 : "FAIL: the nodes' counts differ from the single-threaded count, or a node "
                   "did not end cleanly");
  return ok ? 0 : 1;
}

}  // namespace demo

int main(int argc, char** argv) {
  // Started by the coordinator as `<exe> --node <fd> <name> <origin>`.
  if (auto parent = node_process::parent_link::from_args(argc, argv, demo::time_limit_s + 10))
    return demo::worker_node(*parent);
  node_process::arm_time_limit(demo::time_limit_s);
  return demo::coordinate();
}
