#pragma once
// Work internals: what an http attempt reads from its tenant's settings.

#include <array>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "orch/common/duration.h"
#include "orch/work/host_guard.h"

namespace prometheus {
class Counter;
}

namespace orch::work {

/// The `class` label of orch_http_responses_total: the status class of an attempt's final
/// response, or `error` when the attempt got none (dns, connect, tls, timeout, protocol,
/// denied).
inline constexpr std::array<std::string_view, 6> kStatusClasses = {"1xx", "2xx", "3xx",
                                                                   "4xx", "5xx", "error"};

struct HttpDefaults {
  Duration connect_timeout = std::chrono::seconds(10);
  Duration timeout = std::chrono::seconds(60);
  std::uint64_t response_bytes = 1 << 20;
};

/// The TLS client context of http nodes, shared by every tenant. The system's CA store (some
/// 150 certificates, most of the daemon's start-up CPU when parsed eagerly) is loaded at the
/// first https request; a configured http.ca_file is loaded at once, so a bad one fails the
/// start (or the reload) with a ConfigError.
class TlsClientContext {
 public:
  explicit TlsClientContext(const std::string& ca_file);
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  /// The context, with its CA store loaded; null, with `error` set, when the store cannot be.
  boost::asio::ssl::context* get(std::string& error);

 private:
  boost::asio::ssl::context context_;
  bool system_store_;        // load the system's store at first use
  std::once_flag loaded_;
  std::string load_error_;   // set once by the first get(), empty when loaded
};

struct HttpPolicy {
  HostGuard hosts;
  std::shared_ptr<TlsClientContext> tls;  // shared by every tenant
  HttpDefaults defaults;
  /// orch_http_responses_total{tenant,class} by kStatusClasses index; null without metrics.
  std::array<prometheus::Counter*, kStatusClasses.size()> responses{};

  /// Counts one attempt's final response (status 0: none).
  void count_response(std::uint32_t status) const;
};

}  // namespace orch::work
