#include "troupe/core/exit_reason.hpp"

namespace troupe {

std::string exit_reason::to_string() const {
  switch (kind_) {
    case kind::normal:
      return "normal";
    case kind::killed:
      return "killed";
    case kind::failed:
      return "failed: " + text_;
    case kind::shutdown:
      return "shutdown";
    case kind::restart_limit:
      return "restart_limit";
    case kind::node_down:
      return "node_down: " + text_;
  }
  return "unknown";
}

}  // namespace troupe
