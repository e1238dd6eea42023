#include "troupe/net/internal/node_impl.hpp"

#include <algorithm>

namespace troupe::net::detail {

namespace {

// Completes an ask with a reply read by the registry's value ops (`context`:
// the reply's value_ops, or null for a void reply).
void complete_with_ops(troupe::detail::reply_base& reply, codec::binary_reader& r, session&,
                       const void* context) {
  const auto* ops = static_cast<const codec::value_ops*>(context);
  if (ops == nullptr) {
    if (!r.done()) r.fail("bytes after a void reply");
    if (!r.ok()) {
      reply.complete_error(r.failure());
    } else {
      reply.complete_erased(nullptr);
    }
    return;
  }
  void* v = ops->decode(r);
  if (v != nullptr && !r.done()) r.fail("bytes left after the reply");
  if (v == nullptr || !r.ok()) {
    if (v != nullptr) ops->destroy(v);
    reply.complete_error(r.ok() ? error(errc::decode_error, "the reply did not decode")
                                : r.failure());
    return;
  }
  reply.complete_erased(v);
  ops->destroy(v);
}

}  // namespace

errc proxy::send(envelope* e) noexcept {
  std::shared_ptr<node_impl> n = node_.lock();
  if (!n) return errc::node_down;
  const std::type_info* type = e->message_type();
  if (type == nullptr) return errc::invalid_argument;
  // Most proxies carry one type of message: remember the last one's entry
  // (valid while the node lives, which `n` ensures).
  const codec::message_info* info = last_info_.load(std::memory_order_acquire);
  if (info == nullptr || info->message->type != type) {
    info = n->types().messages().find(*type);
    if (info == nullptr) return errc::invalid_argument;  // not registered: cannot travel
    last_info_.store(info, std::memory_order_release);
  }
  std::shared_ptr<session> s = n->session_of(*peer_, incarnation_);
  if (!s) return errc::node_down;
  try {
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf, n.get());
    troupe::detail::reply_base* reply = e->reply();
    if (reply != nullptr) {
      wire::write_request_head(w, id_, reply->deadline() - core_.time().now());
    } else {
      w.varint(id_);
    }
    codec::message_registry::write_id(w, info->id);
    info->message->encode(w, e->message());
    if (reply == nullptr) {
      if (result<void> r = s->send(frame_kind::message, 0, buf); !r) return r.error().code();
      return errc{};
    }
    pending_request p{ref_ptr<troupe::detail::reply_base>(reply), &complete_with_ops, info->reply};
    if (auto id = s->request(buf, std::move(p)); !id) return id.error().code();
    return errc{};
  } catch (...) {
    return errc::invalid_argument;  // the message could not be encoded
  }
}

void proxy::signal(std::uint8_t what) noexcept {
  std::shared_ptr<node_impl> n = node_.lock();
  if (!n) return;
  std::shared_ptr<session> s = n->session_of(*peer_, incarnation_);
  if (!s) return;
  try {
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf);
    wire::write_signal(w, id_, what);
    (void)s->send(frame_kind::control, 0, buf);
  } catch (...) {
  }
}

std::uint64_t proxy::add_watch(ref_ptr<watch_entry> e) {
  std::shared_ptr<node_impl> n = node_.lock();
  std::shared_ptr<session> s = n ? n->session_of(*peer_, incarnation_) : nullptr;
  const std::uint64_t token = n ? n->next_watch_.fetch_add(1) : 0;
  if (!s || !s->add_watch_out(token, id_, e)) {
    e->notify(id_, exit_reason::node_down("no session to node " + peer_->name));
    return 0;
  }
  // A buffer of its own, not scratch(): the node places watches while it
  // decodes endpoints, and must not clear a buffer its caller may be using.
  std::vector<std::byte> buf;
  codec::binary_writer w(buf);
  wire::write_watch(w, id_, token);
  if (!s->send(frame_kind::control, 0, buf)) {
    if (auto mine = s->take_watch_out(token))
      mine->notify(id_, exit_reason::node_down("no session to node " + peer_->name));
    return 0;
  }
  return token;
}

void proxy::remove_watch(std::uint64_t token) noexcept {
  std::shared_ptr<node_impl> n = node_.lock();
  if (!n) return;
  std::shared_ptr<session> s = n->session_of(*peer_, incarnation_);
  if (!s || !s->take_watch_out(token)) return;
  try {
    std::vector<std::byte>& buf = scratch();
    codec::binary_writer w(buf);
    wire::write_unwatch(w, token);
    (void)s->send(frame_kind::control, 0, buf);
  } catch (...) {
  }
}

ref_ptr<actor_handle> node_impl::make_proxy(const std::string& node_name, std::uint64_t incarnation,
                                            actor_id id) {
  proxy_key key{node_name, incarnation, id};
  std::shared_ptr<peer_state> p = peer(node_name);  // before the leaf lock below
  std::lock_guard lock(proxies_mu_);
  auto it = proxies_.find(key);
  if (it != proxies_.end() && it->second->try_add_ref())
    return ref_ptr<actor_handle>::adopt(it->second);
  // None yet, or the cached one is on its way out (its destroy() will find
  // the new entry and leave it alone).
  auto made = make_ref<proxy>(weak_from_this(), std::move(p), incarnation, id, sys_.core());
  if (!proxies_closed_) proxies_.insert_or_assign(std::move(key), made.get());
  return made;
}

void node_impl::forget_proxy(const proxy_key& key, const proxy* gone) noexcept {
  std::lock_guard lock(proxies_mu_);
  auto it = proxies_.find(key);
  if (it != proxies_.end() && it->second == gone) proxies_.erase(it);
}

// ---------------------------------------------------------------------------
// Exports and the resolver.

namespace {

// Forgets an exported actor when it ends.
class unexport_watch final : public watch_entry {
 public:
  explicit unexport_watch(std::weak_ptr<node_impl> n) : node_(std::move(n)) {}
  void notify(actor_id who, const exit_reason&) noexcept override {
    if (auto n = node_.lock()) n->unexport(who);
  }

 private:
  std::weak_ptr<node_impl> node_;
};

}  // namespace

actor_id node_impl::export_actor(ref_ptr<actor_handle> h) const {
  const actor_id id = h->id();
  {
    std::lock_guard lock(exports_mu_);
    if (!exports_.emplace(id, h).second) return id;
  }
  auto self = std::const_pointer_cast<node_impl>(shared_from_this());
  h->add_watch(make_ref<unexport_watch>(self));  // at once when already gone
  return id;
}

actor_address node_impl::address_of(const actor_handle& h) const {
  if (const auto* p = dynamic_cast<const proxy*>(&h)) return p->address();
  const actor_id id = export_actor(ref_ptr<actor_handle>(const_cast<actor_handle*>(&h)));
  return actor_address{cfg_.name, cfg_.incarnation, id};
}

ref_ptr<actor_handle> node_impl::resolve(const actor_address& a) const {
  if (a.node == cfg_.name) {
    if (a.incarnation != cfg_.incarnation) return {};  // a previous life of this node
    return exported(a.id);
  }
  return const_cast<node_impl*>(this)->make_proxy(a.node, a.incarnation, a.id);
}

}  // namespace troupe::net::detail
