// Plain blocking TCP on 127.0.0.1 for the raw remote benchmarks (the
// baseline: what the kernel does with no framework in between). Every error
// ends the process through bench::remote::fail.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "remote_common.hpp"

namespace bench::raw_tcp {

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

/// Disables Nagle's algorithm: small writes leave at once.
inline void set_nodelay(int fd) {
  int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
    remote::fail_errno("setsockopt TCP_NODELAY");
}

/// Listens on 127.0.0.1 at a port the kernel picks; stores it in `port`.
inline int listen_loopback(std::uint16_t& port, int backlog) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) remote::fail_errno("socket");
  auto address = loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    remote::fail_errno("bind");
  if (listen(fd, backlog) != 0) remote::fail_errno("listen");
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    remote::fail_errno("getsockname");
  port = ntohs(address.sin_port);
  return fd;
}

/// Accepts one connection (TCP_NODELAY set).
inline int accept_one(int listener) {
  for (;;) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      set_nodelay(fd);
      return fd;
    }
    if (errno != EINTR) remote::fail_errno("accept");
  }
}

/// Connects to 127.0.0.1:`port` (TCP_NODELAY set).
inline int connect_loopback(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) remote::fail_errno("socket");
  auto address = loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    remote::fail_errno("connect");
  set_nodelay(fd);
  return fd;
}

/// Writes all `size` bytes.
inline void write_all(int fd, const void* data, std::size_t size) {
  auto* at = static_cast<const char*>(data);
  while (size > 0) {
    auto put = write(fd, at, size);
    if (put < 0) {
      if (errno == EINTR) continue;
      remote::fail_errno("write");
    }
    at += put;
    size -= static_cast<std::size_t>(put);
  }
}

/// Reads up to `capacity` bytes; 0 means the peer closed the connection.
inline std::size_t read_some(int fd, void* data, std::size_t capacity) {
  for (;;) {
    auto got = read(fd, data, capacity);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) remote::fail_errno("read");
  }
}

/// Reads exactly `size` bytes. False when the peer closed the connection
/// before the first byte; a close in the middle is an error.
inline bool read_exact_or_eof(int fd, void* data, std::size_t size) {
  auto* at = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    auto got = read_some(fd, at + done, size - done);
    if (got == 0) {
      if (done == 0) return false;
      remote::fail("read: connection closed in the middle of a message");
    }
    done += got;
  }
  return true;
}

/// Reads exactly `size` bytes; the peer closing first is an error.
inline void read_exact(int fd, void* data, std::size_t size) {
  if (!read_exact_or_eof(fd, data, size)) remote::fail("read: connection closed by the peer");
}

}  // namespace bench::raw_tcp
