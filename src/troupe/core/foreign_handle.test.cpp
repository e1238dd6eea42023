// An endpoint may point at something other than a local actor cell (a
// remote actor's proxy): such a handle receives the envelope, reads the
// message type-erased, and completes an ask's reply type-erased, later and
// from elsewhere. This tests that seam with a handle that records what it
// gets.
#include <gtest/gtest.h>

#include <string>
#include <typeinfo>
#include <vector>

#include "troupe/core/actor.hpp"
#include "troupe/core/endpoint.hpp"
#include "troupe/core/system.hpp"
#include "troupe/sim/runtime.hpp"

namespace foreign_handle_test {

using namespace std::chrono_literals;

struct add {
  using reply = std::string;
  int a = 0;
  int b = 0;
};
struct note {
  std::string text;
};
struct flush {
  using reply = void;
};

class calculator : public troupe::actor<calculator> {
 public:
  using handles = troupe::handles<add, note, flush>;
  std::string handle(const add& m) { return std::to_string(m.a + m.b); }
  void handle(const note&) {}
  void handle(const flush&) {}
};

/// Keeps what it is sent, as a proxy would before writing it to a socket.
class recording_handle final : public troupe::actor_handle {
 public:
  explicit recording_handle(troupe::system_core& c) : core_(c) {}

  troupe::send_result enqueue(troupe::envelope* e) noexcept override {
    types.push_back(e->message_type());
    if (e->message_type() == &typeid(add)) adds.push_back(*static_cast<const add*>(e->message()));
    if (e->message_type() == &typeid(note))
      notes.push_back(static_cast<const note*>(e->message())->text);
    if (troupe::detail::reply_base* r = e->reply()) replies.emplace_back(r);
    e->dispose();
    return {};
  }
  void enqueue_system(troupe::envelope* e) noexcept override {
    e->reject(troupe::errc::actor_not_found), e->dispose();
  }
  [[nodiscard]] troupe::actor_id id() const noexcept override { return 99; }
  void stop(troupe::exit_reason) noexcept override {}
  void kill() noexcept override {}
  void drain() noexcept override {}
  void exit(troupe::exit_reason) noexcept override {}
  void enqueue_notice(troupe::envelope* e) noexcept override {
    e->reject(troupe::errc::actor_not_found), e->dispose();
  }
  std::uint64_t add_watch(troupe::ref_ptr<troupe::watch_entry>) override { return 0; }
  void remove_watch(std::uint64_t) noexcept override {}
  [[nodiscard]] troupe::system_core& core() const noexcept override { return core_; }

  std::vector<const std::type_info*> types;
  std::vector<add> adds;
  std::vector<std::string> notes;
  std::vector<troupe::ref_ptr<troupe::detail::reply_base>> replies;

 private:
  troupe::system_core& core_;
};

TEST(foreign_handle, sees_each_message_with_its_type) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto h = troupe::make_ref<recording_handle>(sys.core());
  troupe::endpoint<calculator> e(h);
  EXPECT_TRUE(e.tell(note{"hello"}).ok());
  auto r = e.ask(add{2, 3});
  ASSERT_EQ(h->types.size(), 2u);
  EXPECT_EQ(*h->types[0], typeid(note));
  EXPECT_EQ(*h->types[1], typeid(add));
  EXPECT_EQ(h->notes, std::vector<std::string>{"hello"});
  ASSERT_EQ(h->adds.size(), 1u);
  EXPECT_EQ(h->adds[0].a, 2);
  ASSERT_EQ(h->replies.size(), 1u);  // only the ask has a reply
  EXPECT_EQ(h->replies[0]->reply_type(), typeid(std::string));
  EXPECT_FALSE(r.ready());
  // A proxy ends every ask it holds (here: as its node would when lost).
  EXPECT_TRUE(h->replies[0]->complete_error(troupe::error(troupe::errc::node_down)));
  EXPECT_EQ(r.get().error().code(), troupe::errc::node_down);
}

TEST(foreign_handle, completes_asks_type_erased_and_only_once) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto h = troupe::make_ref<recording_handle>(sys.core());
  troupe::endpoint<calculator> e(h);
  auto r = e.ask(add{2, 3}, 5s);
  ASSERT_EQ(h->replies.size(), 1u);
  // The deadline travels with the request.
  EXPECT_EQ(h->replies[0]->deadline(), sys.core().time().now() + 5s);
  std::string decoded = "5";  // as a proxy decodes it from the reply bytes
  EXPECT_TRUE(h->replies[0]->complete_erased(&decoded));
  EXPECT_FALSE(h->replies[0]->complete_error(troupe::error(troupe::errc::node_down)));
  auto v = r.get();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, "5");

  auto f = e.ask(flush{});
  ASSERT_EQ(h->replies.size(), 2u);
  EXPECT_EQ(h->replies[1]->reply_type(), typeid(void));
  EXPECT_TRUE(h->replies[1]->complete_erased(nullptr));
  EXPECT_TRUE(f.get().has_value());
}

TEST(foreign_handle, an_ask_the_handle_fails_ends_with_that_error) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto h = troupe::make_ref<recording_handle>(sys.core());
  troupe::endpoint<calculator> e(h);
  auto r = e.ask(add{1, 1});
  ASSERT_EQ(h->replies.size(), 1u);
  EXPECT_TRUE(h->replies[0]->complete_error(troupe::error(troupe::errc::node_down, "peer lost")));
  auto v = r.get();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), troupe::errc::node_down);
}

TEST(foreign_handle, an_ask_nobody_completes_still_ends_at_its_deadline) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto h = troupe::make_ref<recording_handle>(sys.core());
  troupe::endpoint<calculator> e(h);
  auto r = e.ask(add{1, 1}, 1s);
  auto v = r.get();  // the simulated clock runs to the deadline
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), troupe::errc::timeout);
  std::string late = "2";
  EXPECT_FALSE(h->replies[0]->complete_erased(&late));  // too late: nothing changes
}

/// What a node does with an ask that came from another node: it builds the
/// envelope itself and has the reply handed to a callback (which would
/// encode it and send it back).
struct sent_back {
  int calls = 0;
  troupe::result<std::string> value = troupe::errc::timeout;
  static void on_reply(troupe::detail::reply_base& done, void* context) noexcept {
    auto* self = static_cast<sent_back*>(context);
    ++self->calls;
    self->value = static_cast<troupe::detail::reply_state<std::string>&>(done).take();
  }
};

TEST(foreign_handle, an_incoming_ask_hands_its_reply_to_a_callback) {
  troupe::sim::runtime rt;
  troupe::system sys(rt.config());
  auto calc = sys.spawn<calculator>().value();
  sent_back out;
  auto st = troupe::make_ref<troupe::detail::reply_state<std::string>>();
  st->on_complete(&sent_back::on_reply, &out);
  ASSERT_TRUE(calc.handle()
                  ->enqueue(new troupe::detail::ask_envelope<calculator, add>(add{20, 22}, st))
                  .ok());
  EXPECT_EQ(out.calls, 0);
  rt.run();  // the actor handles the ask
  ASSERT_EQ(out.calls, 1);
  ASSERT_TRUE(out.value);
  EXPECT_EQ(*out.value, "42");

  // Registered after completion: called at once.
  sent_back late;
  auto done = troupe::make_ref<troupe::detail::reply_state<std::string>>();
  done->complete(troupe::error(troupe::errc::handler_failed, "boom"));
  done->on_complete(&sent_back::on_reply, &late);
  ASSERT_EQ(late.calls, 1);
  EXPECT_EQ(late.value.error().code(), troupe::errc::handler_failed);
}

}  // namespace foreign_handle_test
