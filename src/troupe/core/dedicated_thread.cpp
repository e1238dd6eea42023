#include "troupe/core/dedicated_thread.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "troupe/core/system_core.hpp"

namespace troupe {

struct dedicated_thread::state {
  std::mutex mu;
  std::condition_variable cv;
  schedulable* head = nullptr;  // guarded by mu
  schedulable* tail = nullptr;  // guarded by mu
  bool retired = false;         // guarded by mu
  std::thread::id id;
  ref_ptr<system_core> core;

  void loop() {
    std::unique_lock lock(mu);
    for (;;) {
      while (head == nullptr && !retired) cv.wait(lock);
      if (head == nullptr) break;
      schedulable* s = head;
      head = s->next_runnable;
      if (head == nullptr) tail = nullptr;
      s->next_runnable = nullptr;
      lock.unlock();
      s->run();
      lock.lock();
    }
    lock.unlock();
    core->thread_ended();
  }
};

dedicated_thread::dedicated_thread(system_core& core) : st_(std::make_shared<state>()) {
  st_->core = ref_ptr<system_core>(&core);
  core.thread_started();
  std::thread t([st = st_] { st->loop(); });
  st_->id = t.get_id();
  t.detach();
}

dedicated_thread::~dedicated_thread() { retire(); }

void dedicated_thread::post(schedulable* s, post_hint) noexcept {
  {
    std::lock_guard lock(st_->mu);
    s->next_runnable = nullptr;
    if (st_->tail)
      st_->tail->next_runnable = s;
    else
      st_->head = s;
    st_->tail = s;
  }
  st_->cv.notify_one();
}

bool dedicated_thread::in_executor() const noexcept {
  return std::this_thread::get_id() == st_->id;
}

void dedicated_thread::retire() noexcept {
  {
    std::lock_guard lock(st_->mu);
    st_->retired = true;
  }
  st_->cv.notify_one();
}

}  // namespace troupe
