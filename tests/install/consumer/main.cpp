// A program outside troupe's tree, built against an installed troupe: it
// tests a tally actor on a simulated three-node cluster with the installed
// test kit. Exits 0 when every check passes.

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include <troupe/cluster/testing/sim_cluster.hpp>
#include <troupe/troupe.hpp>

using namespace std::chrono_literals;

struct add {
  static constexpr std::string_view type_name = "consumer.add";
  int n = 0;
};
struct sum {
  using reply = int;
  static constexpr std::string_view type_name = "consumer.sum";
};

class tally : public troupe::actor<tally> {
 public:
  static constexpr std::string_view type_name = "consumer.tally";
  using handles = troupe::handles<add, sum>;
  void handle(const add& m) { total_ += m.n; }
  int handle(const sum&) { return total_; }

 private:
  int total_ = 0;
};

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

int main() {
  using troupe::cluster::member_state;
  using troupe::cluster::testing::sim_cluster;
  using troupe::cluster::testing::types_of;
  try {
    sim_cluster c({.nodes = 3, .seed = 7, .types = types_of<tally>()});
    check(c.run_until([&] { return c.one_view() && c.full_mesh(); }, 10s),
          "three nodes form one cluster");
    auto t = c.sys(1).spawn<tally>().value();
    check(static_cast<bool>(c.sys(1).receptionist().check_in("tally", t)), "n1 checks a tally in");
    check(c.run_until(
              [&] {
                return c.sys(0).receptionist().lookup<tally>("tally") &&
                       c.sys(2).receptionist().lookup<tally>("tally");
              },
              2s),
          "n0 and n2 find it");
    auto from_n0 = c.sys(0).receptionist().lookup<tally>("tally");
    auto from_n2 = c.sys(2).receptionist().lookup<tally>("tally");
    (void)from_n0.tell(add{2});
    (void)from_n2.tell(add{40});
    c.advance(100ms);
    auto total = from_n0.ask(sum{}, 2s);
    check(c.run_until([&] { return total.ready(); }, 3s), "the ask from n0 ends");
    auto got = std::move(total).get();
    check(got && *got == 42, "the tally on n1 counted what n0 and n2 sent");
    c.crash(1);
    check(c.run_until(
              [&] {
                return c.all_see({0, 2}, 1, member_state::dead);
              },
              10s),
          "n0 and n2 find n1 dead after a crash");
  } catch (const std::exception& e) {
    std::printf("  FAIL %s\n", e.what());
    ++failures;
  }
  std::printf("consumer: %s\n", failures == 0 ? "all checks passed" : "some checks FAILED");
  return failures == 0 ? 0 : 1;
}
