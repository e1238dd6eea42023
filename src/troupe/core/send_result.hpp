#pragma once

#include "troupe/core/error.hpp"

namespace troupe {

/// Reports what happened to a tell at once: accepted into the mailbox, or
/// refused (actor_not_found, mailbox_full, dropped). A tell is fire-and-forget,
/// so ignoring it is fine; acceptance is not delivery.
class send_result {
 public:
  send_result() = default;
  send_result(errc e) : code_(e), ok_(false) {}  // NOLINT

  [[nodiscard]] bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  /// Returns the refusal reason; only meaningful when !ok().
  [[nodiscard]] errc error() const noexcept { return code_; }

 private:
  errc code_ = errc::timeout;
  bool ok_ = true;
};

}  // namespace troupe
