#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace troupe {

/// Names every way an operation on an actor can fail. Values are stable: they
/// travel on the wire once remoting exists.
enum class errc : std::uint8_t {
  timeout = 1,            ///< the ask's deadline passed before a reply came
  actor_not_found = 2,    ///< the target is gone (stopped, killed, never started)
  node_down = 3,          ///< the target's node was lost
  mailbox_full = 4,       ///< the target's bounded mailbox refused the message
  decode_error = 5,       ///< bytes from the network could not be decoded
  handler_failed = 6,     ///< the handler threw; the actor failed
  unauthorized = 7,       ///< the target may not be reached from here
  start_failed = 8,       ///< on_start refused to start the actor
  shutting_down = 9,      ///< the system no longer accepts this operation
  dropped = 10,           ///< an overflow policy dropped the message
  no_route = 11,          ///< a router had no member to send to
  quorum_failed = 12,     ///< too many members failed for a quorum to be reached
  invalid_argument = 13,  ///< a parameter was out of range (the detail says which)
  name_taken = 14,        ///< the name or label is already registered
  invalid_name = 15,      ///< a name, label, key, scope or group is malformed
};

/// Returns the stable lower-case name of `e` ("timeout", "actor_not_found", ...).
std::string_view to_string(errc e) noexcept;

/// Describes one failure: a code to branch on and, where there is one, a
/// human-readable detail (for handler_failed: the exception text).
class error {
 public:
  error() = default;
  error(errc code, std::string detail = {}) : code_(code), detail_(std::move(detail)) {}  // NOLINT

  /// Returns the code to branch on.
  [[nodiscard]] errc code() const noexcept { return code_; }
  /// Returns the detail text; empty when there is none.
  [[nodiscard]] const std::string& detail() const noexcept { return detail_; }
  /// Returns "code" or "code: detail".
  [[nodiscard]] std::string message() const;

  friend bool operator==(const error& a, errc b) noexcept { return a.code_ == b; }
  friend bool operator==(const error& a, const error& b) noexcept { return a.code_ == b.code_; }

 private:
  errc code_ = errc::timeout;
  std::string detail_;
};

}  // namespace troupe
