#include "admin/admin_http.h"

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/error.hpp>
#include <spdlog/spdlog.h>

#include "orch/metrics/metrics.h"

namespace orch::admin {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
constexpr std::string_view kPrometheusText = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kAllowed = "GET, HEAD";

Response text_response(http::status status, unsigned version, std::string body) {
  Response res{status, version};
  res.set(http::field::server, "orchestrd");
  res.set(http::field::content_type, kTextPlain);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

}  // namespace

std::optional<http::status> status_for_read_error(const boost::beast::error_code& ec) {
  if (ec == http::error::body_limit) return http::status::payload_too_large;
  if (ec == http::error::header_limit) return http::status::request_header_fields_too_large;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return std::nullopt;
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
    return http::status::bad_request;
  }
  return std::nullopt;  // timeout, reset, aborted by stop(), ...
}

Response refusal(http::status status) {
  const boost::beast::string_view reason = http::obsolete_reason(status);
  Response res = text_response(status, 11, std::string(reason.data(), reason.size()) + "\n");
  res.keep_alive(false);
  return res;
}

Response respond(const Request& req, const metrics::Metrics& metrics,
                 const std::function<bool()>& ready, const ReloadHandler& reload) {
  std::string_view path = req.target();
  path = path.substr(0, path.find('?'));
  const bool is_metrics = path == "/metrics";
  const bool is_health = path == "/healthz";
  const bool is_ready = path == "/readyz";

  Response res;
  if (path == "/reload" && reload) {
    // The admin port is an operator's port: /reload takes no input and only re-reads the file
    // the daemon was started with, so the worst a caller can do is apply that file early.
    if (req.method() != http::verb::post) {
      res = text_response(http::status::method_not_allowed, req.version(), "method not allowed\n");
      res.set(http::field::allow, "POST");
    } else {
      try {
        auto [applied, message] = reload();
        res = text_response(applied ? http::status::ok : http::status::internal_server_error,
                            req.version(), message + "\n");
      } catch (const std::exception& e) {
        spdlog::error("admin server: /reload failed: {}", e.what());
        res = text_response(http::status::internal_server_error, req.version(), "internal error\n");
      }
    }
  } else if (!is_metrics && !is_health && !is_ready) {
    res = text_response(http::status::not_found, req.version(), "not found\n");
  } else if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res = text_response(http::status::method_not_allowed, req.version(), "method not allowed\n");
    res.set(http::field::allow, kAllowed);
  } else {
    try {
      if (is_metrics) {
        res = text_response(http::status::ok, req.version(), metrics.serialize());
        res.set(http::field::content_type, kPrometheusText);
      } else if (is_health) {
        res = text_response(http::status::ok, req.version(), "ok\n");
      } else if (ready && ready()) {
        res = text_response(http::status::ok, req.version(), "ready\n");
      } else {
        res = text_response(http::status::service_unavailable, req.version(), "not ready\n");
      }
    } catch (const std::exception& e) {
      spdlog::error("admin server: {} failed: {}", path, e.what());
      res = text_response(http::status::internal_server_error, req.version(), "internal error\n");
    }
  }
  if (req.method() == http::verb::head) {
    // Same headers as GET, Content-Length included, but no body, whatever the status: a body
    // after a HEAD's 404 would be read as the start of the next response.
    const std::size_t length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  res.keep_alive(req.keep_alive());
  return res;
}

}  // namespace orch::admin
