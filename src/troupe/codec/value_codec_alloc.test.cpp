// Encoding into a reused buffer must not allocate: this test binary replaces
// the global operator new with one that counts, per thread, while asked to.
// ThreadSanitizer's runtime defines operator new itself; under it the
// replacement is weak, loses, and the tests say they are skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "troupe/codec/value_codec.hpp"

namespace {

thread_local bool counting = false;
thread_local std::size_t allocations = 0;

void* counted_alloc(std::size_t n) {
  if (counting) ++allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TROUPE_TEST_REPLACEMENT __attribute__((weak))
#endif
#endif
#if !defined(TROUPE_TEST_REPLACEMENT) && defined(__SANITIZE_THREAD__)
#define TROUPE_TEST_REPLACEMENT __attribute__((weak))
#endif
#ifndef TROUPE_TEST_REPLACEMENT
#define TROUPE_TEST_REPLACEMENT
#endif

TROUPE_TEST_REPLACEMENT void* operator new(std::size_t n) { return counted_alloc(n); }
TROUPE_TEST_REPLACEMENT void* operator new[](std::size_t n) { return counted_alloc(n); }
TROUPE_TEST_REPLACEMENT void operator delete(void* p) noexcept { std::free(p); }
TROUPE_TEST_REPLACEMENT void operator delete[](void* p) noexcept { std::free(p); }
TROUPE_TEST_REPLACEMENT void operator delete(void* p, std::size_t) noexcept { std::free(p); }
TROUPE_TEST_REPLACEMENT void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace value_codec_alloc_test {

struct inner {
  std::optional<std::int32_t> maybe;
  std::map<std::string, int> counts;
};

struct typical {
  std::string name;
  std::vector<std::int64_t> values;
  inner nested;
};

/// Counts the allocations `f` makes on this thread.
template <class F>
std::size_t allocations_of(F&& f) {
  allocations = 0;
  counting = true;
  f();
  counting = false;
  return allocations;
}

/// True when the replacement operator new is the one in use.
bool counting_works() {
  // A direct call: the compiler may not elide it as it may a new-expression.
  return allocations_of([] { ::operator delete(::operator new(16)); }) == 1;
}

TEST(value_codec_alloc, the_counter_sees_allocations) {
  // Without this the test below could pass by counting nothing.
  if (!counting_works()) GTEST_SKIP() << "the sanitizer's operator new is in use";
  EXPECT_GE(allocations_of([] { std::vector<int> v(100); }), 1u);
}

TEST(value_codec_alloc, encoding_into_a_reused_buffer_does_not_allocate) {
  if (!counting_works()) GTEST_SKIP() << "the sanitizer's operator new is in use";
  typical t{"a name that is not short", {}, {7, {}}};
  for (int i = 0; i < 16; ++i) t.values.push_back((i % 2 ? -1 : 1) * (std::int64_t{1} << (i * 3)));
  for (const char* k : {"alpha", "beta", "gamma", "delta"}) t.nested.counts[k] = 42;

  std::vector<std::byte> buf;
  {
    troupe::codec::binary_writer w(buf);
    troupe::codec::encode(w, t);  // the first encoding sizes the buffer
  }
  const std::vector<std::byte> first = buf;
  std::size_t n = allocations_of([&] {
    for (int i = 0; i < 100; ++i) {
      buf.clear();
      troupe::codec::binary_writer w(buf);
      troupe::codec::encode(w, t);
    }
  });
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(buf, first);
}

}  // namespace value_codec_alloc_test
