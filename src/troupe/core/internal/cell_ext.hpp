#pragma once

// The parts of a cell that only its own .cpp files see.

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "troupe/core/cell.hpp"
#include "troupe/core/task.hpp"
#include "troupe/core/timer.hpp"
#include "troupe/core/watch.hpp"

namespace troupe {

struct cell::watch_list {
  std::vector<std::pair<std::uint64_t, ref_ptr<watch_entry>>> entries;
  std::uint64_t next_token = 1;
  bool closed = false;
  exit_reason reason;  // valid once closed
};

struct cell::ext {
  struct link_record {
    ref_ptr<actor_handle> target;
    std::uint64_t on_target;  // the watch on the target that tells us
    std::uint64_t on_self;    // the watch on us that tells the target
  };
  std::shared_ptr<executor> own_exec;  // a dedicated thread, if any
  std::vector<link_record> links;
  ref_ptr<supervision_hook> supervisor;
  bool final_exit = false;
  std::vector<detail::task_promise_base*> tasks;
  std::vector<std::pair<ref_ptr<actor_handle>, std::uint64_t>> outgoing_watches;
  std::vector<ref_ptr<timer_base>> timers;
  exit_reason pending;
  bool pending_set = false;
  exit_reason reason;
  std::size_t capacity = 0;
  overflow policy = overflow::reject;
  std::atomic<std::size_t> count{0};
  std::atomic<std::size_t> to_drop{0};
};

}  // namespace troupe
