// Helpers shared by the CAF remote peers (caf_remote_*.cpp): how both
// processes configure CAF, how the server publishes its actor and how the
// client reaches it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "remote_common.hpp"

namespace bench::remote::caf_peer {

/// `workers` scheduler threads and the io module (middleman, BASP); every
/// other setting is CAF's default.
inline void configure(caf::actor_system_config& cfg, std::size_t workers) {
  cfg.set("scheduler.max-threads", workers);
  cfg.load<caf::io::middleman>();
}

/// The server's side: publishes `actor` on 127.0.0.1 (port 0), reports the
/// port and serves until the client lets it go, then stops the actor.
inline int serve_published(const server_link& link, caf::actor_system& system,
                           const caf::actor& actor) {
  auto port = system.middleman().publish(actor, 0, "127.0.0.1");
  if (!port) fail(("server: publish: " + system.render(port.error())).c_str());
  link.report_port(*port);
  link.wait_for_release();
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
  return 0;
}

/// The client's side: the actor the server published on `port`.
inline caf::actor remote(caf::actor_system& system, std::uint16_t port) {
  auto actor = system.middleman().remote_actor("127.0.0.1", port);
  if (!actor) fail(("client: remote_actor: " + system.render(actor.error())).c_str());
  return *actor;
}

}  // namespace bench::remote::caf_peer
