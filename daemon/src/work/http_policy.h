#pragma once
// Work internals: what an http attempt reads from its tenant's settings.

#include <array>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
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

struct HttpPolicy {
  HostGuard hosts;
  std::shared_ptr<boost::asio::ssl::context> tls;  // shared by every tenant
  HttpDefaults defaults;
  /// orch_http_responses_total{tenant,class} by kStatusClasses index; null without metrics.
  std::array<prometheus::Counter*, kStatusClasses.size()> responses{};

  /// Counts one attempt's final response (status 0: none).
  void count_response(std::uint32_t status) const;
};

}  // namespace orch::work
