#include "troupe/sim/network.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// The simulated network: links between hosts of one sim::runtime, with
// latency, jitter, odd chunk boundaries, partitions, crashes and frozen
// hosts, replayable from the runtime's seed.

namespace {

using namespace std::chrono_literals;
using troupe::errc;

/// Records a link's events and writes what the test queues for it.
class probe final : public troupe::link_handler {
 public:
  probe(std::string name, troupe::sim::runtime& rt, std::vector<std::string>* trace = nullptr)
      : name_(std::move(name)), rt_(rt), trace_(trace), start_(rt.now()) {}

  void on_bytes(std::span<const std::byte> data) override {
    check_open();
    received.append(reinterpret_cast<const char*>(data.data()), data.size());
    chunks.push_back(data.size());
    log("bytes " + std::to_string(data.size()));
    if (during_bytes) std::exchange(during_bytes, nullptr)();
  }
  std::size_t pull(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes) override {
    check_open();
    out.clear();
    const std::size_t n = std::min(pending_.size() - offset_, max_bytes);
    if (n == 0) return 0;
    out.emplace_back(reinterpret_cast<const std::byte*>(pending_.data() + offset_), n);
    pulled.push_back(n);
    if (during_pull) std::exchange(during_pull, nullptr)();
    return n;
  }
  void written(std::size_t n) override {
    check_open();
    offset_ += n;
    writes.push_back(n);
    log("written " + std::to_string(n));
    if (offset_ == pending_.size()) {
      pending_.clear();
      offset_ = 0;
    }
  }
  void on_closed(const troupe::error& why) override {
    check_open();
    ++closed;
    reason = why;
    log("closed " + why.detail());
  }

  /// Queues `s` for writing and wakes the link.
  void send(const std::string& s) {
    pending_ += s;
    link->wake();
  }
  /// Returns the bytes queued but not written yet.
  [[nodiscard]] std::size_t unwritten() const { return pending_.size() - offset_; }

  std::shared_ptr<troupe::link> link;
  std::string received;
  std::vector<std::size_t> chunks;
  std::vector<std::size_t> pulled;
  std::vector<std::size_t> writes;
  int closed = 0;
  int calls_after_close = 0;
  std::optional<troupe::error> reason;
  std::function<void()> during_bytes;  // runs once, inside on_bytes()
  std::function<void()> during_pull;   // runs once, inside a pull() that returns bytes

 private:
  void check_open() {
    if (closed != 0) ++calls_after_close;
  }
  void log(const std::string& what) {
    if (trace_ == nullptr) return;
    trace_->push_back(std::to_string((rt_.now() - start_) / 1us) + "us " + name_ + " " + what);
  }

  std::string name_;
  troupe::sim::runtime& rt_;
  std::vector<std::string>* trace_;
  troupe::time_point start_;
  std::string pending_;
  std::size_t offset_ = 0;
};

/// Both ends of one link, as seen by their handlers.
struct link_pair {
  std::shared_ptr<probe> client;  // dialed
  std::shared_ptr<probe> server;  // accepted
};

/// Listens on `tb` at `address`, dials it from `ta`, and drives the runtime
/// until both ends are started.
link_pair connect(troupe::sim::runtime& rt, troupe::transport& ta, troupe::transport& tb,
                  const std::string& address, std::vector<std::string>* trace = nullptr) {
  link_pair p{std::make_shared<probe>("client", rt, trace),
              std::make_shared<probe>("server", rt, trace)};
  auto server = p.server;
  auto bound = tb.listen(address, [server](std::shared_ptr<troupe::link> l) {
    server->link = std::move(l);
    server->link->start(server);
  });
  EXPECT_TRUE(bound.has_value());
  auto client = p.client;
  ta.dial(bound.value(), [client](troupe::result<std::shared_ptr<troupe::link>> r) {
    ASSERT_TRUE(r.has_value()) << r.error().message();
    client->link = std::move(r).value();
    client->link->start(client);
  });
  for (int i = 0; i < 1000 && !(p.client->link && p.server->link); ++i) rt.advance(100us);
  EXPECT_TRUE(p.client->link && p.server->link);
  return p;
}

/// Collects the outcome of a dial.
struct dial_outcome {
  std::optional<troupe::result<std::shared_ptr<troupe::link>>> r;
  troupe::time_point at{};
};

troupe::transport::dial_fn record(dial_outcome& o, troupe::sim::runtime& rt) {
  return [&o, &rt](troupe::result<std::shared_ptr<troupe::link>> r) {
    o.r = std::move(r);
    o.at = rt.now();
  };
}

TEST(sim_network, listens_dials_and_accepts_after_one_latency_each_way) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  std::vector<std::shared_ptr<troupe::link>> accepted;
  troupe::time_point accepted_at{};
  auto bound = b->listen("b:0", [&](std::shared_ptr<troupe::link> l) {
    accepted.push_back(std::move(l));
    accepted_at = rt.now();
  });
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound.value(), "b:49152") << "port 0 picks a fresh port";
  EXPECT_EQ(b->listen("b:7000", [](auto) {}).value(), "b:7000");
  EXPECT_EQ(b->listen("b:7000", [](auto) {}).error().code(), errc::name_taken);
  EXPECT_EQ(b->listen("a:7001", [](auto) {}).error().code(), errc::invalid_argument)
      << "a transport listens on its own host only";
  EXPECT_EQ(b->listen("b:x", [](auto) {}).error().code(), errc::invalid_argument);

  const troupe::time_point t0 = rt.now();
  dial_outcome d;
  a->dial(bound.value(), record(d, rt));
  rt.run();
  EXPECT_TRUE(accepted.empty()) << "nothing happens before time moves";
  rt.advance(1ms);
  ASSERT_EQ(accepted.size(), 1u);
  EXPECT_EQ(accepted_at, t0 + 1ms);
  EXPECT_FALSE(d.r) << "the dialer learns one round trip after dialing";
  rt.advance(1ms);
  ASSERT_TRUE(d.r && d.r->has_value());
  EXPECT_EQ(d.at, t0 + 2ms);

  std::shared_ptr<troupe::link> dialed = d.r->value();
  EXPECT_EQ(dialed->remote_address(), "b:49152");
  EXPECT_EQ(accepted[0]->remote_address().substr(0, 2), "a:");
  EXPECT_TRUE(dialed->channel_binding().empty());
  EXPECT_EQ(net.links_open(), 1u);
}

TEST(sim_network, carries_bytes_both_ways_in_order_across_odd_boundaries) {
  troupe::sim::runtime rt(11);
  troupe::sim::network net(rt, {.jitter = 300us, .max_segment = 5, .max_chunk = 3});
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  std::string to_server, to_client;
  for (int i = 0; i < 60; ++i) {
    const std::string m = std::to_string(i) + ":" + std::string(i % 13, 'x') + ";";
    to_server += m;
    p.client->send(m);
    if (i % 3 == 0) {
      const std::string r = std::to_string(i * 7) + ",";
      to_client += r;
      p.server->send(r);
    }
    if (i % 4 == 0) rt.advance(200us);
  }
  rt.advance(1s);
  EXPECT_EQ(p.server->received, to_server);
  EXPECT_EQ(p.client->received, to_client);
  EXPECT_EQ(net.bytes_delivered(), to_server.size() + to_client.size());

  for (auto* pr : {p.client.get(), p.server.get()}) {
    EXPECT_LE(*std::max_element(pr->chunks.begin(), pr->chunks.end()), 3u);
    EXPECT_LE(*std::max_element(pr->writes.begin(), pr->writes.end()), 5u);
  }
  EXPECT_GT(std::count(p.server->chunks.begin(), p.server->chunks.end(), 1u), 0)
      << "pieces vary in size";
  EXPECT_GT(std::count(p.server->chunks.begin(), p.server->chunks.end(), 3u), 0);
  bool partial = false;
  for (std::size_t i = 0; i < p.client->pulled.size(); ++i)
    partial = partial || p.client->writes[i] < p.client->pulled[i];
  EXPECT_TRUE(partial) << "max_segment makes writes partial";
  EXPECT_EQ(p.client->closed + p.server->closed, 0);
}

TEST(sim_network, merges_writes_that_arrive_together_without_max_chunk) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt, {.max_segment = 4});
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  p.client->send("0123456789");
  rt.run();
  EXPECT_EQ(p.client->writes, (std::vector<std::size_t>{4, 4, 2}));
  rt.advance(1ms);
  EXPECT_EQ(p.server->chunks, std::vector<std::size_t>{10}) << "three writes, one delivery";
  EXPECT_EQ(p.server->received, "0123456789");
}

TEST(sim_network, delivers_bytes_after_the_configured_latency) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  net.set_latency("b", "a", 10ms);
  auto a = net.host("a");
  auto b = net.host("b");
  auto c = net.host("c");
  const troupe::time_point t0 = rt.now();
  link_pair ab = connect(rt, *a, *b, "b:1");
  EXPECT_EQ(rt.now(), t0 + 20ms) << "a round trip of 10 ms each way";
  link_pair ac = connect(rt, *a, *c, "c:1");

  const troupe::time_point t1 = rt.now();
  ab.client->send("slow");
  ac.client->send("fast");
  rt.advance(1ms);
  EXPECT_EQ(ac.server->received, "fast") << "the default latency is 1 ms";
  EXPECT_EQ(ab.server->received, "");
  rt.advance(8ms);
  EXPECT_EQ(ab.server->received, "");
  rt.advance(1ms);
  EXPECT_EQ(ab.server->received, "slow");
  EXPECT_EQ(rt.now(), t1 + 10ms);
  ab.server->send("back");
  rt.advance(9ms);
  EXPECT_EQ(ab.client->received, "");
  rt.advance(1ms);
  EXPECT_EQ(ab.client->received, "back") << "latency is symmetric";
}

TEST(sim_network, a_dial_to_nobody_fails_with_node_down) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt, {.connect_timeout = 2s});
  auto a = net.host("a");
  auto b = net.host("b");
  const troupe::time_point t0 = rt.now();

  dial_outcome refused, unknown, malformed;
  a->dial("b:9", record(refused, rt));
  a->dial("nowhere:9", record(unknown, rt));
  a->dial("b", record(malformed, rt));
  rt.run();
  ASSERT_TRUE(malformed.r);
  EXPECT_EQ(malformed.r->error().code(), errc::invalid_argument);
  EXPECT_FALSE(refused.r);
  rt.advance(2ms);
  ASSERT_TRUE(refused.r);
  EXPECT_EQ(refused.r->error().code(), errc::node_down);
  EXPECT_EQ(refused.at, t0 + 2ms) << "refused after one round trip";
  EXPECT_FALSE(unknown.r);
  rt.advance(2s);
  ASSERT_TRUE(unknown.r);
  EXPECT_EQ(unknown.r->error().code(), errc::node_down);
  EXPECT_EQ(unknown.at, t0 + 2s) << "an unknown host times out";
  EXPECT_EQ(net.links_open(), 0u);
}

TEST(sim_network, close_flushes_then_closes_both_ends_once) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  p.client->send("last ");
  rt.run();
  p.server->send("unread");
  p.client->send("words");
  p.client->link->close();  // still pulls what the handler has
  p.client->link->close();
  rt.run();
  EXPECT_EQ(p.client->unwritten(), 0u);
  EXPECT_EQ(p.client->closed, 1) << "the closing side learns once the flush is done";
  EXPECT_EQ(p.client->reason->code(), errc::node_down);
  EXPECT_EQ(p.client->reason->detail(), "closed by this side");
  EXPECT_EQ(p.server->closed, 0);
  const troupe::time_point t0 = rt.now();
  rt.advance(1ms);
  EXPECT_EQ(p.server->received, "last words");
  EXPECT_EQ(p.server->closed, 1);
  EXPECT_EQ(p.server->reason->code(), errc::node_down);
  EXPECT_EQ(p.server->reason->detail(), "connection closed by peer");
  EXPECT_EQ(rt.now(), t0 + 1ms);

  // Nothing after on_closed, whatever either side does.
  p.server->send("too late");
  p.server->link->close();
  p.client->send("too late");
  p.client->link->wake();
  rt.advance(1s);
  EXPECT_EQ(p.client->closed, 1);
  EXPECT_EQ(p.server->closed, 1);
  EXPECT_EQ(p.client->received, "");
  EXPECT_EQ(p.client->calls_after_close + p.server->calls_after_close, 0);
  EXPECT_EQ(net.links_open(), 0u);
}

TEST(sim_network, a_started_link_lives_on_when_nobody_holds_it) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  auto server = std::make_shared<probe>("server", rt);
  ASSERT_TRUE(b->listen("b:1", [&](std::shared_ptr<troupe::link> l) {
                 server->link = l;
                 l->start(server);
               }).has_value());
  auto client = std::make_shared<probe>("client", rt);
  a->dial("b:1", [&](troupe::result<std::shared_ptr<troupe::link>> r) {
    r.value()->start(client);  // and dropped: nobody keeps the link
  });
  rt.advance(2ms);
  server->send("still there?");
  rt.advance(1ms);
  EXPECT_EQ(client->received, "still there?");
  EXPECT_EQ(net.links_open(), 1u);
  server->link->close();
  rt.advance(1ms);
  EXPECT_EQ(client->closed, 1);
  EXPECT_EQ(server->closed, 1);
  EXPECT_EQ(net.links_open(), 0u);
}

TEST(sim_network, stop_closes_links_at_once_and_calls_nothing_after) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  link_pair q = connect(rt, *a, *b, "b:2");
  p.client->send("hi");
  q.client->send("goodbye");
  q.client->link->close();
  dial_outcome pending;
  a->dial("b:1", record(pending, rt));
  a->stop();
  EXPECT_EQ(p.client->closed, 1) << "stop() closes the links before it returns";
  EXPECT_EQ(p.client->reason->code(), errc::shutting_down);
  EXPECT_EQ(q.client->closed, 1);
  ASSERT_TRUE(pending.r) << "and ends the pending dials";
  EXPECT_EQ(pending.r->error().code(), errc::shutting_down);
  dial_outcome after;
  a->dial("b:1", record(after, rt));
  ASSERT_TRUE(after.r) << "a dial after stop() fails at once";
  EXPECT_EQ(after.r->error().code(), errc::shutting_down);
  rt.advance(1s);
  EXPECT_EQ(p.client->calls_after_close + q.client->calls_after_close, 0);
  EXPECT_EQ(p.server->received, "") << "stop() wrote nothing of what was not pulled yet";
  EXPECT_EQ(q.server->received, "goodbye") << "but finished the close() under way";
  EXPECT_EQ(p.server->closed, 1);
  EXPECT_EQ(p.server->reason->detail(), "connection closed by peer");
  EXPECT_EQ(a->listen("a:1", [](auto) {}).error().code(), errc::shutting_down);

  b->stop();
  dial_outcome later;
  auto c = net.host("c");
  c->dial("b:1", record(later, rt));
  rt.advance(1s);
  ASSERT_TRUE(later.r);
  EXPECT_EQ(later.r->error().code(), errc::node_down) << "stop() ends the listeners";
}

TEST(sim_network, a_partition_stalls_links_until_healed) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt, {.connect_timeout = 1s});
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  net.partition({"a"}, {"b", "c"});
  p.client->send("ping");
  p.server->send("pong");
  dial_outcome across;
  a->dial("b:1", record(across, rt));
  rt.advance(10s);
  EXPECT_EQ(p.server->received, "");
  EXPECT_EQ(p.client->received, "");
  EXPECT_EQ(p.client->closed + p.server->closed, 0) << "a partitioned link stalls, not fails";
  EXPECT_EQ(net.links_open(), 1u);
  ASSERT_TRUE(across.r);
  EXPECT_EQ(across.r->error().code(), errc::node_down);

  const troupe::time_point healed = rt.now();
  net.heal();
  rt.advance(999us);
  EXPECT_EQ(p.server->received, "");
  rt.advance(1us);
  EXPECT_EQ(p.server->received, "ping") << "held bytes arrive one latency after heal()";
  EXPECT_EQ(p.client->received, "pong");
  EXPECT_EQ(rt.now(), healed + 1ms);
}

TEST(sim_network, a_one_way_partition_stalls_one_direction) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  net.partition_one_way("a", "b");
  p.client->send("ping");
  p.server->send("pong");
  rt.advance(1s);
  EXPECT_EQ(p.server->received, "");
  EXPECT_EQ(p.client->received, "pong");
  p.client->link->close();
  rt.advance(1s);
  EXPECT_EQ(p.server->closed, 0) << "the closing notice is held back too";
  net.heal();
  rt.advance(1ms);
  EXPECT_EQ(p.server->received, "ping");
  EXPECT_EQ(p.server->closed, 1);
}

TEST(sim_network, send_buffer_bounds_what_a_stalled_link_takes) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt, {.send_buffer = 10});
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  net.partition({"a"}, {"b"});
  p.client->send(std::string(100, 'z'));
  rt.advance(1s);
  EXPECT_EQ(p.client->unwritten(), 90u) << "the writer stops once 10 bytes are in flight";
  net.heal();
  rt.advance(1s);
  EXPECT_EQ(p.server->received, std::string(100, 'z'));
  EXPECT_EQ(p.client->unwritten(), 0u);
}

TEST(sim_network, a_crash_closes_the_host_links_and_resets_its_peers) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt, {.connect_timeout = 1s});
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  p.server->send("written before");
  rt.run();
  net.crash("b");
  rt.run();
  EXPECT_EQ(p.server->closed, 1);
  EXPECT_EQ(p.server->reason->detail(), "host crashed");
  EXPECT_EQ(p.client->closed, 0) << "the reset takes one latency";
  rt.advance(1ms);
  EXPECT_EQ(p.client->received, "written before");
  EXPECT_EQ(p.client->closed, 1);
  EXPECT_EQ(p.client->reason->code(), errc::node_down);
  EXPECT_EQ(net.links_open(), 0u);

  EXPECT_EQ(b->listen("b:2", [](auto) {}).error().code(), errc::node_down);
  dial_outcome to_dead, from_dead;
  a->dial("b:1", record(to_dead, rt));
  b->dial("a:1", record(from_dead, rt));
  rt.advance(1s);
  ASSERT_TRUE(to_dead.r && from_dead.r);
  EXPECT_EQ(to_dead.r->error().code(), errc::node_down);
  EXPECT_EQ(from_dead.r->error().code(), errc::node_down);

  // A restart is a new transport under the same name.
  auto b2 = net.host("b");
  link_pair again = connect(rt, *a, *b2, "b:1");
  again.client->send("hello again");
  rt.advance(1ms);
  EXPECT_EQ(again.server->received, "hello again");
}

TEST(sim_network, a_frozen_host_stalls_without_closing_until_thawed) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");
  net.freeze("b");
  p.client->send("ping");
  p.server->send("pong");
  int accepted = 0;
  ASSERT_TRUE(b->listen("b:2", [&](auto) { ++accepted; }).has_value());
  dial_outcome second;
  a->dial("b:2", record(second, rt));
  rt.advance(10s);
  EXPECT_EQ(p.server->received, "") << "a frozen host reads nothing";
  EXPECT_EQ(p.client->received, "") << "and writes nothing";
  EXPECT_EQ(p.client->closed + p.server->closed, 0);
  ASSERT_TRUE(second.r && second.r->has_value()) << "the kernel still answers a dial";
  EXPECT_EQ(accepted, 0) << "a frozen host accepts nothing";
  EXPECT_EQ(net.links_open(), 2u);

  net.thaw("b");
  rt.run();
  EXPECT_EQ(p.server->received, "ping") << "held bytes were already there";
  EXPECT_EQ(accepted, 1);
  rt.advance(1ms);
  EXPECT_EQ(p.client->received, "pong");
  EXPECT_EQ(p.client->closed + p.server->closed, 0);
}

TEST(sim_network, a_cut_closes_both_ends_at_once) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  auto c = net.host("c");
  link_pair ab = connect(rt, *a, *b, "b:1");
  link_pair ac = connect(rt, *a, *c, "c:1");
  ab.client->send("lost");
  rt.run();
  net.cut("b", "a");
  rt.run();
  EXPECT_EQ(ab.client->closed, 1);
  EXPECT_EQ(ab.server->closed, 1);
  EXPECT_EQ(ab.server->reason->detail(), "link cut");
  rt.advance(1s);
  EXPECT_EQ(ab.server->received, "") << "bytes in flight are lost";
  EXPECT_EQ(ac.client->closed + ac.server->closed, 0) << "other links live on";
  EXPECT_EQ(net.links_open(), 1u);
}

TEST(sim_network, calls_from_inside_a_handler_take_effect_after_it) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  link_pair p = connect(rt, *a, *b, "b:1");

  // close() inside pull(): what that pull offered is written first.
  p.client->during_pull = [&] { p.client->link->close(); };
  p.client->send("bye");
  rt.run();
  EXPECT_EQ(p.client->writes, std::vector<std::size_t>{3});
  EXPECT_EQ(p.client->closed, 1);
  rt.advance(1ms);
  EXPECT_EQ(p.server->received, "bye");
  EXPECT_EQ(p.server->closed, 1);

  // stop() inside on_bytes(): that link's on_closed() follows the call.
  link_pair q = connect(rt, *a, *b, "b:2");
  int closed_inside = -1;
  q.server->during_bytes = [&] {
    b->stop();
    closed_inside = q.server->closed;
  };
  q.client->send("x");
  rt.advance(1ms);
  EXPECT_EQ(closed_inside, 0) << "never while another call of the link runs";
  EXPECT_EQ(q.server->closed, 1);
  EXPECT_EQ(q.server->calls_after_close, 0);
  rt.advance(1ms);
  EXPECT_EQ(q.client->closed, 1);

  // crash() inside on_bytes(): the crashed side learns through the executor.
  auto c = net.host("c");
  link_pair r = connect(rt, *a, *c, "c:1");
  r.server->during_bytes = [&] { net.crash("c"); };
  r.client->send("boom");
  rt.advance(2ms);
  EXPECT_EQ(r.server->closed, 1);
  EXPECT_EQ(r.client->closed, 1);
  EXPECT_EQ(r.client->calls_after_close + r.server->calls_after_close, 0);
  EXPECT_EQ(net.links_open(), 0u);
}

TEST(sim_network, a_link_the_acceptor_drops_closes_on_the_dialer) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  ASSERT_TRUE(b->listen("b:1", [](std::shared_ptr<troupe::link>) {}).has_value());
  auto client = std::make_shared<probe>("client", rt);
  a->dial("b:1", [&](troupe::result<std::shared_ptr<troupe::link>> r) {
    client->link = r.value();
    client->link->start(client);
  });
  rt.advance(2ms);
  ASSERT_TRUE(client->link) << "the dial itself succeeds";
  EXPECT_EQ(client->closed, 1) << "the acceptor's close arrives with the dial's answer";
  EXPECT_EQ(client->reason->detail(), "connection closed by peer");
}

/// Runs a scenario with jitter, odd boundaries and faults; returns its trace.
std::vector<std::string> scenario(std::uint64_t seed) {
  troupe::sim::runtime rt(seed);
  troupe::sim::network net(rt, {.jitter = 500us, .max_segment = 7, .max_chunk = 4});
  std::vector<std::string> trace;
  auto a = net.host("a");
  auto b = net.host("b");
  auto c = net.host("c");
  link_pair ab = connect(rt, *a, *b, "b:1", &trace);
  link_pair cb = connect(rt, *c, *b, "b:2", &trace);
  for (int round = 0; round < 20; ++round) {
    ab.client->send("request " + std::to_string(round));
    cb.client->send("other " + std::to_string(round * 3));
    ab.server->send("reply " + std::to_string(round));
    if (round == 8) net.partition({"a"}, {"b"});
    if (round == 12) net.heal();
    if (round == 15) net.freeze("c");
    if (round == 17) net.thaw("c");
    rt.advance(300us);
  }
  ab.client->link->close();
  rt.advance(1s);
  trace.push_back("delivered " + std::to_string(net.bytes_delivered()));
  return trace;
}

TEST(sim_network, the_same_seed_replays_the_same_trace) {
  const std::vector<std::string> first = scenario(7);
  ASSERT_GT(first.size(), 100u);
  EXPECT_EQ(scenario(7), first);
  EXPECT_NE(scenario(8), first) << "jitter and boundaries come from the seed";
}

TEST(sim_network, links_go_quiet_when_the_network_goes_first) {
  troupe::sim::runtime rt;
  std::shared_ptr<troupe::transport> a, b;
  link_pair p;
  {
    troupe::sim::network net(rt);
    a = net.host("a");
    b = net.host("b");
    p = connect(rt, *a, *b, "b:1");
    p.client->send("in flight");
    rt.run();
  }
  p.client->send("after");
  p.client->link->close();
  rt.advance(1s);
  EXPECT_EQ(p.server->received, "");
  a->stop();
  dial_outcome late;
  a->dial("b:1", record(late, rt));
  ASSERT_TRUE(late.r);
  EXPECT_EQ(late.r->error().code(), errc::shutting_down);
  rt.advance(1s);
}

}  // namespace
