// The swim engine's way back to members it cannot see: seeds and addresses
// found by discovery get the full state until they are live members, and
// members held dead are told so (a live one refutes). This is what heals
// partitions, however long they lasted.

#include <algorithm>

#include "troupe/cluster/swim.hpp"

namespace troupe::cluster {

void swim::join(std::vector<std::string> seeds) {
  seeds_ = std::move(seeds);
  for (const std::string& seed : seeds_)
    if (seed != self_.address) sync_with(seed);
}

void swim::discovered(const std::vector<std::string>& addresses) {
  if (left_) return;
  const time_point now = clock_.now();
  for (const std::string& address : addresses) {
    auto it = discovered_.find(address);
    if (it != discovered_.end()) {
      it->second = now;  // renewed; the reconnect loop keeps trying it
      continue;
    }
    if (discovered_.size() >= max_discovered) continue;
    discovered_.emplace(address, now);
    if (!live_address(address)) sync_with(address);
  }
}

bool swim::live_address(std::string_view address) const {
  if (address == self_.address) return true;
  return std::any_of(members_.begin(), members_.end(), [&](const auto& kv) {
    return is_live(kv.second.info.state) && kv.second.info.address == address;
  });
}

void swim::reconnect_round() {
  // The dead worth telling: per address, only the newest life this member
  // knows (an earlier life's verdict means nothing to whoever runs there
  // now), in the map's order. They are told in turn, so after a partition
  // each hears within as many rounds as there are of them.
  std::vector<const member*> dead;
  for (const auto& entry : members_) {
    const member& m = entry.second;
    if (m.info.state != member_state::dead) continue;
    const bool newer_life = std::any_of(members_.begin(), members_.end(), [&](const auto& kv) {
      return kv.second.info.address == m.info.address &&
             kv.second.info.key.generation > m.info.key.generation;
    });
    if (!newer_life) dead.push_back(&m);
  }
  if (!dead.empty()) {
    // A small packet that tells it it is held dead: if it is alive, it
    // refutes straight back, and its refutation spreads from here.
    const member* m = dead[reconnect_turn_++ % dead.size()];
    const member_update verdict = update_of(*m);
    packet g;
    g.kind = packet_kind::gossip;
    send_packet(m->info.address, g, &verdict);
  }
  for (const std::string& seed : seeds_)
    if (!live_address(seed)) sync_with(seed);
  const time_point now = clock_.now();
  std::erase_if(discovered_,
                [&](const auto& kv) { return now - kv.second > cfg_.discovered_retention; });
  for (const auto& [address, named] : discovered_)
    if (!live_address(address) && std::find(seeds_.begin(), seeds_.end(), address) == seeds_.end())
      sync_with(address);
}

}  // namespace troupe::cluster
