#include "troupe/core/rate_limiter.hpp"

#include <algorithm>

namespace troupe::detail {

rate_limiter::rate_limiter(const rate_limit& r) {
  if (r.jobs == 0 || r.per <= duration::zero()) return;  // unlimited
  interval_ = std::max(duration(1), r.per / r.jobs);
  tolerance_ = interval_ * (std::max<std::uint32_t>(r.burst, 1) - 1);
}

bool rate_limiter::try_take(time_point now) noexcept {
  if (!limited()) return true;
  const time_point tat = tat_.value_or(now);
  if (tat - tolerance_ > now) return false;
  tat_ = std::max(tat, now) + interval_;
  return true;
}

time_point rate_limiter::next_at(time_point now) const noexcept {
  if (!limited() || !tat_) return now;
  return std::max(now, *tat_ - tolerance_);
}

}  // namespace troupe::detail
