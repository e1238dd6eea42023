#pragma once

#include <cstddef>
#include <cstdint>

namespace troupe {

/// Chooses what a bounded mailbox does with a message that does not fit.
enum class overflow : std::uint8_t {
  reject,       ///< refuse it: tell returns mailbox_full, ask ends with mailbox_full
  drop_newest,  ///< discard the new message (tell reports dropped; ask ends with mailbox_full)
  drop_oldest,  ///< accept it and discard the oldest queued message instead
};

/// Sizes an actor's user mailbox. The system lane is never bounded.
struct mailbox_options {
  std::size_t capacity = 0;  ///< 0: unbounded (the default)
  overflow policy = overflow::reject;
};

}  // namespace troupe
