#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "troupe/codec/binary_reader.hpp"
#include "troupe/core/response.hpp"
#include "troupe/core/transport.hpp"
#include "troupe/core/watch.hpp"
#include "troupe/net/frame.hpp"
#include "troupe/net/handshake.hpp"
#include "troupe/net/reassembler.hpp"
#include "troupe/net/write_queue.hpp"

namespace troupe::net {

class session;

/// What a session reports to the node that owns it. Called on the link's
/// reading thread, never under the session's lock.
class session_owner {
 public:
  virtual ~session_owner() = default;
  /// The peer's hello names `claimed` (not proven yet): returns none to go
  /// on, or the reason to refuse (an acceptor only).
  virtual handshake_failure vet(session& s, const handshake_peer& claimed) = 0;
  /// The handshake succeeded: the peer is s.peer().
  virtual void on_authenticated(session& s) = 0;
  /// A whole message, request, response or control payload arrived (after
  /// the handshake; chunks already joined). The payload is valid during the
  /// call only.
  virtual void on_frame(session& s, const frame& f) = 0;
  /// The session ended (once). Pending requests have been failed already.
  virtual void on_closed(session& s, const error& why) = 0;
  /// Writes one line to the node's log.
  virtual void log(std::string_view line) = 0;
};

/// An ask sent to the peer, waiting for its response.
struct pending_request {
  ref_ptr<troupe::detail::reply_base> reply;
  /// Reads the reply from `r` and completes `reply` with it (or with a
  /// decode_error).
  void (*complete)(troupe::detail::reply_base& reply, codec::binary_reader& r, session& s,
                   const void* context) = nullptr;
  const void* context = nullptr;
};

/// Limits and timings of one session.
struct session_options {
  std::size_t max_frame_size = default_max_frame_size;
  reassembly_limits reassembly{};
  write_queue_options writes{};
  /// Sends beyond this many queued bytes are refused (back-pressure).
  std::size_t max_queued_bytes = std::size_t{64} << 20;
  /// Bytes a writer takes per write.
  std::size_t max_write = std::size_t{256} << 10;
};

/// One connection to another node: the handshake, then frames both ways,
/// heartbeats, pending requests and watches across it.
///
/// The reading side (on_bytes) runs on the link's thread; send(), request()
/// and close() may be called from any thread.
class session final : public link_handler, public std::enable_shared_from_this<session> {
 public:
  session(session_owner& owner, std::shared_ptr<link> l, handshake hs, session_options opts,
          clock& time);
  ~session() override;
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Starts reading and sends this side's hello.
  void begin();

  /// Queues one frame and wakes the writer. Fails with node_down once the
  /// session is closing, mailbox_full above max_queued_bytes, and
  /// invalid_argument for a frame that breaks the protocol.
  result<void> send(frame_kind kind, std::uint64_t id, std::span<const std::byte> payload);
  /// Sends a request with a fresh id and remembers `p` until its response
  /// (or the session's end, which completes it with node_down).
  result<std::uint64_t> request(std::span<const std::byte> payload, pending_request p);
  /// Removes and returns the pending request `id` (empty reply if none).
  pending_request take_pending(std::uint64_t id);
  /// Returns true when `id` names a request this session sent (pending or
  /// not any more).
  [[nodiscard]] bool issued(std::uint64_t id) const;
  /// Forgets the pending requests whose ask has already ended here (by its
  /// deadline, or abandoned and then timed out): their response, if it ever
  /// comes, is dropped. Returns how many were forgotten.
  std::size_t sweep_pending();
  /// Returns how many requests wait for their response.
  [[nodiscard]] std::size_t pending_count() const;

  /// Remembers a watch this node placed on the peer's actor; `entry` is told
  /// exactly once (by a down from the peer, or node_down at the session's
  /// end). Returns false when the session has ended (nothing stored).
  bool add_watch_out(std::uint64_t token, actor_id target, ref_ptr<watch_entry> entry);
  /// Removes and returns the watch `token` (empty if none).
  ref_ptr<watch_entry> take_watch_out(std::uint64_t token, actor_id* target = nullptr);
  /// Remembers a watch the peer placed on a local actor (so it can be removed
  /// when the session ends).
  void add_watch_in(std::uint64_t token, ref_ptr<actor_handle> target, std::uint64_t local_token);
  /// Forgets the peer's watch `token` and removes it from the local actor.
  void remove_watch_in(std::uint64_t token);

  /// Closes the session with `reason` (logged): a goodbye is sent when
  /// `orderly`, then the link closes. Safe to call more than once.
  void close(const error& reason, bool orderly = false);

  /// Sends a heartbeat, forgets pending requests whose ask has ended here
  /// (sweep_pending), ends a handshake past its deadline and closes a
  /// session whose peer has been silent for `peer_timeout`.
  void tick(time_point now, duration peer_timeout);

  [[nodiscard]] bool authenticated() const noexcept { return authenticated_.load(); }
  [[nodiscard]] bool closed() const noexcept { return closed_.load(); }
  /// Returns the proven peer (valid once authenticated()).
  [[nodiscard]] const handshake_peer& peer() const noexcept { return peer_; }
  [[nodiscard]] handshake_role role() const noexcept { return role_; }
  [[nodiscard]] session_owner& owner() const noexcept { return owner_; }
  [[nodiscard]] const std::string& remote_address() const noexcept { return address_; }
  /// Returns "name@address" for logs.
  [[nodiscard]] std::string describe() const;

  // link_handler
  void on_bytes(std::span<const std::byte> data) override;
  std::size_t pull(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes) override;
  void written(std::size_t n) override;
  void on_closed(const error& why) override;

 private:
  void handle_frame(const frame& f);
  void on_handshake_frame(std::span<const std::byte> payload);
  void queue_handshake(const std::vector<handshake::message>& msgs);
  void fail(const error& why);  // a protocol violation: log and close

  session_owner& owner_;
  std::shared_ptr<link> link_;
  session_options opts_;
  handshake_role role_;
  std::string address_;
  handshake_peer peer_;
  time_point handshake_deadline_;

  // Reading side: one thread at a time.
  handshake hs_;
  bool vetted_ = false;
  frame_parser parser_;
  reassembler reassembler_;

  mutable std::mutex mu_;  // guards what follows
  write_queue out_;
  std::unordered_map<std::uint64_t, pending_request> pending_;
  struct watch_out {
    actor_id target;
    ref_ptr<watch_entry> entry;
  };
  std::unordered_map<std::uint64_t, watch_out> watches_out_;
  struct watch_in {
    ref_ptr<actor_handle> target;
    std::uint64_t local_token;
  };
  std::unordered_map<std::uint64_t, watch_in> watches_in_;
  std::uint64_t next_request_ = 1;
  std::uint64_t next_heartbeat_ = 1;
  bool closing_ = false;
  std::atomic<bool> closing_seen_{false};  // closing_, for the read path to check without mu_
  std::optional<error> reason_;            // why close() was called, if it was

  clock& clock_;
  std::atomic<duration::rep> last_heard_;  // time_since_epoch of the last bytes read
  std::atomic<bool> authenticated_{false};
  std::atomic<bool> closed_{false};
  std::atomic<bool> close_logged_{false};
};

}  // namespace troupe::net
