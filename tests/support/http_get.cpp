#include "http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace orch::test {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Decodes a chunked body; returns false on a malformed one.
bool dechunk(const std::string& in, std::string& out) {
  std::size_t pos = 0;
  for (;;) {
    const auto eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return false;
    const std::size_t size = std::strtoul(in.substr(pos, eol - pos).c_str(), nullptr, 16);
    pos = eol + 2;
    if (size == 0) return true;
    if (pos + size > in.size()) return false;
    out.append(in, pos, size);
    pos += size + 2;
  }
}

}  // namespace

HttpResponse http_get(std::uint16_t port, const std::string& target,
                      std::chrono::milliseconds timeout) {
  return http_request(port, "GET", target, timeout);
}

HttpResponse http_request(std::uint16_t port, const std::string& method,
                          const std::string& target, std::chrono::milliseconds timeout) {
  HttpResponse response;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    response.error = std::string("socket: ") + std::strerror(errno);
    return response;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    response.error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return response;
  }
  const std::string request = method + " " + target +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                              "Accept: */*\r\nContent-Length: 0\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      response.error = std::string("send: ") + std::strerror(errno);
      ::close(fd);
      return response;
    }
    sent += static_cast<std::size_t>(n);
  }

  // Connection: close, so the response ends where the stream does.
  std::string raw;
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      response.error = std::string("recv: ") + std::strerror(errno);
      break;
    }
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);

  const auto header_end = raw.find("\r\n\r\n");
  if (header_end == std::string::npos || !raw.starts_with("HTTP/1.")) {
    if (response.error.empty()) response.error = "no HTTP response: " + raw.substr(0, 200);
    return response;
  }
  const auto first_eol = raw.find("\r\n");
  response.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  response.headers = raw.substr(first_eol + 2, header_end - first_eol);
  std::string body = raw.substr(header_end + 4);
  if (lower(response.headers).find("transfer-encoding: chunked") != std::string::npos) {
    if (!dechunk(body, response.body)) response.error = "malformed chunked body";
  } else {
    response.body = std::move(body);
  }
  return response;
}

}  // namespace orch::test
