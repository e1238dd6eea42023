#include "troupe/core/fan_out.hpp"

namespace troupe::detail {

fan_in_count::verdict fan_in_count::count(bool ok) noexcept {
  if (decided_) return verdict::pending;
  if (ok) {
    ++ok_;
  } else {
    ++failed_;
  }
  verdict v = verdict::pending;
  switch (mode_) {
    case mode::quorum:
      if (ok_ >= needed_) {
        v = verdict::succeed;
      } else if (failed_ > asked_ - needed_) {
        v = verdict::fail;  // too few members are left to reach the quorum
      }
      break;
    case mode::first:
      if (ok) {
        v = verdict::succeed;
      } else if (failed_ >= asked_) {
        v = verdict::fail;
      }
      break;
    case mode::scatter:
      if (ok_ + failed_ >= asked_) v = verdict::succeed;
      break;
  }
  if (v != verdict::pending) decided_ = true;
  return v;
}

troupe::error fan_in_count::failure(const troupe::error& last) const {
  if (mode_ == mode::quorum) {
    return troupe::error(errc::quorum_failed, "needed " + std::to_string(needed_) + " of " +
                                                  std::to_string(asked_) + " replies, " +
                                                  std::to_string(failed_) +
                                                  " failed (last: " + last.message() + ")");
  }
  return troupe::error(last.code(), "all " + std::to_string(asked_) +
                                        " members failed (last: " + last.message() + ")");
}

}  // namespace troupe::detail
