#include "orch/work/http_client.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <boost/system/system_error.hpp>

#include "orch/metrics/metrics.h"
#include "work/http_policy.h"

namespace orch::work {

namespace ssl = boost::asio::ssl;

void HttpPolicy::count_response(std::uint32_t status) const {
  const std::size_t index =
      status >= 100 && status < 600 ? status / 100 - 1 : kStatusClasses.size() - 1;
  if (auto* counter = responses[index]) counter->Increment();
}

namespace {

ssl::context client_context() {
  ssl::context context(ssl::context::tls_client);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  context.set_verify_mode(ssl::verify_peer);
  return context;
}

}  // namespace

TlsClientContext::TlsClientContext(const std::string& ca_file)
    : context_(client_context()), system_store_(ca_file.empty()) {
  if (system_store_) return;
  try {
    context_.load_verify_file(ca_file);
  } catch (const boost::system::system_error& e) {
    throw config::ConfigError("http.ca_file: cannot load " + ca_file + ": " + e.code().message());
  }
}

ssl::context* TlsClientContext::get(std::string& error) {
  if (system_store_) {
    std::call_once(loaded_, [this] {
      boost::system::error_code ec;
      context_.set_default_verify_paths(ec);
      if (ec) load_error_ = "cannot load the system's CA store: " + ec.message();
    });
  }
  if (!load_error_.empty()) {
    error = load_error_;
    return nullptr;
  }
  return &context_;
}

struct HttpClient::Impl {
  std::shared_ptr<TlsClientContext> tls;
  HttpDefaults defaults;
  prometheus::Family<prometheus::Counter>* responses = nullptr;
};

HttpClient::HttpClient(const config::HttpConfig& http, const config::Limits& limits,
                       metrics::Metrics* metrics)
    : impl_(std::make_shared<Impl>()) {
  impl_->tls = std::make_shared<TlsClientContext>(http.ca_file);
  impl_->defaults = HttpDefaults{limits.default_http_connect_timeout, limits.default_http_timeout,
                                 limits.default_http_response_bytes};
  if (metrics != nullptr) {
    impl_->responses = &prometheus::BuildCounter()
                            .Name("orch_http_responses_total")
                            .Help(
                                "Attempts of http nodes by tenant and the status class of their "
                                "final response (1xx..5xx), or error when none came.")
                            .Register(*metrics->registry());
  }
}

HttpClient::~HttpClient() = default;

void HttpClient::set_limits(const config::Limits& limits) {
  impl_->defaults = HttpDefaults{limits.default_http_connect_timeout, limits.default_http_timeout,
                                 limits.default_http_response_bytes};
}

std::shared_ptr<const HttpPolicy> HttpClient::policy_for(const config::TenantConfig& tenant) {
  std::string why;
  auto guard = HostGuard::parse(tenant.http_allow_hosts, tenant.http_deny_hosts, why);
  if (!guard) throw config::ConfigError("tenants " + tenant.name + ": " + why);
  auto policy =
      std::make_shared<HttpPolicy>(HttpPolicy{std::move(*guard), impl_->tls, impl_->defaults, {}});
  if (impl_->responses != nullptr) {
    for (std::size_t i = 0; i < kStatusClasses.size(); ++i) {
      policy->responses[i] = &impl_->responses->Add(
          {{"tenant", tenant.name}, {"class", std::string(kStatusClasses[i])}});
    }
  }
  return policy;
}

}  // namespace orch::work
