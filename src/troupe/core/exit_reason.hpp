#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace troupe {

/// Says why an actor stopped.
class exit_reason {
 public:
  enum class kind : std::uint8_t {
    normal,         ///< it stopped itself, was stopped, or drained
    killed,         ///< kill(): ended at once, suspended handlers destroyed
    failed,         ///< a handler or hook threw; text() holds what it said
    shutdown,       ///< the system shut down
    restart_limit,  ///< a supervisor gave up restarting it
    node_down,      ///< its node was lost (a watch across nodes); text() says how
  };

  exit_reason() = default;
  exit_reason(kind k, std::string text = {}) : kind_(k), text_(std::move(text)) {}  // NOLINT

  static exit_reason normal() { return {kind::normal}; }
  static exit_reason killed() { return {kind::killed}; }
  static exit_reason failed(std::string text) { return {kind::failed, std::move(text)}; }
  static exit_reason shutdown() { return {kind::shutdown}; }
  static exit_reason node_down(std::string text) { return {kind::node_down, std::move(text)}; }

  [[nodiscard]] kind what() const noexcept { return kind_; }
  /// Returns the failure text (empty unless what() is failed or node_down).
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  /// Returns true for normal and shutdown: the exits supervisors do not count
  /// as failures.
  [[nodiscard]] bool is_normal() const noexcept {
    return kind_ == kind::normal || kind_ == kind::shutdown;
  }
  /// Returns "normal", "killed", "failed: <text>", ...
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const exit_reason& a, kind b) noexcept { return a.kind_ == b; }

 private:
  kind kind_ = kind::normal;
  std::string text_;
};

}  // namespace troupe
