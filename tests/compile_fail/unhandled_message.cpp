// A program that must NOT compile: it sends an actor a message the actor does
// not handle. tests/compile_fail/check.cmake compiles it and checks that the
// first error line names both the actor and the message.
//
// -DTROUPE_EXPECT_OK        compiles the valid part only (the control)
// -DTROUPE_UNHANDLED_ASK    asks the unhandled message instead of telling it

#include "troupe/troupe.hpp"

struct handled_probe_message {
  static constexpr std::string_view type_name = "compile_fail.handled";
};

struct unhandled_probe_message {
  using reply = int;
  static constexpr std::string_view type_name = "compile_fail.unhandled";
};

class probe_actor : public troupe::actor<probe_actor> {
 public:
  using handles = troupe::handles<handled_probe_message>;
  void handle(handled_probe_message) {}
};

int main() {
  troupe::system sys;
  auto ep = sys.spawn<probe_actor>().value();
  ep.tell(handled_probe_message{});
#if !defined(TROUPE_EXPECT_OK)
#if defined(TROUPE_UNHANDLED_ASK)
  auto r = ep.ask(unhandled_probe_message{});
  (void)r;
#else
  ep.tell(unhandled_probe_message{});
#endif
#endif
  return 0;
}
