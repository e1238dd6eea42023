// Small helpers shared by the CAF peer benchmarks (header-only, no CAF
// dependency, so troupe benchmark programs may include it as well).
//
// Output contract (one line per run, parsed by bench/run-all):
//   RESULT bench=<name> impl=<impl> n=<count> seconds=<s> rate=<ops/s> [k=v ...]
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <unistd.h>

namespace bench {

/// Positional argument `idx` as an unsigned number; a missing argument, "0"
/// or "-" selects `fallback`.
inline std::size_t arg_or(int argc, char** argv, int idx, std::size_t fallback) {
  if (idx >= argc || argv[idx][0] == '-') return fallback;
  auto value = std::strtoull(argv[idx], nullptr, 10);
  return value == 0 ? fallback : static_cast<std::size_t>(value);
}

/// Default worker count: the number of hardware threads (2 on the bench VM).
inline std::size_t default_workers() {
  auto n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

/// Resident set size of this process in bytes (from /proc/self/statm).
inline std::size_t rss_bytes() {
  std::ifstream statm{"/proc/self/statm"};
  std::size_t total_pages = 0;
  std::size_t resident_pages = 0;
  statm >> total_pages >> resident_pages;
  return resident_pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

using steady = std::chrono::steady_clock;

inline double seconds_since(steady::time_point start) {
  return std::chrono::duration<double>(steady::now() - start).count();
}

/// Prints the RESULT line; `extra` is appended verbatim (" k=v k=v").
inline void print_result(const char* name, const char* impl, std::size_t n, double seconds,
                         const std::string& extra = {}) {
  std::printf("RESULT bench=%s impl=%s n=%zu seconds=%.6f rate=%.1f%s\n", name, impl, n, seconds,
              static_cast<double>(n) / seconds, extra.c_str());
  std::fflush(stdout);
}

}  // namespace bench
