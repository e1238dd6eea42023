#include "troupe/core/envelopes.hpp"

#include <gtest/gtest.h>

#include <string>

#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

namespace {

using namespace std::chrono_literals;

struct echo_later {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.echo_later";
  std::string text;
};

struct note_later {
  static constexpr std::string_view type_name = "test.note_later";
  std::string text;
};

struct last_note {
  using reply = std::string;
  static constexpr std::string_view type_name = "test.last_note";
};

// Its coroutine handlers take their messages by const reference and read them
// after suspending: the task must keep the queued message alive.
class late_reader : public troupe::actor<late_reader> {
 public:
  using handles = troupe::handles<echo_later, note_later, last_note>;

  troupe::task<std::string> handle(const echo_later& m) {
    co_await sleep_for(10ms);
    co_return m.text + "!";
  }
  troupe::task<> handle(const note_later& m) {
    co_await sleep_for(5ms);
    last_ = m.text;
  }
  std::string handle(last_note) { return last_; }

 private:
  std::string last_;
};

TEST(envelopes, a_coroutine_handler_may_read_its_message_after_suspending) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<late_reader>().value();
  // Long strings live on the heap: reading freed storage would be caught by
  // ASan and would not compare equal.
  std::string text(200, 'x');
  auto r = a.ask(echo_later{text});
  a.tell(note_later{text + "y"});
  EXPECT_EQ(r.get().value(), text + "!");
  EXPECT_EQ(a.ask(last_note{}).get().value(), text + "y");
}

TEST(envelopes, a_killed_coroutine_releases_its_message) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto a = sys.spawn<late_reader>().value();
  auto r = a.ask(echo_later{std::string(100, 'z')});
  rt.run();  // the handler is now suspended in sleep_for
  a.kill();
  rt.run();
  EXPECT_EQ(r.get().error().code(), troupe::errc::actor_not_found);
  EXPECT_EQ(sys.live_actors(), 0u);
}

}  // namespace
