#include <iostream>
#include <string>

#include "troupe/troupe.hpp"

struct greet {                // a message is a plain aggregate
  using reply = std::string;  // what ask() returns (omit it for a tell-only message)
  static constexpr std::string_view type_name = "hello.greet";
  std::string name;
};

class greeter : public troupe::actor<greeter> {
 public:
  using handles = troupe::handles<greet>;
  explicit greeter(std::string greeting) : greeting_(std::move(greeting)) {}
  std::string handle(const greet& m) { return greeting_ + ", " + m.name + "!"; }

 private:
  std::string greeting_;
};

int main() {
  troupe::system sys;  // a work-stealing thread pool, one worker per hardware thread
  troupe::endpoint<greeter> g = sys.spawn<greeter>("Hello").value();
  troupe::result<std::string> reply = g.ask(greet{"world"}).get();
  if (!reply) {
    std::cerr << "ask failed: " << reply.error().message() << "\n";
    return 1;
  }
  std::cout << *reply << "\n";  // Hello, world!
  return *reply == "Hello, world!" ? 0 : 1;
}
