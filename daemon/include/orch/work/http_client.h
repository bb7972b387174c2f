#pragma once
/// The daemon's side of http nodes: one TLS client context (verifying peers against the
/// system's CA store or `http.ca_file`), the configured defaults, and one policy per tenant
/// (its host guard and its orch_http_responses_total counters) that the engine hands to each
/// attempt through engine::TenantSettings.
///
/// Thread-safety: build it and call policy_for() and set_limits() at start-up or from one
/// configuration reload at a time; the policies it returns are immutable and shared by every
/// task of the tenant, on any thread (a reload hands out new ones; running attempts keep theirs).

#include <memory>

#include "orch/config/config.h"

namespace orch::metrics {
class Metrics;
}

namespace orch::work {

struct HttpPolicy;

class HttpClient {
 public:
  /// Loads the CA store. Throws config::ConfigError when `http.ca_file` cannot be loaded
  /// ("http.ca_file: cannot load /x.pem: ..."). Without `metrics`, nothing is counted.
  HttpClient(const config::HttpConfig& http, const config::Limits& limits,
             metrics::Metrics* metrics);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// The policy of one tenant. Throws config::ConfigError when its host patterns do not parse
  /// (parse_config has refused those already).
  std::shared_ptr<const HttpPolicy> policy_for(const config::TenantConfig& tenant);

  /// New defaults (default_http_*) for the policies made from now on.
  void set_limits(const config::Limits& limits);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace orch::work
