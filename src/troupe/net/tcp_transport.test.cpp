#include "troupe/net/tcp_transport.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "troupe/net/testing/link_recorder.hpp"

namespace troupe::net {
namespace {

using namespace std::chrono_literals;
using namespace troupe::net::testing;

TEST(TcpTransport, ListenReturnsTheBoundAddress) {
  accept_box box;
  auto t = make_transport();
  auto a = t->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(a->starts_with("127.0.0.1:"));
  EXPECT_NE(std::stoul(a->substr(10)), 0u);
  auto b = t->listen("localhost:0", box.fn());
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(b->find("localhost"), std::string::npos) << *b;
}

TEST(TcpTransport, BadAddressesAreInvalidArguments) {
  accept_box box;
  auto t = make_transport();
  for (const char* a :
       {"", "nonsense", "127.0.0.1", "127.0.0.1:", ":7000", "127.0.0.1:99999", "127.0.0.1:7x",
        "127.0.0.1:-1", "::1:7000", "[::1]7000", "[::1", "[]:7000"}) {
    auto r = t->listen(a, box.fn());
    ASSERT_FALSE(r) << a;
    EXPECT_EQ(r.error(), errc::invalid_argument) << a;
    EXPECT_FALSE(r.error().detail().empty());
    auto d = dial(*t, a);
    ASSERT_FALSE(d) << a;
    EXPECT_EQ(d.error(), errc::invalid_argument) << a << ": " << d.error().message();
  }
  // Well formed, but not ours to bind, or taken.
  auto foreign = t->listen("192.0.2.1:0", box.fn());
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error(), errc::invalid_argument);
  auto first = t->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(first);
  auto again = t->listen(*first, box.fn());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), errc::invalid_argument) << again.error().message();
}

TEST(TcpTransport, MakeRejectsBadConfigurations) {
  const auto rejects = [](tcp_transport_config c) {
    auto t = tcp_transport::make(std::move(c));
    return !t && t.error() == errc::invalid_argument && !t.error().detail().empty();
  };
  tcp_transport_config c;
  c.io_threads = 0;
  EXPECT_TRUE(rejects(c));
  c = {};
  c.read_buffer_size = 0;
  EXPECT_TRUE(rejects(c));
  c = {};
  c.max_write_bytes = 0;
  EXPECT_TRUE(rejects(c));
  c = {};
  c.dial_timeout = duration::zero();
  EXPECT_TRUE(rejects(c));
}

TEST(TcpTransport, EchoesOverLoopback) {
  auto j = join(with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  EXPECT_EQ(c->remote_address(), *address);
  EXPECT_TRUE(s->remote_address().starts_with("127.0.0.1:"));
  EXPECT_TRUE(c->channel_binding().empty());
  EXPECT_TRUE(s->channel_binding().empty());

  auto echo = recorder::make(true);
  auto rec = recorder::make();
  echo->start(s);
  rec->start(c);
  rec->send(as_bytes("hello, "));
  rec->send(as_bytes("troupe"));
  ASSERT_TRUE(rec->wait_received(13));
  EXPECT_EQ(rec->received_string(), "hello, troupe");
  EXPECT_EQ(echo->received_string(), "hello, troupe");
  stop_both(*j, *rec, *echo);
}

TEST(TcpTransport, WakesBeforeStartAreKept) {
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  c->wake();  // nothing to pull yet: must not call anything
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->send(as_bytes("early"));  // no link yet: nothing woken
  rec->start(c);
  c->wake();
  ASSERT_TRUE(sink->wait_received(5));
  EXPECT_EQ(sink->received_string(), "early");
}

TEST(TcpTransport, CoalescesWakesThatArriveDuringAWrite) {
  auto j = join(with_threads(2), with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->hold_next_pull();
  rec->start(c);
  std::thread writer([l = c] { l->wake(); });  // becomes the writer, held in pull()
  ASSERT_TRUE(rec->wait_held());
  produce(*rec);  // every wake finds the write under way
  rec->release_pull();
  writer.join();
  ASSERT_TRUE(sink->wait_received(produced_bytes));
  expect_complete_and_in_order(sink->received());
  const std::size_t wakes = std::size_t{producers} * per_producer;
  EXPECT_LT(rec->nonempty_pulls() * 100, wakes) << rec->nonempty_pulls() << " writes";
  EXPECT_EQ(rec->violations(), 0);
  EXPECT_EQ(sink->violations(), 0);
}

// A wake soon after the previous write leaves the write to the transport's
// threads (which gather a burst into few writes); a wake after a quiet spell
// writes at once on the caller's thread. The gap is an hour here, so the
// second message always counts as part of a burst, or zero: never.
TEST(TcpTransport, LeavesBurstsToItsThreadsAndWritesALoneMessageAtOnce) {
  for (const auto gap : {duration(std::chrono::hours(1)), duration::zero()}) {
    SCOPED_TRACE(gap.count());
    tcp_transport_config config;
    config.inline_write_gap = gap;
    auto j = join({}, config);
    ASSERT_TRUE(j);
    auto& [box, server, client, address, c, s] = *j;
    auto sink = recorder::make();
    sink->start(s);
    auto rec = recorder::make();
    rec->start(c);
    sink->send(as_bytes("hi"));  // once it arrives, the client's link is started
    ASSERT_TRUE(rec->wait_received(2));
    rec->send(as_bytes("first"));
    ASSERT_TRUE(sink->wait_received(5));
    rec->send(as_bytes("second"));
    ASSERT_TRUE(sink->wait_received(11));
    EXPECT_EQ(sink->received_string(), "firstsecond");
    const auto threads = rec->pull_threads();
    ASSERT_EQ(threads.size(), 2u);
    EXPECT_EQ(threads[0], std::this_thread::get_id());  // nothing written before: at once
    if (gap == duration::zero()) {
      EXPECT_EQ(threads[1], std::this_thread::get_id());
    } else {
      EXPECT_NE(threads[1], std::this_thread::get_id());
    }
    client->stop();
    server->stop();
    EXPECT_EQ(rec->violations(), 0);
  }
}

TEST(TcpTransport, DeliversWritesFromManyThreadsCompleteAndInOrder) {
  auto j = join(with_threads(2), with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->start(c);
  produce(*rec);
  ASSERT_TRUE(sink->wait_received(produced_bytes));
  expect_complete_and_in_order(sink->received());
  // Writes happen inline when no write is under way, so how many wakes
  // share a write depends on how the producers' threads are scheduled.
  std::cout << "[   info   ] " << producers * per_producer << " wakes, " << rec->nonempty_pulls()
            << " writes\n";
  EXPECT_LE(rec->nonempty_pulls(), std::size_t{producers} * per_producer + 1);
  EXPECT_EQ(rec->violations(), 0);
  EXPECT_EQ(sink->violations(), 0);
}

TEST(TcpTransport, TransfersLargeStreamsBothWays) {
  constexpr std::size_t size = std::size_t{64} << 20;
  const auto up = make_pattern(size, 1);
  const auto down = make_pattern(size, 2);
  auto j = join(with_threads(2), with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto at_server = std::make_shared<streamer>(down, up);
  auto at_client = std::make_shared<streamer>(up, down);
  s->start(at_server);
  c->start(at_client);
  s->wake();
  c->wake();
  ASSERT_TRUE(at_server->wait_received(size));
  ASSERT_TRUE(at_client->wait_received(size));
  EXPECT_EQ(at_server->mismatches(), 0);
  EXPECT_EQ(at_client->mismatches(), 0);
}

TEST(TcpTransport, PeerCloseEndsTheOtherSideOnce) {
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto srec = recorder::make();
  auto crec = recorder::make();
  srec->start(s);
  crec->start(c);
  c->close();
  c->close();
  ASSERT_TRUE(srec->wait_closed());
  EXPECT_EQ(srec->why(), errc::node_down);
  EXPECT_EQ(srec->why().detail(), "connection closed by peer");
  ASSERT_TRUE(crec->wait_closed());
  EXPECT_EQ(crec->why(), errc::node_down);
  EXPECT_EQ(crec->why().detail(), "closed by this side");
  c->wake();
  s->close();
  stop_both(*j, *srec, *crec);
}

TEST(TcpTransport, CloseFlushesWhatIsPending) {
  constexpr std::size_t size = std::size_t{8} << 20;
  const auto data = make_pattern(size, 3);
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->start(c);
  rec->send(*data);
  c->close();
  ASSERT_TRUE(sink->wait_closed());
  EXPECT_EQ(sink->why().detail(), "connection closed by peer");
  EXPECT_TRUE(sink->received() == *data);
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  EXPECT_EQ(rec->violations(), 0);
}

TEST(TcpTransport, CloseGivesUpWhenThePeerNeverCloses) {
  tcp_transport_config quick;
  quick.close_timeout = 200ms;
  auto j = join({}, quick);  // the server never starts its link: never reads, never closes
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto rec = recorder::make();
  rec->start(c);
  rec->send(as_bytes("bye"));
  c->close();
  ASSERT_TRUE(rec->wait_closed());
  EXPECT_EQ(rec->why(), errc::node_down);
  EXPECT_EQ(rec->why().detail(), "closed by this side");
  EXPECT_EQ(rec->violations(), 0);
}

TEST(TcpTransport, CloseBeforeStartIsReportedAtStart) {
  auto j = join();
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto crec = recorder::make();
  crec->start(c);
  s->close();
  ASSERT_TRUE(crec->wait_closed());  // the server's side is gone
  EXPECT_EQ(crec->why().detail(), "connection closed by peer");
  auto srec = recorder::make();
  srec->start(s);
  ASSERT_TRUE(srec->wait_closed());
  EXPECT_EQ(srec->why(), errc::node_down);
  server->stop();
  EXPECT_EQ(srec->closed(), 1);
}

TEST(TcpTransport, DialToAClosedPortIsNodeDown) {
  accept_box box;
  std::string address;
  {
    auto gone = make_transport();
    auto a = gone->listen("127.0.0.1:0", box.fn());
    ASSERT_TRUE(a);
    address = *a;
  }
  auto t = make_transport();
  auto r = dial(*t, address);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::node_down);
  EXPECT_NE(r.error().detail().find("refused"), std::string::npos) << r.error().message();
}

TEST(TcpTransport, StopClosesLiveLinks) {
  accept_box box;
  auto server = make_transport(with_threads(2));
  auto client = make_transport();
  auto address = server->listen("127.0.0.1:0", box.fn());
  ASSERT_TRUE(address);
  std::vector<link_pair> pairs;
  std::vector<std::shared_ptr<recorder>> srecs;
  std::vector<std::shared_ptr<recorder>> crecs;
  for (int i = 0; i < 3; ++i) {
    pairs.push_back(connect(*client, *address, box));
    ASSERT_TRUE(pairs.back().client && pairs.back().server);
    srecs.push_back(recorder::make(true));
    crecs.push_back(recorder::make());
    srecs.back()->start(pairs.back().server);
    crecs.back()->start(pairs.back().client);
  }
  crecs[0]->send(as_bytes("ping"));
  ASSERT_TRUE(crecs[0]->wait_received(4));
  auto unstarted = connect(*client, *address, box);
  ASSERT_TRUE(unstarted.server);

  server->stop();
  for (auto& r : srecs) {  // at once: stop() waited for them
    EXPECT_EQ(r->closed(), 1);
    EXPECT_EQ(r->why(), errc::shutting_down);
    EXPECT_EQ(r->violations(), 0);
  }
  for (auto& r : crecs) {
    ASSERT_TRUE(r->wait_closed());
    EXPECT_EQ(r->why(), errc::node_down);
  }
  // The transport is gone: links stay valid objects that do nothing.
  pairs[0].server->wake();
  pairs[0].server->close();
  auto late = recorder::make();
  late->start(unstarted.server);
  EXPECT_EQ(late->closed(), 0);
  auto l = server->listen("127.0.0.1:0", box.fn());
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error(), errc::shutting_down);
  bool answered = false;
  server->dial(*address, [&](result<link_ptr> r) {
    answered = true;
    EXPECT_EQ(r.error(), errc::shutting_down);
  });
  EXPECT_TRUE(answered);
  server->stop();  // again: nothing left to do
}

TEST(TcpTransport, StopWhileOtherThreadsWrite) {
  auto j = join({}, with_threads(2));
  ASSERT_TRUE(j);
  auto& [box, server, client, address, c, s] = *j;
  auto sink = recorder::make();
  sink->start(s);
  auto rec = recorder::make();
  rec->start(c);
  std::atomic<bool> done{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&] {
      const std::array<std::byte, 64> chunk{};
      while (!done.load()) rec->send(chunk);
    });
  }
  ASSERT_TRUE(sink->wait_received(1 << 20));
  client->stop();
  EXPECT_EQ(rec->closed(), 1);
  EXPECT_EQ(rec->why(), errc::shutting_down);
  rec->send(as_bytes("after stop"));
  done = true;
  for (auto& p : producers) p.join();
  EXPECT_EQ(rec->violations(), 0);
  ASSERT_TRUE(sink->wait_closed());
}

TEST(TcpTransport, ListensAndDialsOverIpv6) {
  accept_box box;
  auto t = make_transport();
  auto address = t->listen("[::1]:0", box.fn());
  if (!address) GTEST_SKIP() << "no IPv6 loopback: " << address.error().message();
  ASSERT_TRUE(address->starts_with("[::1]:")) << *address;
  auto [c, s] = connect(*t, *address, box);
  ASSERT_TRUE(c && s);
  EXPECT_EQ(c->remote_address(), *address);
  auto echo = recorder::make(true);
  echo->start(s);
  auto rec = recorder::make();
  rec->start(c);
  rec->send(as_bytes("v6"));
  ASSERT_TRUE(rec->wait_received(2));
  EXPECT_EQ(rec->received_string(), "v6");
}

}  // namespace
}  // namespace troupe::net
