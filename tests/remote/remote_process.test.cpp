// Remoting between real processes on loopback: a peer node program is
// started by the test, talked to over TCP, killed with SIGKILL and restarted.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "peer_process.hpp"
#include "remote_actors.hpp"
#include "troupe/core/testing/watchdog.hpp"
#include "troupe/net/node.hpp"

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

using remote_test::local_node;
using remote_test::peer_process;

TEST(remote_process, tell_ask_and_spawn_across_processes) {
  troupe::testing::watchdog dog("remote_process.tell_ask_and_spawn", 60s);
  peer_process peer("p1", "127.0.0.1:0");
  ASSERT_TRUE(peer.ready);
  local_node local;
  auto name = local.n->connect(peer.address).get();
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_EQ(*name, "p1");

  auto c = local.n->lookup<remote_test::counter>("p1", "svc/counter").get();
  ASSERT_TRUE(c) << c.error().message();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(c->tell(remote_test::add{i}));
  auto total = c->ask(remote_test::sum{}).get();
  ASSERT_TRUE(total) << total.error().message();
  EXPECT_EQ(*total, 499500);
  EXPECT_EQ(c->ask(remote_test::whoami{}).get().value(), "p1");

  auto spawned =
      local.n->spawn_on<remote_test::counter>("p1", "svc/spawned", std::string("spawned")).get();
  ASSERT_TRUE(spawned) << spawned.error().message();
  EXPECT_EQ(spawned->ask(remote_test::whoami{}).get().value(), "spawned");
}

TEST(remote_process, kill_9_ends_pending_asks_with_node_down_and_a_restart_is_a_new_life) {
  troupe::testing::watchdog dog("remote_process.kill_9", 90s);
  auto peer = std::make_unique<peer_process>("p2", "127.0.0.1:0");
  ASSERT_TRUE(peer->ready);
  const std::string address = peer->address;
  const std::uint64_t first_life = peer->incarnation;
  local_node local;
  ASSERT_TRUE(local.n->connect(address).get());
  auto c = local.n->lookup<remote_test::counter>("p2", "svc/counter").get().value();
  std::vector<troupe::down> downs;
  std::mutex mu;
  std::condition_variable cv;
  auto w = local.sys.watch(c, [&](const troupe::down& d) {
    {
      std::lock_guard lock(mu);
      downs.push_back(d);
    }
    cv.notify_all();
  });
  ASSERT_TRUE(w.active());

  auto pending = c.ask(remote_test::slow{20000}, 60s);  // the peer sits in it
  std::this_thread::sleep_for(100ms);                   // let the request reach the handler
  const auto killed = steady::now();
  peer->kill_now();
  auto r = pending.get();
  const auto waited = steady::now() - killed;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), troupe::errc::node_down) << r.error().message();
  EXPECT_LT(waited, 3500ms);
  {
    // The down and the ask's end come from the same session's end, on
    // whichever threads run them: the down may follow the ask by a moment.
    std::unique_lock lock(mu);
    cv.wait_for(lock, 3s, [&] { return !downs.empty(); });
    ASSERT_EQ(downs.size(), 1U);
    EXPECT_EQ(downs[0].reason.what(), troupe::exit_reason::kind::node_down);
  }

  // The peer comes back on the same address: a new incarnation.
  peer = std::make_unique<peer_process>("p2", address);
  ASSERT_TRUE(peer->ready);
  EXPECT_NE(peer->incarnation, first_life);
  auto again = local.n->connect(address).get();  // the node redials by itself; wait for it
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(c.tell(remote_test::add{1}).error(), troupe::errc::node_down);
  auto old = c.ask(remote_test::sum{}).get();
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code(), troupe::errc::node_down);
  auto fresh = local.n->lookup<remote_test::counter>("p2", "svc/counter").get();
  ASSERT_TRUE(fresh) << fresh.error().message();
  EXPECT_EQ(fresh->ask(remote_test::sum{}).get().value(), 0);
  std::lock_guard lock(mu);
  EXPECT_EQ(downs.size(), 1U);
}

// ---- Two hosts: two network namespaces joined by a veth pair ----

/// Runs a shell command with a time bound; returns its exit status.
int run(const std::string& cmd) {
  const int s = std::system(("timeout 20 " + cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
}

/// Two network namespaces and a veth pair between them (10.77.0.1 in the
/// first, 10.77.0.2 in the second), removed again at the end.
class two_hosts {
 public:
  two_hosts()
      : a_("troupe-a-" + std::to_string(getpid())), b_("troupe-b-" + std::to_string(getpid())) {
    const std::string va = "tva" + std::to_string(getpid() % 100000);
    const std::string vb = "tvb" + std::to_string(getpid() % 100000);
    ok = run("ip netns add " + a_) == 0 && run("ip netns add " + b_) == 0 &&
         run("ip link add " + va + " type veth peer name " + vb) == 0 &&
         run("ip link set " + va + " netns " + a_) == 0 &&
         run("ip link set " + vb + " netns " + b_) == 0 &&
         run("ip -n " + a_ + " addr add 10.77.0.1/24 dev " + va) == 0 &&
         run("ip -n " + b_ + " addr add 10.77.0.2/24 dev " + vb) == 0 &&
         run("ip -n " + a_ + " link set " + va + " up") == 0 &&
         run("ip -n " + b_ + " link set " + vb + " up") == 0 &&
         run("ip -n " + a_ + " link set lo up") == 0 && run("ip -n " + b_ + " link set lo up") == 0;
  }
  ~two_hosts() {
    run("ip netns del " + a_);  // takes its end of the veth pair with it
    run("ip netns del " + b_);
  }
  [[nodiscard]] const std::string& a() const { return a_; }
  [[nodiscard]] const std::string& b() const { return b_; }
  bool ok = false;

 private:
  std::string a_, b_;
};

TEST(remote_netns, two_hosts_over_a_veth_pair) {
  if (geteuid() != 0 || run("ip netns list") != 0) GTEST_SKIP() << "needs root and iproute2";
  troupe::testing::watchdog dog("remote_netns.two_hosts", 90s);
  two_hosts hosts;
  ASSERT_TRUE(hosts.ok) << "could not make the namespaces";
  peer_process peer("host-a", "10.77.0.1:0", {"ip", "netns", "exec", hosts.a()});
  ASSERT_TRUE(peer.ready);
  ASSERT_EQ(peer.address.rfind("10.77.0.1:", 0), 0U) << peer.address;
  // The client side is this test program again, run in the other namespace.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const int status =
      std::system(("TROUPE_NETNS_PEER=" + peer.address + " timeout 60 ip netns exec " + hosts.b() +
                   " " + self + " --gtest_filter=remote_netns_client.* >/dev/null 2>&1")
                      .c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the client in " << hosts.b() << " failed";
}

// Runs only inside the second namespace, started by the test above.
TEST(remote_netns_client, talks_to_the_peer_on_the_other_host) {
  const char* peer = std::getenv("TROUPE_NETNS_PEER");
  if (peer == nullptr) GTEST_SKIP() << "run by remote_netns.two_hosts_over_a_veth_pair";
  local_node local;
  auto name = local.n->connect(peer).get();
  ASSERT_TRUE(name) << name.error().message();
  EXPECT_EQ(*name, "host-a");
  auto c = local.n->lookup<remote_test::counter>("host-a", "svc/counter").get();
  ASSERT_TRUE(c) << c.error().message();
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(c->tell(remote_test::add{i}));
  EXPECT_EQ(c->ask(remote_test::sum{}).get().value(), 5050);
}

}  // namespace
