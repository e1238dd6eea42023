#pragma once

#include <memory>

#include "troupe/core/executor.hpp"

namespace troupe {

class system_core;

/// An executor with one thread of its own, for an actor that blocks (file
/// I/O, a blocking client library). The thread ends once its actor has ended
/// and its queue is empty.
///
/// Thread safety: post() and retire() from any thread.
class dedicated_thread final : public executor {
 public:
  /// Starts the thread; `core` counts it until it ends.
  explicit dedicated_thread(system_core& core);
  ~dedicated_thread() override;

  void post(schedulable* s, post_hint hint) noexcept override;
  [[nodiscard]] bool in_executor() const noexcept override;
  void retire() noexcept override;

 private:
  struct state;
  std::shared_ptr<state> st_;
};

}  // namespace troupe
