#include "troupe/core/ref_counted.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace troupe {
namespace {

std::atomic<int> alive{0};

class counted final : public ref_counted {
 public:
  counted() { alive.fetch_add(1); }
  ~counted() override { alive.fetch_sub(1); }
};

TEST(ref_counted, try_add_ref_adds_a_reference_to_a_live_object) {
  {
    auto p = make_ref<counted>();
    ASSERT_TRUE(p->try_add_ref());
    auto second = ref_ptr<counted>::adopt(p.get());  // owns what try_add_ref added
    p.reset();
    EXPECT_EQ(alive.load(), 1);
  }
  EXPECT_EQ(alive.load(), 0);
}

// Keeps its memory when the last reference goes, so that the test can ask
// it for a reference afterwards.
class kept final : public ref_counted {
 public:
  bool destroyed = false;

 protected:
  void destroy() noexcept override { destroyed = true; }
};

TEST(ref_counted, try_add_ref_refuses_an_object_whose_count_reached_zero) {
  auto* k = new kept;
  k->release();  // the count reaches zero: destroy() runs, the memory stays
  ASSERT_TRUE(k->destroyed);
  EXPECT_FALSE(k->try_add_ref());
  EXPECT_FALSE(k->try_add_ref());  // and the refusal changed nothing
  delete k;
}

// A cache of plain pointers whose objects remove themselves when their last
// reference goes: the pattern try_add_ref exists for.
class cache;

class entry final : public ref_counted {
 public:
  entry(cache& c, int key) : cache_(c), key_(key) { alive.fetch_add(1); }
  ~entry() override { alive.fetch_sub(1); }
  [[nodiscard]] int key() const { return key_; }

 protected:
  void destroy() noexcept override;

 private:
  cache& cache_;
  int key_;
};

class cache {
 public:
  ref_ptr<entry> get(int key) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end() && it->second->try_add_ref()) return ref_ptr<entry>::adopt(it->second);
    auto made = make_ref<entry>(*this, key);
    map_[key] = made.get();
    return made;
  }
  void forget(int key, const entry* gone) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end() && it->second == gone) map_.erase(it);
  }
  std::size_t size() {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  std::mutex mu_;
  std::unordered_map<int, entry*> map_;
};

void entry::destroy() noexcept {
  cache_.forget(key_, this);
  delete this;
}

TEST(ref_counted, a_cache_of_plain_pointers_never_hands_out_a_dying_object) {
  cache c;
  constexpr int threads = 4;
  constexpr int rounds = 20'000;
  std::atomic<int> wrong{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&c, &wrong, t] {
      for (int i = 0; i < rounds; ++i) {
        const int key = (i + t) % 3;  // few keys: lookups race with last releases
        ref_ptr<entry> e = c.get(key);
        if (e->key() != key) wrong.fetch_add(1);
        if (i % 7 == 0) {
          ref_ptr<entry> again = c.get(key);
          if (again.get() != e.get()) wrong.fetch_add(1);  // held: must be the same one
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(c.size(), 0U);
  EXPECT_EQ(alive.load(), 0);
}

}  // namespace
}  // namespace troupe
