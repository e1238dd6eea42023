// Example 6: routers, worker pools and output ports.
//
// - A consistent-hash router spreads a key-value store over shards; adding a
//   shard moves only about 1/n of the keys.
// - Replicas answer quorum writes, a scatter-gather search returns what came
//   before its deadline, and first_response takes the fastest mirror.
// - A worker pool runs thumbnail jobs with priorities, sticky keys and a rate
//   limit, and replaces a worker that crashes.
// - A ticker publishes prices on an output port; a slow subscriber is dropped
//   with a notice instead of losing messages silently.
//
// Everything runs on the deterministic runtime (virtual time), then the pool
// runs once more on real threads. The program exits non-zero on any mismatch.

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "troupe/sim/runtime.hpp"
#include "troupe/troupe.hpp"

using namespace std::chrono_literals;

namespace example {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// ---- a sharded key-value store -------------------------------------------

struct put {
  static constexpr std::string_view type_name = "example.put";
  std::string key;
  std::string value;
  // A consistent-hash router sends the message to the shard owning this key.
  [[nodiscard]] const std::string& routing_key() const { return key; }
};

struct get {
  using reply = std::string;  // empty when the key is unknown
  static constexpr std::string_view type_name = "example.get";
  std::string key;
  [[nodiscard]] const std::string& routing_key() const { return key; }
};

class shard : public troupe::actor<shard> {
 public:
  using handles = troupe::handles<put, get>;
  void handle(const put& m) { data_[m.key] = m.value; }
  std::string handle(const get& m) {
    auto it = data_.find(m.key);
    return it == data_.end() ? std::string() : it->second;
  }

 private:
  std::map<std::string, std::string> data_;
};

void sharded_store() {
  std::printf("consistent hash:\n");
  troupe::sim::runtime rt(42);
  troupe::system sys(rt.config());
  // [consistent-hash]
  std::vector<troupe::endpoint<shard>> shards;
  for (int i = 0; i < 4; ++i) shards.push_back(sys.spawn<shard>().value());
  troupe::router<shard> store(sys, troupe::routing::consistent_hash, shards);

  store.tell(put{"user/7", "Ada"});                           // to the owner of "user/7"
  std::string name = store.ask(get{"user/7"}).get().value();  // asks that same shard
  // [consistent-hash]
  check(name == "Ada", "get(user/7) = " + name);

  // Store 10,000 keys, add a fifth shard, and count the keys whose owner
  // changed: those now miss (a real store would hand them over).
  for (int k = 0; k < 10'000; ++k) store.tell(put{"key/" + std::to_string(k), "v"});
  store.add_member(sys.spawn<shard>().value());
  int moved = 0;
  for (int k = 0; k < 10'000; ++k) {
    if (store.ask(get{"key/" + std::to_string(k)}).get().value().empty()) ++moved;
  }
  check(moved > 1'200 && moved < 2'800,
        "adding a 5th shard moved " + std::to_string(moved) + " of 10000 keys (about 1/5)");
}

// ---- round robin, random, broadcast, members that come and go -------------

struct hello {
  using reply = int;  // the greeter's number
  static constexpr std::string_view type_name = "example.hello";
};

class greeter : public troupe::actor<greeter> {
 public:
  using handles = troupe::handles<hello>;
  explicit greeter(int n) : n_(n) {}
  int handle(hello) const { return n_; }

 private:
  int n_;
};

void simple_routers() {
  std::printf("round robin, random, broadcast:\n");
  troupe::sim::runtime rt(42);
  troupe::system sys(rt.config());
  auto g1 = sys.spawn<greeter>(1).value();
  auto g2 = sys.spawn<greeter>(2).value();
  auto g3 = sys.spawn<greeter>(3).value();
  // [round-robin]
  troupe::router<greeter> turns(sys, troupe::routing::round_robin, {g1, g2});
  turns.add_member(g3);  // members come and go at run time
  std::vector<int> seen;
  for (int i = 0; i < 4; ++i) seen.push_back(turns.ask(hello{}).get().value());  // 1 2 3 1
  g2.stop();  // an actor that ends leaves every router by itself
  // [round-robin]
  check(seen == std::vector<int>{1, 2, 3, 1}, "round robin visits 1 2 3 1");
  rt.run();
  check(turns.size() == 2, "the stopped greeter left the router");

  // [random]
  troupe::router<greeter> any(sys, troupe::routing::random, {g1, g3});
  int pick = any.ask(hello{}).get().value();  // drawn from the system's random seam
  // [random]
  check(pick == 1 || pick == 3, "random picked greeter " + std::to_string(pick));

  // [broadcast]
  troupe::router<greeter> all(sys, troupe::routing::broadcast, {g1, g3});
  troupe::broadcast_result b = all.broadcast(hello{});  // a tell to every member
  // [broadcast]
  check(b.ok() && b.accepted == 2, "broadcast reached both greeters");
  rt.run();
}

// ---- replicas: quorum, scatter-gather, first response --------------------

struct write {
  using reply = int;  // the version the replica stored
  static constexpr std::string_view type_name = "example.write";
  int version;
};

struct search {
  using reply = std::vector<std::string>;
  static constexpr std::string_view type_name = "example.search";
  std::string term;
};

/// A replica that answers after `latency` (virtual time); a `broken` one
/// fails on its first write (and so ends).
class replica : public troupe::actor<replica> {
 public:
  using handles = troupe::handles<write, search>;
  replica(std::string name, troupe::duration latency, bool broken)
      : name_(std::move(name)), latency_(latency), broken_(broken) {}

  troupe::task<int> handle(write w) {
    co_await sleep_for(latency_);
    if (broken_) throw std::runtime_error(name_ + ": disk full");
    co_return w.version;
  }
  troupe::task<std::vector<std::string>> handle(search s) {
    co_await sleep_for(latency_);
    co_return std::vector<std::string>{name_ + ":" + s.term};
  }

 private:
  std::string name_;
  troupe::duration latency_;
  bool broken_;
};

void replicas() {
  std::printf("quorum, scatter-gather, first response:\n");
  troupe::sim::runtime rt(42);
  troupe::system sys(rt.config());
  auto a = sys.spawn<replica>("a", 5ms, false).value();
  auto b = sys.spawn<replica>("b", 20ms, false).value();
  auto c = sys.spawn<replica>("c", 80ms, true).value();
  troupe::router<replica> group(sys, troupe::routing::round_robin, {a, b, c});

  const troupe::time_point t0 = rt.now();
  // [quorum]
  // Ends as soon as 2 of the 3 replicas acknowledged; ends with
  // errc::quorum_failed as soon as 2 acknowledgements are out of reach.
  troupe::result<std::vector<troupe::member_reply<int>>> acks =
      group.quorum(2, write{7}, 100ms).get();
  // [quorum]
  check(acks && acks->size() == 2 && rt.now() - t0 == 20ms,
        "quorum(2) of 3 ended after the second ack, at 20 ms");

  // [scatter-gather]
  // Collects what comes within 50 ms; replicas that did not answer in time
  // are listed as failures with errc::timeout.
  troupe::gathered<std::vector<std::string>> hits =
      group.scatter_gather(search{"cats"}, 50ms).get().value();
  for (const auto& r : hits.replies) std::printf("    %s\n", r.value.front().c_str());
  // [scatter-gather]
  check(hits.replies.size() == 2 && !hits.complete() && hits.failures.size() == 1 &&
            hits.failures[0].error == troupe::errc::timeout,
        "scatter_gather: 2 replies by the 50 ms deadline, 1 timed out");

  // [first-response]
  troupe::result<std::vector<std::string>> fastest = group.first_response(search{"dogs"}).get();
  // [first-response]
  check(fastest && fastest->front() == "a:dogs", "first_response came from the fastest replica");

  rt.advance(1s);  // let the slow replica finish
  group.remove_member(b);
  troupe::result<std::vector<troupe::member_reply<int>>> lost =
      group.quorum(2, write{8}, 100ms).get();
  check(!lost && lost.error() == troupe::errc::quorum_failed,
        "with b removed and c dead, quorum(2) fails: " +
            (lost ? std::string("?") : lost.error().message()));
  rt.advance(1s);
}

// ---- a worker pool -------------------------------------------------------

struct thumbnail {
  using reply = std::string;
  static constexpr std::string_view type_name = "example.thumbnail";
  int image;
  bool corrupt = false;
};

class thumbnailer : public troupe::actor<thumbnailer> {
 public:
  using handles = troupe::handles<thumbnail>;
  explicit thumbnailer(std::vector<int>* done) : done_(done) {}
  troupe::task<std::string> handle(thumbnail t) {
    co_await sleep_for(10ms);  // the work
    if (t.corrupt) throw std::runtime_error("corrupt image " + std::to_string(t.image));
    if (done_ != nullptr) done_->push_back(t.image);
    co_return "thumb-" + std::to_string(t.image);
  }

 private:
  std::vector<int>* done_;
};

std::string stats_text(const troupe::pool_stats& s) {
  return "workers=" + std::to_string(s.workers) + " queued=" + std::to_string(s.queued) +
         " busy=" + std::to_string(s.busy) + " done=" + std::to_string(s.done) +
         " failed=" + std::to_string(s.failed) + " dropped=" + std::to_string(s.dropped) +
         " restarted=" + std::to_string(s.restarted);
}

void pool_on_the_simulator() {
  std::printf("worker pool (virtual time):\n");
  troupe::sim::runtime rt(42);
  troupe::system sys(rt.config());
  std::vector<int> done;
  // [pool]
  troupe::pool_options opts;
  opts.workers = 2;
  opts.queue_capacity = 100;
  opts.discard = troupe::pool_discard::reject_new;  // a full queue refuses new jobs
  opts.rate = troupe::rate_limit{50, 1s, 2};        // 50 jobs/s, bursts of 2
  auto pool = troupe::worker_pool<thumbnailer>::spawn(sys, opts, [&done](troupe::system& s) {
                return s.spawn<thumbnailer>(&done);
              }).value();

  troupe::response<std::string> thumb = pool.ask(thumbnail{1});
  troupe::job_options urgent;
  urgent.priority = troupe::job_priority::high;  // starts before queued normal jobs
  pool.tell(thumbnail{2}, urgent);
  troupe::job_options per_user;
  per_user.key = "user/7";  // with pool_dispatch::sticky, one worker per key
  pool.tell(thumbnail{3}, per_user);

  troupe::pool_stats stats = pool.stats().get().value();
  // [pool]
  check(thumb.get().value() == "thumb-1", "ask through the pool: thumb-1");
  std::printf("    %s\n", stats_text(stats).c_str());

  troupe::result<std::string> crashed = pool.ask(thumbnail{4, true}).get();
  check(!crashed && crashed.error() == troupe::errc::handler_failed,
        "a crashing job ends with handler_failed");
  for (int i = 10; i < 20; ++i) pool.tell(thumbnail{i});
  rt.advance(1s);
  stats = pool.stats().get().value();
  std::printf("    %s\n", stats_text(stats).c_str());
  check(stats.workers == 2 && stats.restarted == 1, "the crashed worker was replaced");
  check(stats.done == 13 && stats.failed == 1, "13 jobs done, 1 failed");

  // [resize]
  pool.resize(4);  // grows now; shrinking lets busy workers finish first
  // [resize]
  check(pool.stats().get().value().workers == 4, "resized to 4 workers");
}

void pool_on_threads() {
  std::printf("worker pool (real threads):\n");
  troupe::system sys(troupe::system_config{.workers = 2});
  troupe::pool_options opts;
  opts.workers = 3;
  auto pool = troupe::worker_pool<thumbnailer>::spawn(sys, opts, [](troupe::system& s) {
                return s.spawn<thumbnailer>(nullptr);
              }).value();
  std::vector<troupe::response<std::string>> replies;
  for (int i = 0; i < 30; ++i) replies.push_back(pool.ask(thumbnail{i}));
  int ok = 0;
  for (auto& r : replies) ok += r.get() ? 1 : 0;
  check(ok == 30, std::to_string(ok) + " of 30 thumbnails");
  check(sys.shutdown(5s).clean(), "clean shutdown");
}

// ---- an output port ------------------------------------------------------

struct price {
  static constexpr std::string_view type_name = "example.price";
  std::string symbol;
  double value;
};

class archiver;

struct follow {
  static constexpr std::string_view type_name = "example.follow";
  troupe::endpoint<archiver> who;
};

struct quote {
  using reply = std::size_t;  // how many subscribers got it
  static constexpr std::string_view type_name = "example.quote";
  price p;
};

struct archive_report {
  using reply = std::pair<std::size_t, int>;  // prices stored, drop notices
  static constexpr std::string_view type_name = "example.archive_report";
};

// [port]
/// Publishes prices to whoever follows; a subscriber more than 4 prices
/// behind is dropped and told so (troupe::port_dropped).
class ticker : public troupe::actor<ticker> {
 public:
  using handles = troupe::handles<follow, quote>;
  void handle(const follow& f) { (void)prices_.subscribe(f.who); }
  std::size_t handle(const quote& q) {
    troupe::publish_result r = prices_.publish(q.p);
    return r.delivered;  // r.dropped lists the subscribers it dropped
  }

 private:
  troupe::output_port<price> prices_{
      troupe::port_options{4, troupe::port_overflow::drop_subscriber}};
};

/// Stores prices slowly; learns when it was dropped.
class archiver : public troupe::actor<archiver> {
 public:
  using handles = troupe::handles<price, troupe::port_dropped, archive_report>;
  troupe::task<void> handle(price p) {
    co_await sleep_for(100ms);  // a slow disk
    stored_.push_back(p.value);
  }
  void handle(const troupe::port_dropped& d) {
    std::printf("    archiver dropped by port %llu at price #%llu\n",
                static_cast<unsigned long long>(d.port),
                static_cast<unsigned long long>(d.first_missed));
    ++drops_;
  }
  std::pair<std::size_t, int> handle(archive_report) const { return {stored_.size(), drops_}; }

 private:
  std::vector<double> stored_;
  int drops_ = 0;
};
// [port]

void prices() {
  std::printf("output port:\n");
  troupe::sim::runtime rt(42);
  troupe::system sys(rt.config());
  auto t = sys.spawn<ticker>().value();
  auto slow = sys.spawn<archiver>().value();
  t.tell(follow{slow});
  std::size_t reached = 0;
  for (int i = 1; i <= 6; ++i) reached += t.ask(quote{price{"ACME", 100.0 + i}}).get().value();
  // Prices 1-4 fill its buffer (1 being stored, 2-4 waiting); price 5 drops it.
  check(reached == 4, "the archiver was sent 4 prices before it fell behind");
  rt.advance(1s);
  auto [stored, drops] = slow.ask(archive_report{}).get().value();
  check(stored == 4 && drops == 1, "it stored those 4, then got one port_dropped notice");
}

}  // namespace example

int main() {
  using namespace example;
  simple_routers();
  sharded_store();
  replicas();
  pool_on_the_simulator();
  pool_on_threads();
  prices();
  std::printf("%s\n", failures == 0 ? "all checks passed" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
