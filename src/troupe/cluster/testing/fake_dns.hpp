#pragma once

// A scripted DNS server for the tests of DNS discovery, and the records it
// answers with.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "troupe/cluster/dns_message.hpp"

namespace troupe::cluster::testing {

/// A DNS server on 127.0.0.1 (a UDP socket and a thread in the test
/// process): answers each query with what `answer` returns (raw bytes;
/// empty: silence).
class fake_dns {
 public:
  using answer_fn = std::function<std::vector<std::vector<std::byte>>(const dns_message&)>;
  explicit fake_dns(answer_fn answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~fake_dns() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int queries() const { return queries_; }

 private:
  void loop() {
    std::vector<std::byte> buf(65535);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      auto q = decode_dns(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
      if (!q) continue;
      ++queries_;
      for (const auto& reply : answer_(*q))
        ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  answer_fn answer_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

inline dns_record a_record(std::string_view owner, std::uint32_t ip) {
  dns_record r;
  r.name = dns_name::parse(owner).value();
  r.type = dns_type::a;
  r.ttl = 30;
  r.a = ip;
  return r;
}

inline dns_record srv_record(std::string_view owner, std::string_view target, std::uint16_t port,
                             std::uint16_t priority = 0) {
  dns_record r;
  r.name = dns_name::parse(owner).value();
  r.type = dns_type::srv;
  r.ttl = 30;
  r.port = port;
  r.priority = priority;
  r.target = dns_name::parse(target).value();
  return r;
}

/// A response to `q` with `answers` and `additionals`.
inline std::vector<std::byte> reply(const dns_message& q, std::vector<dns_record> answers,
                                    std::vector<dns_record> additionals = {},
                                    std::uint8_t rcode = 0) {
  dns_message m;
  m.id = q.id;
  m.flags = dns_message::flag_response | rcode;
  m.questions = q.questions;
  m.answers = std::move(answers);
  m.additionals = std::move(additionals);
  return encode_dns(m).value();
}

}  // namespace troupe::cluster::testing
