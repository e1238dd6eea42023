#pragma once

// The sim_cluster config of the cluster layer's own tests and benchmarks:
// nodes "c0", "c1", ... serving the net tests' actor types
// (troupe/net/testing/test_actors.hpp).

#include <cstddef>
#include <cstdint>

#include "troupe/cluster/testing/sim_cluster.hpp"
#include "troupe/net/testing/test_actors.hpp"

namespace troupe::cluster::testing {

/// Returns the config of `n` nodes "c<i>" on seed `seed`, with the test
/// actor types (counter, forwarder).
inline sim_cluster_config test_cluster(std::size_t n, std::uint64_t seed = 1) {
  sim_cluster_config cfg;
  cfg.nodes = n;
  cfg.seed = seed;
  cfg.prefix = "c";
  cfg.cookie = "cluster-secret";
  cfg.types = [] { return result<net::remote_types>(net::node_testing::test_types()); };
  return cfg;
}

}  // namespace troupe::cluster::testing
