// libFuzzer target: the DNS message decoder that mDNS and DNS discovery run
// on packets from the network (troupe/cluster/dns_message.hpp), and the mDNS
// responder and browser fed what decodes. For every input:
//   - decoding ends without reading outside the input; a failure is an
//     errc::decode_error;
//   - what decodes encodes again (unless it is too large) and decodes to the
//     same message;
//   - the responder's answers and the browser's events for it are messages
//     that encode.
// A violation aborts (a crash for libFuzzer).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "troupe/cluster/dns_message.hpp"
#include "troupe/cluster/mdns_records.hpp"

namespace {

using namespace troupe;
using namespace troupe::cluster;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "dns_message fuzz: %s\n", what);
    std::abort();
  }
}

// An empty TXT record is written as one empty string (RFC 6763, 6.1).
bool same_txt(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const std::vector<std::string> empty{""};
  return a == b || (a.empty() && b == empty) || (a == empty && b.empty());
}

bool same(const dns_record& a, const dns_record& b) {
  return a.name == b.name && a.type == b.type && a.klass == b.klass &&
         a.cache_flush == b.cache_flush && a.ttl == b.ttl && a.a == b.a && a.target == b.target &&
         a.priority == b.priority && a.weight == b.weight && a.port == b.port && a.raw == b.raw &&
         same_txt(a.txt, b.txt);
}

bool same(const std::vector<dns_record>& a, const std::vector<dns_record>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> in(reinterpret_cast<const std::byte*>(data), size);
  auto m = decode_dns(in);
  if (!m) {
    check(m.error().code() == errc::decode_error, "a failure that is not decode_error");
    return 0;
  }
  auto again = encode_dns(*m);
  if (again) {
    auto back = decode_dns(*again);
    check(back.has_value(), "an encoded message does not decode");
    check(back->id == m->id && back->flags == m->flags, "header changed");
    check(back->questions.size() == m->questions.size(), "questions changed");
    for (std::size_t i = 0; i < m->questions.size(); ++i)
      check(back->questions[i].name == m->questions[i].name &&
                back->questions[i].type == m->questions[i].type &&
                back->questions[i].klass == m->questions[i].klass &&
                back->questions[i].unicast_response == m->questions[i].unicast_response,
            "a question changed");
    check(same(back->answers, m->answers) && same(back->authorities, m->authorities) &&
              same(back->additionals, m->additionals),
          "a record changed");
  } else {
    check(again.error().code() == errc::invalid_argument, "a decoded message fails to encode");
  }

  static mdns_responder responder = [] {
    mdns_service s;
    s.instance = "fuzz";
    s.host = "fuzz.local";
    s.ipv4 = 0x0A000001;
    s.port = 7000;
    s.txt = {{"node", "fuzz"}, {"incarnation", "1"}};
    return mdns_responder::make(s).value();
  }();
  const time_point t{std::chrono::seconds(size)};
  for (const auto& reply : responder.answer(*m, size % 2 ? 5353 : 40000, t))
    check(encode_dns(reply.message).has_value(), "an answer does not encode");
  mdns_browser browser("self", size % 3 ? "" : "blue", std::chrono::seconds(30));
  (void)browser.on_response(*m, t);
  (void)browser.expire(t + std::chrono::seconds(1));
  check(encode_dns(browser.query(t)).has_value(), "a query does not encode");
  if (auto q = browser.resolve_query(t))
    check(encode_dns(*q).has_value(), "a resolve query does not encode");
  return 0;
}
