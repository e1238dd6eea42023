#include "troupe/net/session.hpp"

#include <chrono>
#include <utility>

namespace troupe::net {

namespace {

std::string millis(duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

session::session(session_owner& owner, std::shared_ptr<link> l, handshake hs, session_options opts,
                 clock& time)
    : owner_(owner),
      link_(std::move(l)),
      opts_(opts),
      role_(hs.role()),
      address_(link_->remote_address()),
      handshake_deadline_(hs.deadline()),
      hs_(std::move(hs)),
      parser_(opts.max_frame_size),
      reassembler_(opts.reassembly),
      out_(opts.writes),
      clock_(time),
      last_heard_(time.now().time_since_epoch().count()) {}

session::~session() = default;

std::string session::describe() const {
  std::string who = authenticated() ? peer_.name : std::string("(unauthenticated)");
  return who + "@" + address_;
}

void session::begin() {
  // The hello is queued before the link starts reading, so that the reading
  // side owns the handshake from the first byte on.
  std::vector<handshake::message> hello = hs_.start();
  {
    std::lock_guard lock(mu_);
    for (auto& m : hello) (void)out_.push(frame_kind::handshake, 0, m);
  }
  link_->start(shared_from_this());
  link_->wake();
}

result<void> session::send(frame_kind kind, std::uint64_t id, std::span<const std::byte> payload) {
  {
    std::lock_guard lock(mu_);
    if (closing_) return error(errc::node_down, "the session to " + describe() + " is closed");
    if (!is_control_kind(kind) && out_.queued_bytes() > opts_.max_queued_bytes)
      return error(errc::mailbox_full, "more than " + std::to_string(opts_.max_queued_bytes) +
                                           " bytes queued for " + describe());
    if (result<void> r = out_.push(kind, id, payload); !r) return r;
  }
  link_->wake();
  return {};
}

result<std::uint64_t> session::request(std::span<const std::byte> payload, pending_request p) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (closing_) return error(errc::node_down, "the session to " + describe() + " is closed");
    if (out_.queued_bytes() > opts_.max_queued_bytes)
      return error(errc::mailbox_full, "more than " + std::to_string(opts_.max_queued_bytes) +
                                           " bytes queued for " + describe());
    id = next_request_++;
    if (result<void> r = out_.push(frame_kind::request, id, payload); !r) return r.error();
    pending_.emplace(id, std::move(p));
  }
  link_->wake();
  return id;
}

pending_request session::take_pending(std::uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return {};
  pending_request p = std::move(it->second);
  pending_.erase(it);
  return p;
}

bool session::issued(std::uint64_t id) const {
  std::lock_guard lock(mu_);
  return id != 0 && id < next_request_;
}

std::size_t session::sweep_pending() {
  std::vector<ref_ptr<troupe::detail::reply_base>> ended;  // released outside the lock
  {
    std::lock_guard lock(mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.reply->done()) {
        ended.push_back(std::move(it->second.reply));
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return ended.size();
}

std::size_t session::pending_count() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

bool session::add_watch_out(std::uint64_t token, actor_id target, ref_ptr<watch_entry> entry) {
  std::lock_guard lock(mu_);
  if (closing_) return false;
  watches_out_.emplace(token, watch_out{target, std::move(entry)});
  return true;
}

ref_ptr<watch_entry> session::take_watch_out(std::uint64_t token, actor_id* target) {
  std::lock_guard lock(mu_);
  auto it = watches_out_.find(token);
  if (it == watches_out_.end()) return {};
  ref_ptr<watch_entry> e = std::move(it->second.entry);
  if (target != nullptr) *target = it->second.target;
  watches_out_.erase(it);
  return e;
}

void session::add_watch_in(std::uint64_t token, ref_ptr<actor_handle> target,
                           std::uint64_t local_token) {
  std::lock_guard lock(mu_);
  watches_in_.emplace(token, watch_in{std::move(target), local_token});
}

void session::remove_watch_in(std::uint64_t token) {
  watch_in w;
  {
    std::lock_guard lock(mu_);
    auto it = watches_in_.find(token);
    if (it == watches_in_.end()) return;
    w = std::move(it->second);
    watches_in_.erase(it);
  }
  w.target->remove_watch(w.local_token);
}

void session::close(const error& reason, bool orderly) {
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    closing_ = true;
    closing_seen_.store(true, std::memory_order_release);
    reason_ = reason;
    if (orderly) (void)out_.push(frame_kind::goodbye, 0);
  }
  if (!close_logged_.exchange(true))
    owner_.log("session " + describe() + " closing: " + reason.message());
  if (orderly) link_->wake();
  link_->close();
}

void session::fail(const error& why) { close(why, false); }

void session::tick(time_point now, duration peer_timeout) {
  if (closed_.load()) return;
  if (!authenticated()) {
    if (now >= handshake_deadline_)
      close(error(errc::timeout, "the handshake did not finish in time"));
    return;
  }
  const time_point heard{duration(last_heard_.load(std::memory_order_relaxed))};
  if (now - heard > peer_timeout) {
    close(error(errc::node_down, "the peer was silent for " + millis(now - heard) + " (bound " +
                                     millis(peer_timeout) + ")"));
    return;
  }
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    seq = next_heartbeat_++;
    (void)out_.push(frame_kind::heartbeat, seq);
  }
  link_->wake();
  (void)sweep_pending();
}

void session::on_bytes(std::span<const std::byte> data) {
  if (closed_.load()) return;
  last_heard_.store(clock_.now().time_since_epoch().count(), std::memory_order_relaxed);
  parser_.feed(data);
  for (;;) {
    auto f = parser_.next();
    if (!f) return fail(error(errc::decode_error, "bad frame: " + f.error().message()));
    if (!*f) return;
    if (closing_seen_.load(std::memory_order_acquire)) return;
    handle_frame(**f);
  }
}

void session::handle_frame(const frame& f) {
  const frame_kind kind = f.header.kind;
  if (!authenticated()) {
    if (kind != frame_kind::handshake)
      return fail(error(errc::decode_error,
                        "a " + std::string(to_string(kind)) + " frame before the handshake ended"));
    return on_handshake_frame(f.payload);
  }
  switch (kind) {
    case frame_kind::handshake:
      return fail(error(errc::decode_error, "a handshake frame after the handshake"));
    case frame_kind::heartbeat:
      (void)send(frame_kind::heartbeat_ack, f.header.id, {});
      return;
    case frame_kind::heartbeat_ack:
      return;
    case frame_kind::goodbye:
      return close(error(errc::node_down, "the peer said goodbye"));
    case frame_kind::message:
    case frame_kind::request:
    case frame_kind::response:
    case frame_kind::control: {
      auto whole = reassembler_.add(f);
      if (!whole) return fail(error(errc::decode_error, whole.error().message()));
      if (*whole) owner_.on_frame(*this, **whole);
      return;
    }
  }
  fail(error(errc::decode_error, "a frame of an unknown kind"));
}

void session::queue_handshake(const std::vector<handshake::message>& msgs) {
  if (msgs.empty()) return;
  {
    std::lock_guard lock(mu_);
    for (const auto& m : msgs) (void)out_.push(frame_kind::handshake, 0, m);
  }
  link_->wake();
}

void session::on_handshake_frame(std::span<const std::byte> payload) {
  queue_handshake(hs_.on_message(payload));
  if (!vetted_ && role_ == handshake_role::acceptor) {
    if (const handshake_peer* claimed = hs_.claimed_peer()) {
      vetted_ = true;
      handshake_failure why = owner_.vet(*this, *claimed);
      if (why != handshake_failure::none)
        queue_handshake(hs_.refuse(why, "refused by this node: " + std::string(to_string(why))));
    }
  }
  switch (hs_.state()) {
    case handshake_state::in_progress:
      return;
    case handshake_state::failed:
      return close(hs_.failure());
    case handshake_state::authenticated:
      peer_ = *hs_.peer();
      authenticated_.store(true);
      owner_.on_authenticated(*this);
      return;
  }
}

std::size_t session::pull(std::vector<std::span<const std::byte>>& out, std::size_t max_bytes) {
  std::lock_guard lock(mu_);
  return out_.gather(out, std::min(max_bytes, opts_.max_write));
}

void session::written(std::size_t n) {
  std::lock_guard lock(mu_);
  out_.consumed(n);
}

void session::on_closed(const error& link_reason) {
  if (closed_.exchange(true)) return;
  std::unordered_map<std::uint64_t, pending_request> pending;
  std::unordered_map<std::uint64_t, watch_out> watches_out;
  std::unordered_map<std::uint64_t, watch_in> watches_in;
  {
    std::lock_guard lock(mu_);
    closing_ = true;
    closing_seen_.store(true, std::memory_order_release);
    if (!reason_) reason_ = link_reason;
    pending.swap(pending_);
    watches_out.swap(watches_out_);
    watches_in.swap(watches_in_);
  }
  const error why = *reason_;  // set above; no one changes it after closing_
  if (!close_logged_.exchange(true))
    owner_.log("session " + describe() + " closed: " + why.message());
  const std::string lost = "the connection to " + describe() + " was lost (" + why.message() + ")";
  for (auto& [id, p] : pending) p.reply->complete_error(error(errc::node_down, lost));
  for (auto& [token, w] : watches_out) w.entry->notify(w.target, exit_reason::node_down(lost));
  for (auto& [token, w] : watches_in) w.target->remove_watch(w.local_token);
  owner_.on_closed(*this, why);
}

}  // namespace troupe::net
