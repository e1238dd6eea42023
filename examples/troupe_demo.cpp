// troupe_demo: a word-frequency job run by cooperating actors.
//
// A coordinator splits a generated text of 600,000 words into 10 chunks and
// asks a pool of 4 worker actors (on the real thread pool) to count them. The
// workers reply with partial counts, which the coordinator hands to an
// aggregator. Chunk 6 carries a poisoned record: the worker that gets it
// throws, so that ask ends with handler_failed and the worker dies; the chunk
// queued behind it on the same worker ends with actor_not_found. The
// coordinator re-dispatches both to live workers, the poisoned one in lenient
// mode (skip malformed records). The final counts are checked against a
// single-threaded count of the same text; the program exits 0 only if they
// match.

#include <algorithm>
#include <chrono>
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

#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

// Named, not anonymous: clang warns about the unused type_name of messages in
// an anonymous namespace (the local runtime does not read it yet).
namespace demo {

// ---- the transcript ------------------------------------------------------------

/// Prints one transcript line at a time, stamped with the time since start.
class transcript {
 public:
  void start(const troupe::clock& c) {
    clock_ = &c;
    start_ = c.now();
  }
  void say(std::string_view who, const std::string& text) {
    std::lock_guard lock(mu_);  // one line at a time, stamped in print order
    const double ms = std::chrono::duration<double, std::milli>(clock_->now() - start_).count();
    std::printf("%8.1f ms  %-13s %s\n", ms, ("[" + std::string(who) + "]").c_str(), text.c_str());
    std::fflush(stdout);
  }

 private:
  std::mutex mu_;
  const troupe::clock* clock_ = nullptr;
  troupe::time_point start_{};
};

transcript journal;  // NOLINT: one transcript for the whole program

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

struct chunk_result {
  int chunk = 0;
  std::string worker;
  word_counts counts;
  std::uint64_t words = 0;
  std::uint64_t skipped = 0;  ///< malformed records left out (lenient mode)
};

/// Coordinator -> worker: count the words [begin, end) of the shared text.
struct count_words {
  using reply = chunk_result;
  static constexpr std::string_view type_name = "demo.count_words";
  int chunk;
  std::shared_ptr<const corpus> text;  // shared and read-only: a local send never copies it
  std::size_t begin;
  std::size_t end;
  bool lenient;  ///< skip malformed records instead of failing
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

struct job_report {
  summary totals;
  int redispatched = 0;
};

/// Main -> coordinator: run the whole job.
struct run_job {
  using reply = job_report;
  static constexpr std::string_view type_name = "demo.run_job";
  std::shared_ptr<const corpus> text;
  std::size_t chunks;
};

// ---- actors --------------------------------------------------------------------

class worker : public troupe::actor<worker> {
 public:
  using handles = troupe::handles<count_words>;
  explicit worker(std::string name) : name_(std::move(name)) {}

  chunk_result handle(const count_words& m) {
    chunk_result r;
    r.chunk = m.chunk;
    r.worker = name_;
    const corpus& text = *m.text;
    for (std::size_t i = m.begin; i < m.end; ++i) {
      if (malformed(text[i])) {
        if (!m.lenient) {
          journal.say(name_, "failed: poisoned input in chunk " + std::to_string(m.chunk) +
                                 " (malformed record at word " + std::to_string(i) + ")");
          throw std::runtime_error("poisoned input: malformed record at word " + std::to_string(i));
        }
        ++r.skipped;
        continue;
      }
      ++r.counts[normalize(text[i])];
      ++r.words;
    }
    journal.say(name_,
                "chunk " + std::to_string(m.chunk) + ": " + std::to_string(r.words) + " words, " +
                    std::to_string(r.counts.size()) + " distinct" +
                    (r.skipped ? ", " + std::to_string(r.skipped) + " malformed skipped" : ""));
    return r;
  }

  void post_stop(const troupe::exit_reason& why) {
    journal.say(name_, "stopped: " + why.to_string());
  }

 private:
  std::string name_;
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
                                  m.part.worker + " (" + std::to_string(merged_.size()) + "/" +
                                  std::to_string(expected_) + ")");
  }
  summary handle(get_summary) { return totals_; }

 private:
  std::size_t expected_;
  std::set<int> merged_;
  summary totals_;
};

class coordinator : public troupe::actor<coordinator> {
 public:
  using handles = troupe::handles<run_job>;
  coordinator(std::vector<troupe::endpoint<worker>> workers, troupe::endpoint<aggregator> agg)
      : workers_(std::move(workers)), alive_(workers_.size(), true), aggregator_(std::move(agg)) {}

  // A coroutine handler: it dispatches every chunk at once, then awaits the
  // replies in chunk order, re-dispatching the chunks whose ask failed.
  troupe::task<job_report> handle(run_job m) {
    const std::size_t total = m.text->size();
    std::vector<count_words> chunks;
    std::vector<troupe::response<chunk_result>> pending;
    std::vector<std::size_t> assigned;
    for (std::size_t i = 0; i < m.chunks; ++i) {
      count_words c{.chunk = static_cast<int>(i + 1),
                    .text = m.text,
                    .begin = total * i / m.chunks,
                    .end = total * (i + 1) / m.chunks,
                    .lenient = false};
      const std::size_t w = i % workers_.size();
      journal.say("coordinator", "dispatching chunk " + std::to_string(c.chunk) + " to " + name(w));
      pending.push_back(workers_[w].ask(c, 10s));
      assigned.push_back(w);
      chunks.push_back(std::move(c));
    }

    job_report report;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      for (;;) {
        troupe::result<chunk_result> r = co_await pending[i];
        if (r) {
          merge part{std::move(*r)};
          aggregator_.tell(std::move(part));
          break;
        }
        const troupe::error& e = r.error();
        journal.say("coordinator", "chunk " + std::to_string(chunks[i].chunk) + " on " +
                                       name(assigned[i]) + " ended with " + e.message());
        if (e == troupe::errc::handler_failed || e == troupe::errc::actor_not_found) {
          if (alive_[assigned[i]]) journal.say("coordinator", name(assigned[i]) + " is gone");
          alive_[assigned[i]] = false;
        }
        if (e == troupe::errc::handler_failed) chunks[i].lenient = true;
        const std::size_t w = next_alive();
        journal.say("coordinator",
                    "re-dispatching chunk " + std::to_string(chunks[i].chunk) + " to " + name(w) +
                        (chunks[i].lenient ? " (lenient: skip malformed records)" : ""));
        pending[i] = workers_[w].ask(chunks[i], 10s);
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
  static std::string name(std::size_t w) { return "worker-" + std::to_string(w + 1); }

  /// Returns the next live worker after the last one chosen, round robin.
  std::size_t next_alive() {
    for (std::size_t k = 0; k < workers_.size(); ++k) {
      cursor_ = (cursor_ + 1) % workers_.size();
      if (alive_[cursor_]) return cursor_;
    }
    throw std::runtime_error("no live worker left");
  }

  std::vector<troupe::endpoint<worker>> workers_;
  std::vector<bool> alive_;
  troupe::endpoint<aggregator> aggregator_;
  std::size_t cursor_ = 1;
};

}  // namespace demo

int main() {
  using namespace demo;
  constexpr std::size_t words = 600'000;
  constexpr std::size_t chunks = 10;
  constexpr std::size_t workers = 4;
  // The poisoned record lies in chunk 6, which goes to worker-2.
  constexpr std::size_t poison_at = words * 5 / chunks + 12'345;

  auto text = std::make_shared<const corpus>(make_corpus(words, poison_at));

  // The answer to check against: one thread, no actors.
  word_counts expected;
  std::uint64_t expected_words = 0;
  for (const std::string& w : *text) {
    if (malformed(w)) continue;
    ++expected[normalize(w)];
    ++expected_words;
  }

  troupe::system sys;  // the real work-stealing pool, one worker per hardware thread
  journal.start(sys.time());
  std::printf("troupe demo: counting %zu words in %zu chunks with %zu worker actors\n\n", words,
              chunks, workers);

  std::vector<troupe::endpoint<worker>> pool;
  for (std::size_t i = 0; i < workers; ++i) {
    pool.push_back(sys.spawn<worker>("worker-" + std::to_string(i + 1)).value());
  }
  auto agg = sys.spawn<aggregator>(chunks).value();
  auto coord = sys.spawn<coordinator>(pool, agg).value();

  run_job job{.text = text, .chunks = chunks};
  troupe::result<job_report> report = coord.ask(job, 30s).get();
  if (!report) {
    std::printf("\nverdict: FAILED: the job ended with %s\n", report.error().message().c_str());
    return 1;
  }
  const summary& got = report->totals;

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
  std::printf("\n");

  troupe::shutdown_report down = sys.shutdown(5s);

  const bool counts_match = got.counts == expected;
  const bool totals_match = got.words == expected_words && got.skipped == 1;
  std::printf("\nchunks merged:        %zu of %zu\n", got.chunks, chunks);
  std::printf("chunks re-dispatched: %d\n", report->redispatched);
  std::printf("words counted:        %llu (single-threaded count: %llu)\n",
              static_cast<unsigned long long>(got.words),
              static_cast<unsigned long long>(expected_words));
  std::printf("malformed skipped:    %llu\n", static_cast<unsigned long long>(got.skipped));
  std::printf("distinct words:       %zu (single-threaded count: %zu)\n", got.counts.size(),
              expected.size());
  std::printf("shutdown:             %s\n", down.clean() ? "clean" : "NOT clean");

  const bool ok = counts_match && totals_match && got.chunks == chunks && down.clean();
  std::printf("\nverdict: %s\n", ok ? "PASS: the actors' counts match the single-threaded count"
                                    : "FAIL: the actors' counts differ from the single-threaded "
                                      "count");
  return ok ? 0 : 1;
}
