#pragma once
// Admin internals: the answer to one admin HTTP request, without any I/O, so that the server
// (admin_server.cpp) and the request fuzzer (tests/fuzz) run the same code.
//
// Thread-safety: pure functions, apart from what `metrics` and `ready` do when called.

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

namespace orch::metrics {
class Metrics;
}

namespace orch::admin {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

/// Which answer a failed read deserves (400, 413, 431); nullopt when the client is gone or too
/// slow and the connection just closes.
std::optional<boost::beast::http::status> status_for_read_error(const boost::beast::error_code& ec);

/// The answer to a request that could not be read: `status` with its reason as the body and
/// `Connection: close`.
Response refusal(boost::beast::http::status status);

/// What `POST /reload` runs: whether the new configuration was applied, and what to say.
using ReloadHandler = std::function<std::pair<bool, std::string>()>;

/// The answer to one well-formed request: /metrics, /healthz, /readyz (GET and HEAD), 405 with
/// `Allow` for other methods on them, 404 for other paths; with a `reload` handler, also
/// `POST /reload` (200 applied, 500 refused). Keep-alive follows the request. `ready` answers
/// /readyz (empty: not ready); an exception while rendering is a 500.
Response respond(const Request& req, const metrics::Metrics& metrics,
                 const std::function<bool()>& ready, const ReloadHandler& reload = {});

}  // namespace orch::admin
