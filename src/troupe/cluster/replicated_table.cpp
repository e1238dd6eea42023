#include "troupe/cluster/replicated_table.hpp"

#include <utility>

namespace troupe::cluster {

namespace {

namespace wire = reception_wire;

// The wire batch's header from a table's changes.
template <class Changes>
wire::changes header(wire::table t, const Changes& c) {
  wire::changes m;
  m.of = t;
  m.origin = c.origin;
  m.base = c.base;
  m.top = c.top;
  m.reset = c.reset;
  m.ops.reserve(c.ops.size());
  return m;
}

template <class Changes>
Changes header_of(const wire::changes& m) {
  Changes c;
  c.origin = m.origin;
  c.base = m.base;
  c.top = m.top;
  c.reset = m.reset;
  c.ops.reserve(m.ops.size());
  return c;
}

// The id of `actor` on this node, or nullopt when it lives elsewhere (a
// remote actor checked in or joined here: not this node's to give).
std::optional<actor_id> local_id(net::node& n, const actor_handle& actor) {
  const actor_address a = n.resolver().address_of(actor);
  if (a.node != n.name()) return std::nullopt;
  return a.id;
}

class receptionist_port final : public replicated_table {
 public:
  receptionist_port(net::node& n, receptionist& r) : node_(n), r_(r) {}

  wire::table id() const noexcept override { return wire::table::receptionist; }

  void attach(origin_id self, std::function<void()> fn,
              std::function<void(const reception_conflict&)> on_conflict) override {
    r_.set_origin(self);
    r_.on_local_change(std::move(fn));
    r_.on_conflict(std::move(on_conflict));
  }
  void detach() noexcept override {
    r_.on_local_change({});
    r_.on_conflict({});
  }

  std::uint64_t have(origin_id origin) const override {
    for (const entry_stamp& v : r_.versions())
      if (v.origin == origin) return v.version;
    return 0;
  }

  wire::changes changes_since(std::uint64_t since) const override {
    const reception_changes c = r_.local_changes(since);
    wire::changes m = header(id(), c);
    for (const reception_op& op : c.ops) {
      wire::op o;
      o.what = op.what;
      o.version = op.stamp.version;
      o.label = op.label;
      if (op.what == reception_op::kind::add) {
        const std::optional<actor_id> a = local_id(node_, *op.actor);
        if (!a) continue;
        o.key = op.key;
        o.type = std::string(op.type.name);
        o.vis = op.vis;
        o.actor = *a;
      } else {
        o.removes = op.removes;
      }
      m.ops.push_back(std::move(o));
    }
    return m;
  }

  apply_status apply(const wire::changes& m, const std::string& peer,
                     std::uint64_t incarnation) override {
    auto c = header_of<reception_changes>(m);
    for (const wire::op& w : m.ops) {
      reception_op op;
      op.what = w.what;
      op.stamp = entry_stamp{m.origin, w.version};
      op.label = w.label;
      op.removes = w.removes;
      if (w.what == reception_op::kind::add) {
        op.key = w.key;
        op.type = actor_type{nullptr, w.type};  // the receptionist keeps its own copy
        op.vis = w.vis;
        op.actor = node_.resolver().resolve(actor_address{peer, incarnation, w.actor});
      }
      c.ops.push_back(std::move(op));
    }
    return r_.apply_changes(c);
  }

  void drop_origin(origin_id origin) override { r_.drop_origin(origin); }
  std::uint64_t digest() const override { return r_.digest(); }

 private:
  net::node& node_;
  receptionist& r_;
};

class groups_port final : public replicated_table {
 public:
  groups_port(net::node& n, process_groups& g) : node_(n), g_(g) {}

  wire::table id() const noexcept override { return wire::table::groups; }

  void attach(origin_id self, std::function<void()> fn,
              std::function<void(const reception_conflict&)>) override {
    g_.set_origin(self);
    g_.on_local_change(std::move(fn));
  }
  void detach() noexcept override { g_.on_local_change({}); }

  std::uint64_t have(origin_id origin) const override {
    for (const entry_stamp& v : g_.versions())
      if (v.origin == origin) return v.version;
    return 0;
  }

  wire::changes changes_since(std::uint64_t since) const override {
    const group_changes c = g_.local_changes(since);
    wire::changes m = header(id(), c);
    for (const group_op& op : c.ops) {
      wire::op o;
      o.version = op.stamp.version;
      o.label = op.group;
      o.key = op.scope;
      if (op.what == group_op::kind::join) {
        const std::optional<actor_id> a = local_id(node_, *op.actor);
        if (!a) continue;
        o.what = reception_op::kind::add;
        o.type = std::string(op.type.name);
        o.actor = *a;
      } else {
        o.what = reception_op::kind::remove;
        o.removes = op.removes;
      }
      m.ops.push_back(std::move(o));
    }
    return m;
  }

  apply_status apply(const wire::changes& m, const std::string& peer,
                     std::uint64_t incarnation) override {
    auto c = header_of<group_changes>(m);
    for (const wire::op& w : m.ops) {
      group_op op;
      op.stamp = entry_stamp{m.origin, w.version};
      op.group = w.label;
      op.scope = w.key;
      if (w.what == reception_op::kind::add) {
        op.what = group_op::kind::join;
        op.type = actor_type{nullptr, w.type};  // the groups keep their own copy
        op.actor = node_.resolver().resolve(actor_address{peer, incarnation, w.actor});
      } else if (w.what == reception_op::kind::remove) {
        op.what = group_op::kind::leave;
        op.removes = w.removes;
      } else {
        return apply_status::refused;  // the decoder lets no other kind through
      }
      c.ops.push_back(std::move(op));
    }
    return g_.apply_changes(c);
  }

  void drop_origin(origin_id origin) override { g_.drop_origin(origin); }
  std::uint64_t digest() const override { return g_.digest(); }

 private:
  net::node& node_;
  process_groups& g_;
};

}  // namespace

std::unique_ptr<replicated_table> receptionist_table(net::node& n, receptionist& r) {
  return std::make_unique<receptionist_port>(n, r);
}

std::unique_ptr<replicated_table> groups_table(net::node& n, process_groups& g) {
  return std::make_unique<groups_port>(n, g);
}

}  // namespace troupe::cluster
