#pragma once

// Tells tests whether they run under a sanitizer, so that stress tests can
// shrink their counts (ASan and TSan slow every memory access down).

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROUPE_TESTING_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TROUPE_TESTING_SANITIZED 1
#endif
#endif

namespace troupe::testing {

/// True in ASan and TSan builds.
#if defined(TROUPE_TESTING_SANITIZED)
inline constexpr bool sanitized = true;
#else
inline constexpr bool sanitized = false;
#endif

/// Returns `normal`, or `sanitized_count` in a sanitizer build.
constexpr long scaled(long normal, long sanitized_count) noexcept {
  return sanitized ? sanitized_count : normal;
}

}  // namespace troupe::testing
