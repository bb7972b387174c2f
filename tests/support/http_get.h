#pragma once
/// A blocking HTTP/1.1 GET over loopback TCP, enough to read orchestrd's admin endpoints.
///
/// Thread-safety: a pure function.

#include <chrono>
#include <cstdint>
#include <string>

namespace orch::test {

struct HttpResponse {
  /// The status code; 0 when no response could be read (the error says why).
  int status = 0;
  /// Header lines as received ("Name: value\r\n" each), for assertions on Content-Type.
  std::string headers;
  /// The body, de-chunked when the server used chunked transfer encoding.
  std::string body;
  std::string error;
};

/// GET http://127.0.0.1:PORT/TARGET with `Connection: close`; every step bounded by `timeout`.
HttpResponse http_get(std::uint16_t port, const std::string& target,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// The same with another method and an empty body, e.g. POST /reload.
HttpResponse http_request(std::uint16_t port, const std::string& method, const std::string& target,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace orch::test
