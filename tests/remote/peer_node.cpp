// A troupe node in a process of its own, for the multi-process tests:
//   troupe_peer_node <name> <listen host:port> <cookie> [<ca> <cert> <key>]
// (the three files turn on mutual TLS). It starts its node from the config
// alone, checks a counter in as "svc/counter", prints
//   READY <address> <incarnation>
// on standard output and serves until standard input closes (or a signal).
#include <cstdio>
#include <iostream>
#include <string>

#include "remote_actors.hpp"
#include "troupe/net/node.hpp"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 7) {
    std::cerr << "usage: troupe_peer_node <name> <host:port> <cookie> [<ca> <cert> <key>]\n";
    return 2;
  }
  troupe::system sys;
  troupe::net::node_config cfg;
  cfg.name = argv[1];
  cfg.listen = argv[2];
  cfg.cookie = argv[3];
  if (argc == 7) cfg.tls = troupe::net::tls_config{argv[4], argv[5], argv[6]};
  auto node = troupe::net::node::start(sys, cfg, remote_test::types());
  if (!node) {
    std::cerr << "node: " << node.error().message() << "\n";
    return 1;
  }
  auto c = sys.spawn<remote_test::counter>(std::string(argv[1])).value();
  if (!sys.receptionist().check_in("svc/counter", c)) return 1;
  std::cout << "READY " << (*node)->address() << " " << (*node)->incarnation() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  (*node)->stop();
  return 0;
}
