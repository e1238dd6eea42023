#include "troupe/core/error.hpp"

namespace troupe {

std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::timeout:
      return "timeout";
    case errc::actor_not_found:
      return "actor_not_found";
    case errc::node_down:
      return "node_down";
    case errc::mailbox_full:
      return "mailbox_full";
    case errc::decode_error:
      return "decode_error";
    case errc::handler_failed:
      return "handler_failed";
    case errc::unauthorized:
      return "unauthorized";
    case errc::start_failed:
      return "start_failed";
    case errc::shutting_down:
      return "shutting_down";
    case errc::dropped:
      return "dropped";
    case errc::no_route:
      return "no_route";
    case errc::quorum_failed:
      return "quorum_failed";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::name_taken:
      return "name_taken";
    case errc::invalid_name:
      return "invalid_name";
  }
  return "unknown";
}

std::string error::message() const {
  std::string s(to_string(code_));
  if (!detail_.empty()) {
    s += ": ";
    s += detail_;
  }
  return s;
}

}  // namespace troupe
