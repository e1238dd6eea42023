#include "troupe/cluster/dns_message.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

// The DNS message codec: round trips, compression, the mDNS class bits, and
// hostile input (truncation, pointer loops, overlong names, lying counts):
// the decoder must fail cleanly, never crash or loop.

namespace troupe::cluster {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

dns_name name(std::string_view text) { return dns_name::parse(text).value(); }

dns_message sample() {
  dns_message m;
  m.id = 0x1234;
  m.flags = dns_message::flag_response | dns_message::flag_authoritative;
  dns_question q;
  q.name = name("_troupe._tcp.local");
  q.type = dns_type::ptr;
  q.unicast_response = true;
  m.questions.push_back(q);
  dns_record ptr;
  ptr.name = name("_troupe._tcp.local");
  ptr.type = dns_type::ptr;
  ptr.ttl = 120;
  ptr.target = name("node\\.one._troupe._tcp.local");
  m.answers.push_back(ptr);
  dns_record srv;
  srv.name = ptr.target;
  srv.type = dns_type::srv;
  srv.cache_flush = true;
  srv.ttl = 120;
  srv.priority = 1;
  srv.weight = 2;
  srv.port = 7000;
  srv.target = name("host-a.local");
  m.additionals.push_back(srv);
  dns_record txt;
  txt.name = ptr.target;
  txt.type = dns_type::txt;
  txt.ttl = 4500;
  txt.txt = {"node=node.one", "incarnation=42", ""};
  m.additionals.push_back(txt);
  dns_record a;
  a.name = name("host-a.local");
  a.type = dns_type::a;
  a.cache_flush = true;
  a.ttl = 120;
  a.a = 0x0A520001;
  m.additionals.push_back(a);
  dns_record other;
  other.name = name("host-a.local");
  other.type = dns_type::nsec;
  other.raw = bytes({1, 2, 3});
  m.authorities.push_back(other);
  return m;
}

TEST(dns_name, parses_escapes_and_compares_without_case) {
  auto n = dns_name::parse("My\\.Node._troupe._TCP.local.");
  ASSERT_TRUE(n);
  ASSERT_EQ(n->labels.size(), 4u);
  EXPECT_EQ(n->labels[0], "My.Node");
  EXPECT_EQ(n->to_string(), "My\\.Node._troupe._TCP.local");
  EXPECT_EQ(*n, name("my\\.node._troupe._tcp.LOCAL"));
  EXPECT_FALSE(*n == name("my\\.node._troupe._udp.local"));
  EXPECT_TRUE(dns_name::parse(".")->labels.empty());
  EXPECT_EQ(dns_name::parse("")->to_string(), ".");
}

TEST(dns_name, refuses_empty_and_overlong_labels_and_names) {
  for (const std::string& bad :
       std::vector<std::string>{"a..b", ".a", "a\\", std::string(64, 'x') + ".local"}) {
    auto n = dns_name::parse(bad);
    ASSERT_FALSE(n) << bad;
    EXPECT_EQ(n.error().code(), errc::invalid_name) << bad;
  }
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'y') + ".";  // 305 bytes
  EXPECT_FALSE(dns_name::parse(long_name));
  EXPECT_TRUE(dns_name::parse(std::string(63, 'x') + ".local"));
  EXPECT_FALSE(name("local").prepend(""));
  EXPECT_FALSE(name("local").prepend(std::string(64, 'z')));
  EXPECT_EQ(name("local").prepend("a.b")->to_string(), "a\\.b.local");
}

TEST(dns_message, round_trips_every_record_kind) {
  const dns_message m = sample();
  auto wire = encode_dns(m);
  ASSERT_TRUE(wire) << wire.error().message();
  auto back = decode_dns(*wire);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->id, 0x1234);
  EXPECT_TRUE(back->is_response());
  ASSERT_EQ(back->questions.size(), 1u);
  EXPECT_TRUE(back->questions[0].unicast_response);
  EXPECT_EQ(back->questions[0].klass, dns_class_in);
  ASSERT_EQ(back->answers.size(), 1u);
  EXPECT_EQ(back->answers[0].target, m.answers[0].target);
  EXPECT_EQ(back->answers[0].target.labels[0], "node.one");
  ASSERT_EQ(back->additionals.size(), 3u);
  const dns_record& srv = back->additionals[0];
  EXPECT_TRUE(srv.cache_flush);
  EXPECT_EQ(srv.klass, dns_class_in);
  EXPECT_EQ(srv.port, 7000);
  EXPECT_EQ(srv.priority, 1);
  EXPECT_EQ(srv.weight, 2);
  EXPECT_EQ(srv.target, name("host-a.local"));
  EXPECT_EQ(back->additionals[1].txt, m.additionals[1].txt);
  EXPECT_EQ(back->additionals[1].ttl, 4500u);
  EXPECT_EQ(back->additionals[2].a, 0x0A520001u);
  ASSERT_EQ(back->authorities.size(), 1u);
  EXPECT_EQ(back->authorities[0].raw, bytes({1, 2, 3}));
}

TEST(dns_message, keeps_the_unicast_bit_of_any_question_and_the_size_of_opt) {
  // Found by fuzzing: a question of type OPT lost its unicast-response bit.
  dns_message m;
  dns_question q;
  q.name = name("x.test");
  q.type = dns_type::opt;
  q.unicast_response = true;
  m.questions.push_back(q);
  dns_record opt;
  opt.type = dns_type::opt;
  opt.klass = 0x9000;  // a UDP size of 36864: the top bit is no cache-flush bit
  m.additionals.push_back(opt);
  auto back = decode_dns(encode_dns(m).value());
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->questions.at(0).unicast_response);
  EXPECT_EQ(back->additionals.at(0).klass, 0x9000);
  EXPECT_FALSE(back->additionals.at(0).cache_flush);
}

TEST(dns_message, compresses_repeated_names) {
  dns_message m = sample();
  auto wire = encode_dns(m);
  ASSERT_TRUE(wire);
  std::size_t plain = 12;
  for (const auto& q : m.questions) plain += q.name.wire_size() + 4;
  plain += m.answers[0].name.wire_size() + 10 + m.answers[0].target.wire_size();
  EXPECT_LT(wire->size(), plain + 100) << "the suffix _troupe._tcp.local is written once";
  // The question's name is written in full; the PTR's owner name is one
  // pointer to it.
  const std::size_t answer_at = 12 + m.questions[0].name.wire_size() + 4;
  EXPECT_EQ(std::to_integer<int>((*wire)[answer_at]), 0xC0);
  EXPECT_EQ(std::to_integer<int>((*wire)[answer_at + 1]), 12);
}

TEST(dns_message, encoding_refuses_what_cannot_be_written) {
  dns_message m;
  dns_record r;
  r.name.labels = {std::string(64, 'a')};
  m.answers.push_back(r);
  auto e = encode_dns(m);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), errc::invalid_name);
  dns_message t;
  dns_record txt;
  txt.name = name("x.local");
  txt.type = dns_type::txt;
  txt.txt = {std::string(256, 'x')};
  t.answers.push_back(txt);
  ASSERT_FALSE(encode_dns(t));
  EXPECT_EQ(encode_dns(t).error().code(), errc::invalid_argument);
  EXPECT_FALSE(encode_dns(sample(), 40)) << "over max_size";
  dns_message empty_txt;
  txt.txt.clear();
  empty_txt.answers.push_back(txt);
  auto w = encode_dns(empty_txt);
  ASSERT_TRUE(w);
  EXPECT_EQ(decode_dns(*w)->answers[0].txt, std::vector<std::string>{""});
}

// -------------------------------------------------------------- hostile input

void expect_decode_error(const std::vector<std::byte>& data, const char* what) {
  auto m = decode_dns(data);
  ASSERT_FALSE(m) << what;
  EXPECT_EQ(m.error().code(), errc::decode_error) << what;
}

TEST(dns_message_hostile, every_truncation_of_a_good_message_fails_cleanly) {
  auto wire = encode_dns(sample()).value();
  for (std::size_t n = 0; n < wire.size(); ++n) {
    std::vector<std::byte> cut(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(n));
    auto m = decode_dns(cut);
    EXPECT_FALSE(m) << "cut at " << n;
  }
}

// A message of two records: the first's data holds a chain of `n` pointers,
// each to the one before (the first to a root); the second's name points to
// the last of them.
std::vector<std::byte> pointer_chain(std::size_t n) {
  std::vector<std::byte> msg = bytes({0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0});
  const std::size_t chain_at = 23;  // after the header, a root name and 10 fixed bytes
  const std::size_t length = 1 + 2 * n;
  for (int b : {0, 0, 99, 0, 1, 0, 0, 0, 1}) msg.push_back(static_cast<std::byte>(b));
  msg.push_back(static_cast<std::byte>(length >> 8));
  msg.push_back(static_cast<std::byte>(length & 0xff));
  msg.push_back(std::byte{0});  // the root, at chain_at
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t prev = i == 0 ? chain_at : msg.size() - 2;
    msg.push_back(static_cast<std::byte>(0xC0 | (prev >> 8)));
    msg.push_back(static_cast<std::byte>(prev & 0xff));
  }
  const std::size_t last = msg.size() - 2;
  msg.push_back(static_cast<std::byte>(0xC0 | (last >> 8)));
  msg.push_back(static_cast<std::byte>(last & 0xff));
  for (int b : {0, 99, 0, 1, 0, 0, 0, 1, 0, 0}) msg.push_back(static_cast<std::byte>(b));
  return msg;
}

TEST(dns_message_hostile, a_pointer_to_itself_or_forward_is_refused) {
  // One question whose name is a pointer to its own offset (12).
  expect_decode_error(bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1}), "self");
  // A pointer forward (to 14).
  expect_decode_error(bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 1, 0, 1, 1, 'a', 0}),
                      "forward");
}

TEST(dns_message_hostile, a_pointer_loop_through_labels_ends) {
  // At 12: label "a" then a pointer back to 12: a loop made of a label and a
  // backward pointer. The name limit (255 bytes) or the pointer limit ends it.
  expect_decode_error(bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xC0, 12, 0, 1, 0, 1}),
                      "label loop");
  auto many = decode_dns(pointer_chain(200));
  ASSERT_FALSE(many) << "200 pointers in one name";
  EXPECT_NE(many.error().detail().find("pointers"), std::string::npos) << many.error().detail();
  auto some = decode_dns(pointer_chain(100));
  EXPECT_TRUE(some) << "100 pointers are within the limit: " << some.error().message();
}

TEST(dns_message_hostile, an_overlong_name_is_refused) {
  // Five labels of 63 bytes: 321 bytes in wire form.
  std::vector<std::byte> msg = bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
  for (int l = 0; l < 5; ++l) {
    msg.push_back(std::byte{63});
    for (int i = 0; i < 63; ++i) msg.push_back(std::byte{'x'});
  }
  for (int b : {0, 0, 1, 0, 1}) msg.push_back(static_cast<std::byte>(b));
  expect_decode_error(msg, "overlong name");
  // A label with the reserved 0x40 / 0x80 type bits.
  expect_decode_error(bytes({0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1}),
                      "label type");
}

TEST(dns_message_hostile, lying_counts_and_lengths_are_refused) {
  expect_decode_error(bytes({0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
                      "counts");
  // An A record whose length says 5.
  expect_decode_error(bytes({0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                             1, 0, 1,    0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5}),
                      "A of 5 bytes");
  // A record length past the end.
  expect_decode_error(
      bytes({0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 99, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 1, 2}),
      "length past the end");
  // A TXT string that runs past its record (but not past the message).
  expect_decode_error(bytes({0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0,   0,   0,   0,   0,  16,
                             0, 1, 0,    0, 0, 1, 0, 2, 5, 'a', 'b', 'c', 'd', 'e'}),
                      "TXT past its record");
  // A PTR whose name ends before its length does.
  expect_decode_error(
      bytes({0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 12, 0, 1, 0, 0, 0, 1, 0, 3, 0, 9, 9}),
      "PTR shorter than its length");
}

TEST(dns_message_hostile, random_bytes_and_mutations_never_crash) {
  std::mt19937 rng(7);
  const auto good = encode_dns(sample()).value();
  std::size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::byte> d;
    if (i % 2 == 0) {
      d = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) d[rng() % d.size()] = static_cast<std::byte>(rng());
    } else {
      d.resize(rng() % 300);
      for (auto& b : d) b = static_cast<std::byte>(rng());
    }
    auto m = decode_dns(d);
    if (m) {
      ++decoded;
      // Whatever decodes encodes again (or is refused with an error).
      (void)encode_dns(*m);
    }
  }
  EXPECT_GT(decoded, 0u) << "some mutations still decode";
}

}  // namespace
}  // namespace troupe::cluster
