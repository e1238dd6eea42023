#include "troupe/net/internal/node_impl.hpp"

#include <algorithm>
#include <optional>

#include "troupe/core/receptionist.hpp"

namespace troupe::net::detail {

namespace {

// Sends a down to the peer that watches a local actor.
class down_to_peer final : public watch_entry {
 public:
  down_to_peer(std::weak_ptr<session> s, std::uint64_t token) : s_(std::move(s)), token_(token) {}
  void notify(actor_id, const exit_reason& why) noexcept override {
    auto s = s_.lock();
    if (!s) return;
    try {
      std::vector<std::byte>& buf = scratch();
      codec::binary_writer w(buf);
      wire::write_down(w, token_, why);
      (void)s->send(frame_kind::control, 0, buf);
    } catch (...) {
    }
  }

 private:
  std::weak_ptr<session> s_;
  std::uint64_t token_;
};

// Answers an ask that came from the peer.
class session_responder final : public responder {
 public:
  session_responder(std::weak_ptr<session> s, std::uint64_t id) : s_(std::move(s)), id_(id) {}
  void send_value(void (*encode)(codec::binary_writer&, const void*),
                  const void* value) noexcept override {
    auto s = s_.lock();
    if (!s) return;
    auto* n = dynamic_cast<node_impl*>(&s->owner());
    try {
      std::vector<std::byte>& buf = scratch();
      codec::binary_writer w(buf, n);
      wire::write_u8(w, wire::status_ok);
      if (encode != nullptr) encode(w, value);
      (void)s->send(frame_kind::response, id_, buf);
    } catch (const std::exception& ex) {
      send_error(
          error(errc::handler_failed, std::string("the reply did not encode: ") + ex.what()));
    }
  }
  void send_error(const error& e) noexcept override {
    auto s = s_.lock();
    if (!s) return;
    try {
      std::vector<std::byte>& buf = scratch();
      codec::binary_writer w(buf);
      wire::write_error(w, e);
      (void)s->send(frame_kind::response, id_, buf);
    } catch (...) {
    }
  }

 private:
  std::weak_ptr<session> s_;
  std::uint64_t id_;
};

// Answers a lookup or a spawn with the actor's id.
void respond_actor(session& s, std::uint64_t id, actor_id actor) {
  std::vector<std::byte>& buf = scratch();
  codec::binary_writer w(buf);
  wire::write_u8(w, wire::status_ok);
  w.varint(actor);
  (void)s.send(frame_kind::response, id, buf);
}

void respond_error(session& s, std::uint64_t id, const error& e) {
  std::vector<std::byte>& buf = scratch();
  codec::binary_writer w(buf);
  wire::write_error(w, e);
  (void)s.send(frame_kind::response, id, buf);
}

}  // namespace

// ---------------------------------------------------------------------------
// Frames from the peer.

void node_impl::on_frame(session& s, const frame& f) {
  codec::decode_limits limits;
  limits.max_total = cfg_.max_message_size;
  limits.max_elements = cfg_.max_message_size;  // a string may fill the message
  codec::binary_reader r(f.payload, limits, this);
  switch (f.header.kind) {
    case frame_kind::message:
      return on_message(s, r);
    case frame_kind::request:
      return on_request(s, f.header.id, r);
    case frame_kind::response:
      return on_response(s, f.header.id, r);
    case frame_kind::control:
      return on_control(s, r);
    default:
      return;
  }
}

void* node_impl::read_message(codec::binary_reader& r, const actor_dispatch& d,
                              const message_dispatch** out) {
  const std::span<const std::byte> id_bytes = r.raw(8);
  if (!r.ok()) return nullptr;
  codec::type_id id = 0;
  for (int i = 7; i >= 0; --i) id = (id << 8) | std::to_integer<std::uint64_t>(id_bytes[i]);
  auto it = d.messages.find(id);
  if (it == d.messages.end()) {
    const codec::message_info* known = types_.messages().find(id);
    r.fail(known != nullptr
               ? "actor " + std::string(d.type.name) + " does not handle " + known->name
               : "unknown message type id");
    return nullptr;
  }
  void* m = it->second.info->message->decode(r);
  if (m != nullptr && !r.done()) r.fail("bytes left after the message");
  if (m != nullptr && !r.ok()) {
    it->second.info->message->destroy(m);
    return nullptr;
  }
  *out = &it->second;
  return m;
}

void node_impl::on_message(session& s, codec::binary_reader& r) {
  const actor_id target = r.varint();
  if (!r.ok()) return count(&node_stats::bad_messages);
  if (target == 0) return on_channel(s, r);
  ref_ptr<actor_handle> h = exported(target);
  const actor_dispatch* d = h ? types_.find(h->actor_type_tag()) : nullptr;
  if (d == nullptr) {
    sys_.core().count_dead_letter();
    return count(&node_stats::undeliverable);
  }
  const message_dispatch* md = nullptr;
  void* m = read_message(r, *d, &md);
  if (m == nullptr) return count(&node_stats::bad_messages);
  (void)h->enqueue(md->make_tell(m));
}

void node_impl::on_channel(session& s, codec::binary_reader& r) {
  const std::uint8_t ch = wire::read_u8(r);
  if (!r.ok() || ch == 0 || ch > node::max_channel) return count(&node_stats::bad_messages);
  std::shared_ptr<const node::channel_handler> fn;
  {
    std::lock_guard lock(channels_mu_);
    fn = channels_[ch];
  }
  if (!fn) return count(&node_stats::undeliverable);
  const std::span<const std::byte> body = r.raw(r.remaining());
  try {
    (*fn)(s.peer().name, s.peer().incarnation, body);
  } catch (...) {  // a handler may not disturb the session
    count(&node_stats::bad_messages);
  }
}

result<void> node_impl::set_channel(std::uint8_t ch, node::channel_handler fn) {
  if (ch == 0 || ch > node::max_channel)
    return error(errc::invalid_argument, "channel " + std::to_string(ch) + " is out of range");
  std::shared_ptr<const node::channel_handler> h;
  if (fn) h = std::make_shared<const node::channel_handler>(std::move(fn));
  std::lock_guard lock(channels_mu_);
  channels_[ch] = std::move(h);
  return {};
}

result<void> node_impl::send_channel(std::string_view peer, std::uint64_t incarnation,
                                     std::uint8_t ch, std::span<const std::byte> body) {
  if (ch == 0 || ch > node::max_channel)
    return error(errc::invalid_argument, "channel " + std::to_string(ch) + " is out of range");
  std::shared_ptr<peer_state> p = find_peer(peer);
  std::shared_ptr<session> s;
  if (p) {
    std::lock_guard lock(p->mu);
    if (incarnation == 0 || p->incarnation == incarnation) s = p->current;
  }
  if (!s) return error(errc::node_down, "no session to node " + std::string(peer));
  std::vector<std::byte> buf;
  buf.reserve(body.size() + 2);
  codec::binary_writer w(buf);
  w.varint(0);
  wire::write_u8(w, ch);
  w.raw(body);
  return s->send(frame_kind::message, 0, buf);
}

bool node_impl::drop(std::string_view peer, std::uint64_t incarnation, std::string_view reason) {
  std::shared_ptr<peer_state> p = find_peer(peer);
  std::shared_ptr<session> s;
  if (p) {
    std::lock_guard lock(p->mu);
    if (incarnation == 0 || p->incarnation == incarnation) s = p->current;
  }
  if (!s) return false;
  s->close(error(errc::node_down, std::string(reason)));
  return true;
}

void node_impl::on_request(session& s, std::uint64_t id, codec::binary_reader& r) {
  const actor_id target = r.varint();
  const std::uint64_t timeout_us = r.varint();
  if (!r.ok()) {
    count(&node_stats::bad_messages);
    return respond_error(s, id, r.failure());
  }
  if (target == 0) return on_service(s, id, r);
  ref_ptr<actor_handle> h = exported(target);
  const actor_dispatch* d = h ? types_.find(h->actor_type_tag()) : nullptr;
  if (d == nullptr) {
    count(&node_stats::undeliverable);
    return respond_error(s, id,
                         error(errc::actor_not_found,
                               "no actor " + std::to_string(target) + " on node " + cfg_.name));
  }
  const message_dispatch* md = nullptr;
  void* m = read_message(r, *d, &md);
  if (m == nullptr) {
    count(&node_stats::bad_messages);
    return respond_error(s, id, r.failure());
  }
  const auto timeout = std::chrono::microseconds(
      std::min<std::uint64_t>(timeout_us, std::uint64_t{24} * 3600 * 1000 * 1000));
  envelope* e = md->make_ask(m, new session_responder(s.weak_from_this(), id), sys_.time(),
                             sys_.time().now() + timeout);
  (void)h->enqueue(e);  // a refusal completes the ask, which answers the peer
}

void node_impl::on_service(session& s, std::uint64_t id, codec::binary_reader& r) {
  const std::uint8_t op = wire::read_u8(r);
  if (op == wire::service_lookup) {
    std::string label = r.string();
    std::string type = r.string();
    if (!r.done()) r.fail("bytes left after a lookup");
    if (!r.ok()) return respond_error(s, id, r.failure());
    std::optional<reception_entry> e = sys_.receptionist().find(label);
    if (!e)
      return respond_error(s, id,
                           error(errc::actor_not_found,
                                 "no actor checked in as \"" + label + "\" on node " + cfg_.name));
    if (e->vis == visibility::private_)
      return respond_error(
          s, id, error(errc::unauthorized, "\"" + label + "\" is private to node " + cfg_.name));
    if (e->type.name != type)
      return respond_error(
          s, id,
          error(errc::actor_not_found,
                "\"" + label + "\" is a " + std::string(e->type.name) + ", not a " + type));
    return respond_actor(s, id, export_actor(e->actor));
  }
  if (op == wire::service_spawn) {
    std::string type = r.string();
    std::string label = r.string();
    if (!r.ok()) return respond_error(s, id, r.failure());
    const actor_dispatch* d = types_.find(std::string_view(type));
    if (d == nullptr || d->spawn == nullptr)
      return respond_error(
          s, id,
          error(errc::invalid_argument,
                "actor type \"" + type + "\" cannot be spawned on node " + cfg_.name));
    spawn_options opts;
    opts.label = label;
    result<ref_ptr<actor_handle>> h = d->spawn(sys_, opts, r);
    if (!h) return respond_error(s, id, h.error());
    return respond_actor(s, id, export_actor(*h));
  }
  respond_error(s, id, error(errc::decode_error, "unknown node service request"));
}

void node_impl::on_response(session& s, std::uint64_t id, codec::binary_reader& r) {
  pending_request p = s.take_pending(id);
  if (!p.reply) {
    // Swept after its ask ended here (or answered twice); unknown otherwise.
    if (s.issued(id)) count(&node_stats::late_responses);
    return;
  }
  if (p.reply->done()) return count(&node_stats::late_responses);  // it ended here already
  const std::uint8_t status = wire::read_u8(r);
  if (!r.ok()) {
    p.reply->complete_error(r.failure());
    return;
  }
  if (status == wire::status_ok) {
    p.complete(*p.reply, r, s, p.context);
    return;
  }
  error e = wire::read_error_body(r, status);
  p.reply->complete_error(std::move(e));
}

void node_impl::on_control(session& s, codec::binary_reader& r) {
  const std::uint8_t op = wire::read_u8(r);
  switch (op) {
    case wire::control_watch: {
      const actor_id target = r.varint();
      const std::uint64_t token = r.varint();
      if (!r.ok()) return;
      ref_ptr<actor_handle> h = exported(target);
      auto entry = make_ref<down_to_peer>(s.weak_from_this(), token);
      if (!h) {
        entry->notify(target, exit_reason(exit_reason::kind::normal));
        return;
      }
      const std::uint64_t local = h->add_watch(entry);
      if (local != 0) s.add_watch_in(token, std::move(h), local);
      return;
    }
    case wire::control_unwatch: {
      const std::uint64_t token = r.varint();
      if (r.ok()) s.remove_watch_in(token);
      return;
    }
    case wire::control_down: {
      const std::uint64_t token = r.varint();
      exit_reason why = wire::read_exit_reason(r);
      if (!r.ok()) return;
      actor_id target = 0;
      if (ref_ptr<watch_entry> e = s.take_watch_out(token, &target)) e->notify(target, why);
      return;
    }
    case wire::control_signal: {
      const actor_id target = r.varint();
      const std::uint8_t what = wire::read_u8(r);
      if (!r.ok()) return;
      ref_ptr<actor_handle> h = exported(target);
      if (!h) return;
      if (what == wire::signal_stop) h->stop(exit_reason::normal());
      if (what == wire::signal_kill) h->kill();
      if (what == wire::signal_drain) h->drain();
      return;
    }
    default:
      count(&node_stats::bad_messages);
  }
}

void node_impl::service_request(std::string_view peer_name, std::uint8_t op,
                                std::span<const std::byte> args,
                                ref_ptr<troupe::detail::reply_base> st, node::completion done) {
  std::shared_ptr<session> s = current_session(peer_name);
  if (!s) {
    st->complete_error(error(errc::node_down, "no session to node " + std::string(peer_name)));
    return;
  }
  std::vector<std::byte> body;
  codec::binary_writer w(body);
  wire::write_request_head(w, 0, st->deadline() - sys_.time().now());
  wire::write_u8(w, op);
  w.raw(args);
  pending_request p{st, done, nullptr};
  if (auto id = s->request(body, std::move(p)); !id) st->complete_error(id.error());
}

}  // namespace troupe::net::detail
