#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>

#include "troupe/codec/print.hpp"
#include "troupe/codec/type_id.hpp"
#include "troupe/codec/value_codec.hpp"
#include "troupe/core/handles.hpp"
#include "troupe/core/result.hpp"

namespace troupe::codec {

/// What the registry knows how to do with values of one C++ type, with the
/// type erased: encode, decode into a new object, destroy, print.
struct value_ops {
  const std::type_info* type;
  void (*encode)(binary_writer&, const void*);
  /// Returns a new object, or nullptr when the reader failed.
  void* (*decode)(binary_reader&);
  void (*destroy)(void*) noexcept;
  void (*print)(std::ostream&, const void*);
};

namespace detail {

template <class T>
inline constexpr value_ops ops_for{
    &typeid(T),
    [](binary_writer& w, const void* p) { codec::encode(w, *static_cast<const T*>(p)); },
    [](binary_reader& r) -> void* {
      auto v = std::make_unique<T>();
      codec::decode(r, *v);
      return r.ok() ? v.release() : nullptr;
    },
    [](void* p) noexcept { delete static_cast<T*>(p); },
    [](std::ostream& os, const void* p) { codec::print(os, *static_cast<const T*>(p)); },
};

}  // namespace detail

/// One registered message type.
struct message_info {
  type_id id = 0;
  std::string name;          ///< the wire name
  const value_ops* message;  ///< the message itself
  const value_ops* reply;    ///< its reply (M::reply); nullptr for tell-only messages
  [[nodiscard]] std::string cxx_name() const;  ///< the C++ type, demangled
};

/// A decoded message whose type is known only at run time.
class any_message {
 public:
  any_message() = default;
  any_message(const message_info* info, void* p) noexcept : info_(info), p_(p) {}
  any_message(any_message&& o) noexcept
      : info_(std::exchange(o.info_, nullptr)), p_(std::exchange(o.p_, nullptr)) {}
  any_message& operator=(any_message&& o) noexcept {
    if (this != &o) {
      reset();
      info_ = std::exchange(o.info_, nullptr);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  any_message(const any_message&) = delete;
  any_message& operator=(const any_message&) = delete;
  ~any_message() { reset(); }

  /// Returns the message if it is an M, else nullptr.
  template <class M>
  [[nodiscard]] M* get() const noexcept {
    return p_ != nullptr && *info_->message->type == typeid(M) ? static_cast<M*>(p_) : nullptr;
  }
  /// Returns what the registry knows of the message's type (nullptr when empty).
  [[nodiscard]] const message_info* info() const noexcept { return info_; }
  [[nodiscard]] bool empty() const noexcept { return p_ == nullptr; }
  /// Writes the message (without its type id). Only valid when !empty().
  void encode(binary_writer& w) const { info_->message->encode(w, p_); }
  /// Writes a readable form of the message.
  friend std::ostream& operator<<(std::ostream& os, const any_message& m) {
    if (m.empty()) return os << "(no message)";
    m.info_->message->print(os, m.p_);
    return os;
  }

 private:
  void reset() noexcept {
    if (p_ != nullptr) info_->message->destroy(p_);
    p_ = nullptr;
  }
  const message_info* info_ = nullptr;
  void* p_ = nullptr;
};

/// The message types a system can send and receive across nodes, by their
/// stable type ids.
///
/// Each message type is added once, usually for all of an actor's messages
/// at once (`add_handled_by<A>()` walks `A::handles`). Two wire names with
/// the same id, two types with the same name, or one type under two names
/// are refused with errc::name_taken and a detail that names both sides, so
/// that a clash shows at start-up and never as a misread message.
///
/// On the wire a message is its type id (8 bytes, little-endian) followed by
/// its encoding (docs/protocol.md).
///
/// Thread safety: add while starting, before sharing; afterwards any number
/// of threads may find, encode and decode concurrently.
class message_registry {
 public:
  /// The function that maps wire names to ids: type_id_of_name everywhere
  /// except in tests that need collisions.
  using id_function = type_id (*)(std::string_view) noexcept;

  explicit message_registry(id_function ids = &type_id_of_name) : ids_(ids) {}

  /// Builds the registry of every message the actors handle.
  template <class... Actors>
  static result<message_registry> for_actors() {
    message_registry reg;
    result<void> r;
    auto one = [&]<class A>(A*) {
      if (r) r = reg.add_handled_by<A>();
    };
    (one(static_cast<Actors*>(nullptr)), ...);
    if (!r) return r.error();
    return reg;
  }

  /// Adds M under its wire name (its `type_name`, or wire_name<M>); returns
  /// its id.
  template <class M>
  result<type_id> add() {
    static_assert(has_wire_name<M>,
                  "troupe: a message sent across nodes needs a wire name: "
                  "static constexpr std::string_view type_name = \"...\";");
    return add<M>(wire_name_of<M>());
  }

  /// Adds M under `name` (to register a type under another name than its
  /// own); returns its id.
  template <class M>
  result<type_id> add(std::string_view name) {
    using reply = reply_of_t<M>;
    const value_ops* reply_ops = nullptr;
    if constexpr (!std::is_void_v<reply>) reply_ops = &detail::ops_for<reply>;
    return add_erased(name, &detail::ops_for<M>, reply_ops);
  }

  /// Adds every message in `A::handles`.
  template <class A>
  result<void> add_handled_by() {
    return add_list(static_cast<typename A::handles*>(nullptr));
  }

  /// Returns the message type with id `id`, or nullptr.
  [[nodiscard]] const message_info* find(type_id id) const noexcept;
  /// Returns M's entry, or nullptr when M was not added.
  template <class M>
  [[nodiscard]] const message_info* find() const noexcept {
    return find_type(typeid(M));
  }
  /// Returns the entry of the C++ type `t`, or nullptr when it was not added.
  [[nodiscard]] const message_info* find(const std::type_info& t) const noexcept {
    return find_type(t);
  }
  [[nodiscard]] std::size_t size() const noexcept { return by_id_.size(); }

  /// Writes M's type id and `m`; invalid_argument when M was not added.
  template <class M>
  result<void> encode(binary_writer& w, const M& m) const {
    const message_info* info = find<M>();
    if (info == nullptr) return not_registered(typeid(M));
    write_id(w, info->id);
    codec::encode(w, m);
    return {};
  }

  /// Reads a type id and the message it names from `r`; problems (an
  /// unknown id among them) go to the reader and give an empty message.
  any_message decode(binary_reader& r) const;
  /// Decodes one message from all of `in`.
  [[nodiscard]] result<any_message> decode(std::span<const std::byte> in, decode_limits limits = {},
                                           const endpoint_resolver* resolver = nullptr) const;

  /// Writes a type id as the 8 little-endian bytes that precede a message.
  static void write_id(binary_writer& w, type_id id);

 private:
  template <class... Ms>
  result<void> add_list(handles<Ms...>*) {
    result<void> r;
    auto one = [&]<class M>(M*) {
      if (!r) return;
      result<type_id> id = add<M>();
      if (!id) r = id.error();
    };
    (one(static_cast<Ms*>(nullptr)), ...);
    return r;
  }
  result<type_id> add_erased(std::string_view name, const value_ops* message,
                             const value_ops* reply);
  [[nodiscard]] const message_info* find_type(const std::type_info& t) const noexcept;
  static error not_registered(const std::type_info& t);

  id_function ids_;
  std::unordered_map<type_id, std::unique_ptr<message_info>> by_id_;
  std::unordered_map<std::type_index, const message_info*> by_type_;
};

}  // namespace troupe::codec
