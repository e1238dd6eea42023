#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include "troupe/core/actor_handle.hpp"
#include "troupe/core/exit_reason.hpp"
#include "troupe/core/ref_counted.hpp"

namespace troupe {

/// Tells a watcher that the actor it watched has ended. Exactly one `down`
/// reaches a watcher per watch, also when the actor was already gone when the
/// watch began (then at once).
struct down {
  static constexpr std::string_view type_name = "troupe.down";
  actor_id who = 0;
  exit_reason reason;
};

/// Tells an actor that traps exits that a linked actor has ended.
struct exit_signal {
  static constexpr std::string_view type_name = "troupe.exit_signal";
  actor_id who = 0;
  exit_reason reason;
};

/// One registration on an actor's list of watchers: told once, when the
/// actor ends (on the thread that ends it).
class watch_entry : public ref_counted {
 public:
  /// Reports the end of actor `who`. Must be short and must not throw.
  virtual void notify(actor_id who, const exit_reason& why) noexcept = 0;
};

/// Refers to one watch; cancel() ends it (no down is sent afterwards unless
/// it was already on its way). Dropping the reference keeps the watch.
class watch_ref {
 public:
  watch_ref() = default;
  watch_ref(ref_ptr<actor_handle> target, std::uint64_t token)
      : target_(std::move(target)), token_(token) {}

  /// Removes the watch. Safe to call more than once.
  void cancel() noexcept {
    if (target_ && token_ != 0) target_->remove_watch(token_);
    token_ = 0;
  }
  /// Returns false when the target was already gone (its down was sent at once).
  [[nodiscard]] bool active() const noexcept { return token_ != 0; }
  [[nodiscard]] std::uint64_t token() const noexcept { return token_; }
  [[nodiscard]] const ref_ptr<actor_handle>& target() const noexcept { return target_; }

 private:
  ref_ptr<actor_handle> target_;
  std::uint64_t token_ = 0;
};

}  // namespace troupe
