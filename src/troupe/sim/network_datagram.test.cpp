#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "troupe/sim/network.hpp"

// The simulated network's datagrams: bound sockets on hosts of one
// sim::runtime, with latency, jitter, loss, duplication, partitions, crashes
// and frozen hosts, replayable from the runtime's seed.

namespace {

using namespace std::chrono_literals;
using troupe::errc;

/// Returns the bytes of `s`.
std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

/// Records the datagrams a socket receives.
struct inbox {
  struct item {
    troupe::time_point at;
    std::string from;
    std::string data;
  };

  /// Returns a callback that appends to this inbox.
  troupe::datagram_fn fn(troupe::sim::runtime& rt) {
    return [this, &rt](std::string_view from, std::span<const std::byte> data) {
      items.push_back({rt.now(), std::string(from),
                       std::string(reinterpret_cast<const char*>(data.data()), data.size())});
    };
  }
  /// Returns the payloads received, in order.
  [[nodiscard]] std::vector<std::string> payloads() const {
    std::vector<std::string> v;
    for (const item& i : items) v.push_back(i.data);
    return v;
  }

  std::vector<item> items;
};

/// Sends `s` from `sock` to `to` and expects send_to() to accept it.
void send(troupe::datagram_socket& sock, std::string_view to, std::string_view s) {
  const troupe::result<void> r = sock.send_to(to, bytes_of(s));
  EXPECT_TRUE(r.has_value()) << r.error().message();
}

/// Returns "0", "1", ..., as payloads numbered from 0.
std::vector<std::string> numbered(int n, int first = 0) {
  std::vector<std::string> v;
  for (int i = first; i < first + n; ++i) v.push_back(std::to_string(i));
  return v;
}

TEST(sim_datagram, arrives_one_latency_later_with_the_sender_address) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  net.set_latency("b", "a", 10ms);
  auto a = net.host("a");
  auto b = net.host("b");
  auto c = net.host("c");
  inbox at_a, at_b, at_c;
  auto sa = a->bind("a:0", at_a.fn(rt)).value();
  auto sb = b->bind("b:5000", at_b.fn(rt)).value();
  auto sc = c->bind("c:5000", at_c.fn(rt)).value();
  EXPECT_EQ(sa->local_address(), "a:49152") << "port 0 picks a fresh port";
  EXPECT_EQ(sb->local_address(), "b:5000");

  const troupe::time_point t0 = rt.now();
  send(*sa, "b:5000", "slow");
  send(*sa, "c:5000", "fast");
  rt.run();
  EXPECT_TRUE(at_b.items.empty() && at_c.items.empty()) << "nothing before time moves";
  rt.advance(1ms);
  ASSERT_EQ(at_c.items.size(), 1u) << "the default latency is 1 ms";
  EXPECT_EQ(at_c.items[0].at, t0 + 1ms);
  rt.advance(8999us);
  EXPECT_TRUE(at_b.items.empty());
  rt.advance(1us);
  ASSERT_EQ(at_b.items.size(), 1u);
  EXPECT_EQ(at_b.items[0].at, t0 + 10ms) << "set_latency() applies to datagrams";
  EXPECT_EQ(at_b.items[0].from, "a:49152") << "from is the sender socket's address";
  EXPECT_EQ(at_b.items[0].data, "slow");

  send(*sb, at_b.items[0].from, "back");
  rt.advance(10ms);
  ASSERT_EQ(at_a.items.size(), 1u) << "the latency is symmetric";
  EXPECT_EQ(at_a.items[0].from, "b:5000");
  EXPECT_EQ(at_a.items[0].data, "back");
  EXPECT_EQ(at_a.items[0].at, t0 + 20ms);

  send(*sa, "a:49152", "self");
  rt.advance(1ms);
  ASSERT_EQ(at_a.items.size(), 2u) << "a host reaches itself";
  EXPECT_EQ(at_a.items[1].data, "self");
}

TEST(sim_datagram, ports_are_a_space_apart_from_listen_and_shared_by_a_host) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto b = net.host("b");
  auto b2 = net.host("b");  // a second process on host b
  inbox in;
  EXPECT_EQ(b->listen("b:0", [](auto) {}).value(), "b:49152");
  auto s1 = b->bind("b:0", in.fn(rt)).value();
  EXPECT_EQ(s1->local_address(), "b:49152") << "listen()'s ports do not count";
  auto s2 = b2->bind("b:0", in.fn(rt)).value();
  EXPECT_EQ(s2->local_address(), "b:49153") << "the host's processes share the ports";
  EXPECT_TRUE(b->listen("b:5000", [](auto) {}).has_value());
  auto s3 = b->bind("b:5000", in.fn(rt)).value();
  EXPECT_EQ(s3->local_address(), "b:5000") << "a TCP port in use leaves the UDP port free";

  auto again = b2->bind("b:5000", in.fn(rt));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code(), errc::invalid_argument) << "in use";
  EXPECT_EQ(b->bind("b:49152", in.fn(rt)).error().code(), errc::invalid_argument);
}

TEST(sim_datagram, bind_and_send_to_fail_with_typed_errors) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  inbox in;
  for (const char* bad : {"a", "a:", "a:x", "a:70000", "b:1"})
    EXPECT_EQ(a->bind(bad, in.fn(rt)).error().code(), errc::invalid_argument) << bad;
  EXPECT_EQ(a->bind("a:1", nullptr).error().code(), errc::invalid_argument) << "no callback";

  auto sa = a->bind("a:1", in.fn(rt)).value();
  auto sb = b->bind("b:1", in.fn(rt)).value();
  for (const char* bad : {"b", "b:", "b:-1", "b:65536"})
    EXPECT_EQ(sa->send_to(bad, bytes_of("x")).error().code(), errc::invalid_argument) << bad;
  const std::string biggest(troupe::max_datagram_size, 'z');
  EXPECT_EQ(sa->send_to("b:1", bytes_of(biggest + "z")).error().code(), errc::invalid_argument)
      << "larger than max_datagram_size";
  send(*sa, "b:1", biggest);
  rt.advance(1ms);
  ASSERT_EQ(in.items.size(), 1u) << "max_datagram_size itself passes";
  EXPECT_EQ(in.items[0].data.size(), troupe::max_datagram_size);

  sa->close();
  EXPECT_EQ(sa->send_to("b:1", bytes_of("x")).error().code(), errc::shutting_down);
  auto sa2 = a->bind("a:2", in.fn(rt)).value();
  a->stop();
  EXPECT_EQ(sa2->send_to("b:1", bytes_of("x")).error().code(), errc::shutting_down)
      << "stop() closes the transport's sockets";
  EXPECT_EQ(a->bind("a:3", in.fn(rt)).error().code(), errc::shutting_down)
      << "like listen() after stop()";

  net.crash("b");
  EXPECT_EQ(sb->send_to("a:1", bytes_of("x")).error().code(), errc::node_down);
  sb->close();
  EXPECT_EQ(sb->send_to("a:1", bytes_of("x")).error().code(), errc::node_down)
      << "a crashed host's sockets stay node_down";
  EXPECT_EQ(b->bind("b:2", in.fn(rt)).error().code(), errc::node_down)
      << "like listen() after a crash";
  EXPECT_EQ(b->listen("b:2", [](auto) {}).error().code(), errc::node_down);
  rt.advance(1s);
  EXPECT_EQ(in.items.size(), 1u);
}

TEST(sim_datagram, nobody_bound_or_an_unknown_host_drops_silently) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  inbox in;
  auto sa = a->bind("a:1", in.fn(rt)).value();
  send(*sa, "b:9", "nobody");
  send(*sa, "nowhere:9", "unknown");
  rt.advance(1s);
  EXPECT_TRUE(in.items.empty());
  EXPECT_EQ(net.datagram_stats("a").dropped, 1u) << "an unknown host: lost on the way";
  EXPECT_EQ(net.datagram_stats("b").dropped, 1u) << "nobody bound: lost at the receiver";
  EXPECT_EQ(net.datagram_stats("nowhere").dropped, 0u);
}

/// Sends `n` numbered datagrams from a to b under `options` and returns
/// their numbers in arrival order.
std::vector<int> run(std::uint64_t seed, troupe::sim::network_options options, int n,
                     troupe::sim::datagram_stats* a_stats = nullptr,
                     troupe::sim::datagram_stats* b_stats = nullptr) {
  troupe::sim::runtime rt(seed);
  troupe::sim::network net(rt, options);
  auto a = net.host("a");
  auto b = net.host("b");
  std::vector<int> got;
  auto sb =
      b->bind("b:1", [&](std::string_view, std::span<const std::byte> d) {
         got.push_back(std::stoi(std::string(reinterpret_cast<const char*>(d.data()), d.size())));
       }).value();
  auto sa = a->bind("a:1", [](auto, auto) {}).value();
  for (const std::string& s : numbered(n)) send(*sa, "b:1", s);
  rt.advance(1s);
  if (a_stats) *a_stats = net.datagram_stats("a");
  if (b_stats) *b_stats = net.datagram_stats("b");
  return got;
}

TEST(sim_datagram, loss_drops_a_binomial_share_and_replays_from_the_seed) {
  constexpr int n = 10'000;
  constexpr double p = 0.3;
  troupe::sim::datagram_stats sa, sb;
  const std::vector<int> first = run(5, {.datagram_loss = p}, n, &sa, &sb);
  const double mean = n * (1 - p);
  const double sigma = std::sqrt(n * p * (1 - p));  // ~46
  EXPECT_GT(static_cast<double>(first.size()), mean - 5 * sigma);
  EXPECT_LT(static_cast<double>(first.size()), mean + 5 * sigma);
  EXPECT_EQ(sa.sent, static_cast<std::uint64_t>(n));
  EXPECT_EQ(sa.dropped, n - first.size()) << "lost on the way: counted at the sender";
  EXPECT_EQ(sb.delivered, first.size());
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end())) << "no jitter, no reordering";

  EXPECT_EQ(run(5, {.datagram_loss = p}, n), first) << "the same seed loses the same ones";
  EXPECT_NE(run(6, {.datagram_loss = p}, n), first) << "the losses come from the seed";
  EXPECT_EQ(run(5, {}, n).size(), static_cast<std::size_t>(n)) << "no loss by default";
}

TEST(sim_datagram, duplication_delivers_some_twice) {
  constexpr int n = 1000;
  troupe::sim::datagram_stats sa, sb;
  std::vector<int> got = run(3, {.datagram_duplicate = 0.5}, n, &sa, &sb);
  std::vector<int> copies(n, 0);
  for (int i : got) ++copies[static_cast<std::size_t>(i)];
  const auto twice = std::count(copies.begin(), copies.end(), 2);
  EXPECT_EQ(std::count(copies.begin(), copies.end(), 1) + twice, n) << "each arrives once or twice";
  EXPECT_GT(twice, 500 - 5 * 16);  // binomial(1000, 0.5): sigma ~16
  EXPECT_LT(twice, 500 + 5 * 16);
  EXPECT_EQ(sa.sent, static_cast<std::uint64_t>(n)) << "a copy is not a send";
  EXPECT_EQ(sb.delivered, got.size()) << "each copy is a delivery";
  EXPECT_EQ(sa.dropped + sb.dropped, 0u);

  got = run(3, {.datagram_loss = 1, .datagram_duplicate = 1}, 10);
  EXPECT_TRUE(got.empty()) << "a lost datagram has no copy";
}

TEST(sim_datagram, jitter_reorders_datagrams_within_its_bound) {
  troupe::sim::runtime rt(9);
  troupe::sim::network net(rt, {.jitter = 1ms});
  auto a = net.host("a");
  auto b = net.host("b");
  inbox in;
  auto sb = b->bind("b:1", in.fn(rt)).value();
  auto sa = a->bind("a:1", in.fn(rt)).value();
  const troupe::time_point t0 = rt.now();
  for (const std::string& s : numbered(100)) send(*sa, "b:1", s);
  rt.advance(2ms);
  ASSERT_EQ(in.items.size(), 100u) << "jitter delays, never loses";
  std::vector<int> order;
  for (const inbox::item& i : in.items) {
    order.push_back(std::stoi(i.data));
    EXPECT_GE(i.at, t0 + 1ms);
    EXPECT_LE(i.at, t0 + 2ms);
  }
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end())) << "each draws its own delay";
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order.front(), 0);
  EXPECT_EQ(order.back(), 99);
  EXPECT_EQ(std::adjacent_find(order.begin(), order.end()), order.end()) << "no duplicates";

  EXPECT_EQ(run(9, {}, 100), [] {
    std::vector<int> v(100);
    for (int i = 0; i < 100; ++i) v[static_cast<std::size_t>(i)] = i;
    return v;
  }()) << "without jitter, datagrams of one path keep their order";
}

TEST(sim_datagram, a_partition_drops_datagrams_until_healed) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  inbox at_a, at_b;
  auto sa = a->bind("a:1", at_a.fn(rt)).value();
  auto sb = b->bind("b:1", at_b.fn(rt)).value();
  send(*sa, "b:1", "in flight");
  net.partition({"a"}, {"b"});
  send(*sa, "b:1", "across");
  send(*sb, "a:1", "back across");
  rt.advance(1s);
  net.heal();
  rt.advance(1s);
  EXPECT_TRUE(at_a.items.empty() && at_b.items.empty()) << "dropped, not held until heal()";
  EXPECT_EQ(net.datagram_stats("a").dropped, 2u) << "lost on the way: counted at the sender";
  EXPECT_EQ(net.datagram_stats("b").dropped, 1u);

  send(*sa, "b:1", "healed");
  rt.advance(1ms);
  EXPECT_EQ(at_b.payloads(), std::vector<std::string>{"healed"});

  net.partition_one_way("a", "b");
  send(*sa, "b:1", "a to b");
  send(*sb, "a:1", "b to a");
  rt.advance(1s);
  EXPECT_EQ(at_b.payloads(), std::vector<std::string>{"healed"}) << "a to b is cut";
  EXPECT_EQ(at_a.payloads(), std::vector<std::string>{"b to a"}) << "b to a is not";
  net.heal();
  send(*sa, "b:1", "a to b again");
  rt.advance(1ms);
  EXPECT_EQ(at_b.payloads(), (std::vector<std::string>{"healed", "a to b again"}));
}

TEST(sim_datagram, a_crash_closes_sockets_silently_and_a_restart_binds_again) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  inbox at_a, at_old_b, at_new_b;
  auto sa = a->bind("a:1", at_a.fn(rt)).value();
  auto sb = b->bind("b:1", at_old_b.fn(rt)).value();
  send(*sa, "b:1", "in flight over the crash");
  send(*sb, "a:1", "last words");
  net.crash("b");
  EXPECT_EQ(sb->send_to("a:1", bytes_of("x")).error().code(), errc::node_down);

  auto b2 = net.host("b");  // restarted before the datagram arrives
  auto sb2 = b2->bind("b:1", at_new_b.fn(rt)).value();
  EXPECT_EQ(sb2->local_address(), "b:1") << "the crash freed the port";
  rt.advance(1s);
  EXPECT_TRUE(at_old_b.items.empty()) << "no callback after crash()";
  EXPECT_TRUE(at_new_b.items.empty()) << "in flight to b when it crashed: dropped";
  EXPECT_EQ(at_a.payloads(), std::vector<std::string>{"last words"})
      << "what b sent before the crash still arrives";
  EXPECT_EQ(net.datagram_stats("b").dropped, 1u) << "lost at b";

  send(*sa, "b:1", "hello again");
  send(*sb2, "a:1", "back");
  rt.advance(1ms);
  EXPECT_EQ(at_new_b.payloads(), std::vector<std::string>{"hello again"});
  EXPECT_TRUE(at_old_b.items.empty());
  EXPECT_EQ(at_a.payloads(), (std::vector<std::string>{"last words", "back"}));
  EXPECT_EQ(sb->send_to("a:1", bytes_of("x")).error().code(), errc::node_down)
      << "old sockets stay dead after the restart";
  sb->close();
  EXPECT_EQ(sb->send_to("a:1", bytes_of("x")).error().code(), errc::node_down);
}

TEST(sim_datagram, a_frozen_host_holds_up_to_the_limit_and_delivers_in_order_at_thaw) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  inbox at_a, at_b1, at_b2;
  auto sa = a->bind("a:1", at_a.fn(rt)).value();
  auto sb1 = b->bind("b:1", at_b1.fn(rt)).value();
  auto sb2 = b->bind("b:2", at_b2.fn(rt)).value();
  net.freeze("b");
  constexpr int n = static_cast<int>(troupe::sim::max_held_datagrams) + 44;
  for (const std::string& s : numbered(n)) send(*sa, "b:1", s);
  for (const std::string& s : numbered(3, 1000)) send(*sa, "b:2", s);
  send(*sb1, "a:1", "while frozen");
  rt.advance(10s);
  EXPECT_TRUE(at_b1.items.empty() && at_b2.items.empty()) << "a frozen host reads nothing";

  net.thaw("b");
  const troupe::time_point thawed = rt.now();
  rt.run();
  EXPECT_EQ(at_b1.payloads(), numbered(static_cast<int>(troupe::sim::max_held_datagrams)))
      << "the first 256 per socket, in arrival order";
  EXPECT_EQ(at_b2.payloads(), numbered(3, 1000)) << "each socket holds its own";
  for (const inbox::item& i : at_b1.items) EXPECT_EQ(i.at, thawed);
  rt.advance(10s);
  EXPECT_TRUE(at_a.items.empty()) << "a frozen host sends nothing";
  EXPECT_EQ(net.datagram_stats("b").dropped, 44u + 1u) << "44 beyond the limit, 1 of its own";
  EXPECT_EQ(net.datagram_stats("b").sent, 1u);

  send(*sa, "b:1", "thawed");
  send(*sb1, "a:1", "awake");
  rt.advance(1ms);
  EXPECT_EQ(at_b1.items.back().data, "thawed");
  EXPECT_EQ(at_a.payloads(), std::vector<std::string>{"awake"});
}

TEST(sim_datagram, close_stops_callbacks_and_frees_the_port) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  inbox in, later;
  auto sa = a->bind("a:1", [](auto, auto) {}).value();
  auto sb = b->bind("b:1", in.fn(rt)).value();
  send(*sa, "b:1", "in flight");
  sb->close();
  sb->close();
  auto sb2 = b->bind("b:1", later.fn(rt)).value();
  EXPECT_EQ(sb2->local_address(), "b:1") << "close() freed the port";
  rt.advance(1ms);
  EXPECT_TRUE(in.items.empty()) << "no callback after close()";
  EXPECT_EQ(later.payloads(), std::vector<std::string>{"in flight"})
      << "a datagram goes to whoever is bound when it arrives";

  // Closing from inside the callback: nothing more, even at the same instant.
  int calls = 0;
  std::shared_ptr<troupe::datagram_socket> self;
  self = b->bind("b:2", [&](auto, auto) {
            ++calls;
            self->close();
          }).value();
  send(*sa, "b:2", "one");
  send(*sa, "b:2", "two");
  rt.advance(1ms);
  EXPECT_EQ(calls, 1);

  // Destroying the socket from inside its own callback, and stopping its
  // transport from inside another's: nothing more either.
  int dropped_calls = 0, stopping_calls = 0;
  auto b4 = net.host("b");
  std::shared_ptr<troupe::datagram_socket> doomed = b->bind("b:4", [&](auto, auto) {
                                                       ++dropped_calls;
                                                       doomed.reset();
                                                     }).value();
  auto stopping = b4->bind("b:5", [&](auto, auto) {
                      ++stopping_calls;
                      b4->stop();
                    }).value();
  for (const char* to : {"b:4", "b:4", "b:5", "b:5"}) send(*sa, to, "x");
  rt.advance(1ms);
  EXPECT_EQ(dropped_calls, 1);
  EXPECT_EQ(stopping_calls, 1);
  EXPECT_EQ(stopping->send_to("a:1", bytes_of("x")).error().code(), errc::shutting_down);

  // Destroying the socket closes it.
  sb2.reset();
  send(*sa, "b:1", "to nobody");
  rt.advance(1ms);
  EXPECT_EQ(later.items.size(), 1u);
  EXPECT_TRUE(b->bind("b:1", later.fn(rt)).has_value()) << "destroying freed the port";

  // stop() closes every socket of the transport.
  inbox stopped;
  auto b2 = net.host("b");
  auto sb3 = b2->bind("b:3", stopped.fn(rt)).value();
  send(*sa, "b:3", "before stop");
  b2->stop();
  rt.advance(1ms);
  EXPECT_TRUE(stopped.items.empty()) << "no callback after stop()";
  EXPECT_TRUE(b->bind("b:3", stopped.fn(rt)).has_value()) << "stop() freed the port";
}

TEST(sim_datagram, stats_count_each_host_sends_deliveries_and_drops) {
  troupe::sim::runtime rt;
  troupe::sim::network net(rt);
  auto a = net.host("a");
  auto b = net.host("b");
  inbox in;
  auto sa = a->bind("a:1", in.fn(rt)).value();
  auto sb = b->bind("b:1", in.fn(rt)).value();
  send(*sa, "b:1", std::string(10, 'x'));
  send(*sa, "b:1", std::string(20, 'x'));
  send(*sa, "b:2", std::string(30, 'x'));    // nobody bound: dropped at b
  send(*sa, "zed:1", std::string(40, 'x'));  // unknown host: dropped at a
  send(*sb, "a:1", std::string(5, 'y'));
  EXPECT_FALSE(sa->send_to("b:1", bytes_of(std::string(troupe::max_datagram_size + 1, 'x'))))
      << "refused: not counted";
  rt.advance(1ms);
  const troupe::sim::datagram_stats sa_stats = net.datagram_stats("a");
  const troupe::sim::datagram_stats sb_stats = net.datagram_stats("b");
  EXPECT_EQ(sa_stats.sent, 4u);
  EXPECT_EQ(sa_stats.bytes_sent, 100u);
  EXPECT_EQ(sa_stats.delivered, 1u);
  EXPECT_EQ(sa_stats.dropped, 1u);
  EXPECT_EQ(sb_stats.sent, 1u);
  EXPECT_EQ(sb_stats.bytes_sent, 5u);
  EXPECT_EQ(sb_stats.delivered, 2u);
  EXPECT_EQ(sb_stats.dropped, 1u);
  const troupe::sim::datagram_stats none = net.datagram_stats("zed");
  EXPECT_EQ(none.sent + none.delivered + none.dropped + none.bytes_sent, 0u);
}

TEST(sim_datagram, sockets_go_quiet_when_the_network_goes_first) {
  troupe::sim::runtime rt;
  std::shared_ptr<troupe::transport> a, b;
  std::shared_ptr<troupe::datagram_socket> sa, sb;
  int calls = 0;
  {
    troupe::sim::network net(rt);
    a = net.host("a");
    b = net.host("b");
    sa = a->bind("a:1", [&](auto, auto) { ++calls; }).value();
    sb = b->bind("b:1", [&](auto, auto) { ++calls; }).value();
    send(*sa, "b:1", "in flight");
    rt.run();
  }
  EXPECT_EQ(sb->send_to("a:1", bytes_of("x")).error().code(), errc::shutting_down);
  EXPECT_EQ(sb->local_address(), "b:1");
  sb->close();
  rt.advance(1s);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(a->bind("a:2", [](auto, auto) {}).error().code(), errc::node_down)
      << "like listen() once the network is gone";
  a.reset();  // the transport goes before its socket
  EXPECT_EQ(sa->send_to("b:1", bytes_of("x")).error().code(), errc::shutting_down);
}

/// Runs a scenario with jitter, loss, duplication and faults; returns what
/// arrived, when and from whom.
std::vector<std::string> scenario(std::uint64_t seed) {
  troupe::sim::runtime rt(seed);
  troupe::sim::network net(rt, {.jitter = 700us, .datagram_loss = 0.2, .datagram_duplicate = 0.1});
  std::vector<std::string> trace;
  const troupe::time_point t0 = rt.now();
  auto record = [&](std::string_view from, std::span<const std::byte> d) {
    trace.push_back(std::to_string((rt.now() - t0) / 1us) + "us " + std::string(from) + " " +
                    std::string(reinterpret_cast<const char*>(d.data()), d.size()));
  };
  auto a = net.host("a");
  auto b = net.host("b");
  auto c = net.host("c");
  auto sa = a->bind("a:0", record).value();
  auto sb = b->bind("b:0", record).value();
  auto sc = c->bind("c:0", record).value();
  for (int round = 0; round < 40; ++round) {
    const std::string r = std::to_string(round);
    send(*sa, sb->local_address(), "a" + r);
    send(*sb, sc->local_address(), "b" + r);
    send(*sc, sa->local_address(), "c" + r);
    if (round == 10) net.partition({"a"}, {"b"});
    if (round == 15) net.heal();
    if (round == 20) net.freeze("c");
    if (round == 25) net.thaw("c");
    rt.advance(300us);
  }
  rt.advance(1s);
  return trace;
}

TEST(sim_datagram, the_same_seed_replays_the_same_trace) {
  const std::vector<std::string> first = scenario(21);
  ASSERT_GT(first.size(), 60u);
  EXPECT_EQ(scenario(21), first);
  EXPECT_NE(scenario(22), first) << "delays, losses and copies come from the seed";
}

}  // namespace
