#include "work/http_attempt.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <optional>
#include <variant>

#include "engine/task_record.h"
#include "orch/work/http_url.h"
#include "work/http_policy.h"

#ifndef ORCH_VERSION
#define ORCH_VERSION "0.1.0"
#endif

namespace orch::work {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::experimental::make_parallel_group;
using asio::experimental::wait_for_one;
using asio::ip::tcp;
using boost::system::error_code;
using engine::AttemptOutcome;
using engine::FailureReason;
using engine::Header;
using engine::HttpOutput;
using engine::HttpSpec;
using engine::State;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
/// Redirects followed at most, per attempt.
constexpr int kMaxRedirects = 5;
/// Largest response header block.
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
/// Body bytes read per step.
constexpr std::size_t kReadChunk = 16 * 1024;
/// 1xx interim responses skipped before the final one.
constexpr int kMaxInterimResponses = 8;
constexpr std::string_view kUserAgent = "orchestrd/" ORCH_VERSION;

struct Failure {
  FailureReason reason;
  std::string message;  // "<reason>: <what happened>"
};

/// One request of an attempt (the first, or one after a redirect).
struct Hop {
  std::string method;
  HttpUrl url;
  std::vector<Header> headers;
  std::string body;
};

/// What one attempt keeps while it runs; lives in http_attempt's frame.
struct Exchange {
  const HttpPolicy& policy;
  const HttpSpec& spec;
  const engine::AttemptInfo& attempt;
  Duration connect_timeout;
  std::uint64_t cap;
  HttpOutput out;
  std::optional<Failure> failure;
  std::string location;  // the last response's Location header
  std::string phase;     // what the connect step was doing, for timeout messages
};

asio::awaitable<bool> is_cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
  }
  return "unknown exception";
}

// Runs `op` until it completes or `limit` passes; false when the limit passed first (`op` has
// then been cancelled and has finished). Cancellation of the caller reaches `op`. Takes `op`
// by reference so that no awaitable is a temporary of the caller's co_await expression.
asio::awaitable<bool> within(Duration limit, asio::awaitable<void>& op) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  timer.expires_after(limit);
  auto group = make_parallel_group(asio::co_spawn(executor, std::move(op), asio::deferred),
                                   timer.async_wait(asio::deferred));
  auto [order, exception, timer_ec] = co_await group.async_wait(
      wait_for_one(asio::cancellation_type::terminal), asio::use_awaitable);
  if (exception) std::rethrow_exception(exception);
  co_return !(order[0] == 1 && !timer_ec);
}

// A name resolution that cancellation does not wait for: getaddrinfo cannot be interrupted, so
// a cancelled wait leaves the lookup to finish on its own and drops its answer.
struct Resolution {
  explicit Resolution(const asio::any_io_executor& executor)
      : resolver(executor), signal(executor) {}
  tcp::resolver resolver;
  asio::steady_timer signal;  // cancelled once the lookup is done
  bool done = false;
  error_code ec;
  tcp::resolver::results_type results;
};

// The lookup, or one whose `done` is false when the caller was cancelled first.
asio::awaitable<std::shared_ptr<Resolution>> resolve(const HttpUrl& url) {
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<Resolution>(executor);
  state->signal.expires_at(asio::steady_timer::time_point::max());
  auto on_resolved = [state](const error_code& ec, tcp::resolver::results_type results) {
    state->done = true;
    state->ec = ec;
    state->results = std::move(results);
    state->signal.cancel();
  };
  state->resolver.async_resolve(url.host, std::to_string(url.port), tcp::resolver::numeric_service,
                                std::move(on_resolved));
  // The handler runs on this strand, so `done` cannot change between this check and the wait.
  if (!state->done) co_await state->signal.async_wait(kAwait);
  co_return state;
}

std::string tls_failure(SSL* handle, const error_code& ec) {
  const long verify = SSL_get_verify_result(handle);
  if (verify != X509_V_OK) {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  }
  return ec.message();
}

// Resolves the host, checks its addresses against the tenant's guards, connects, and for https
// shakes hands (SNI, verification of the chain and of the host name). Sets x.failure unless it
// succeeds or is cancelled.
asio::awaitable<void> connect_steps(Exchange& x, const HttpUrl& url, tcp::socket& socket,
                                    ssl::stream<tcp::socket>* tls) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const std::string where = url.authority();
  x.phase = "while resolving " + url.host;
  auto resolved = co_await resolve(url);
  if (!resolved->done || co_await is_cancelled()) co_return;
  if (resolved->ec) {
    x.failure = Failure{FailureReason::kDns,
                        "dns: cannot resolve " + url.host + ": " + resolved->ec.message()};
    co_return;
  }
  std::vector<IpAddress> addresses;
  for (const auto& entry : resolved->results) {
    if (auto address = parse_ip_address(entry.endpoint().address().to_string()))
      addresses.push_back(*address);
  }
  if (auto denied = x.policy.hosts.check_addresses(url.host, addresses)) {
    x.failure = Failure{FailureReason::kDenied, "denied: " + *denied};
    co_return;
  }

  x.phase = "while connecting to " + where;
  auto [connect_ec, endpoint] = co_await asio::async_connect(socket, resolved->results, kAwait);
  if (co_await is_cancelled()) co_return;
  if (connect_ec) {
    x.failure = Failure{FailureReason::kConnect, "connect: " + where + ": " + connect_ec.message()};
    co_return;
  }
  if (tls == nullptr) co_return;

  x.phase = "in the TLS handshake with " + where;
  SSL* handle = tls->native_handle();
  X509_VERIFY_PARAM* param = SSL_get0_param(handle);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (parse_ip_address(url.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
  } else {
    // SNI names a host, never an address (RFC 6066).
    SSL_set_tlsext_host_name(handle, url.host.c_str());
    X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
  }
  tls->set_verify_mode(ssl::verify_peer);
  auto [handshake_ec] = co_await tls->async_handshake(ssl::stream_base::client, kAwait);
  if (co_await is_cancelled()) co_return;
  if (handshake_ec) {
    x.failure = Failure{FailureReason::kTls, "tls: handshake with " + where +
                                                 " failed: " + tls_failure(handle, handshake_ec)};
  }
}

// connect_steps within connect_timeout. True once connected.
asio::awaitable<bool> establish(Exchange& x, const HttpUrl& url, tcp::socket& socket,
                                ssl::stream<tcp::socket>* tls) {
  // (Bound to a name first: GCC 12 mishandles such temporaries inside a co_await expression.)
  auto steps = connect_steps(x, url, socket, tls);
  const bool finished = co_await within(x.connect_timeout, steps);
  if (co_await is_cancelled() || x.failure) co_return false;
  if (!finished) {
    const FailureReason reason = x.phase.starts_with("while resolving") ? FailureReason::kDns
                                 : x.phase.starts_with("in the TLS")    ? FailureReason::kTls
                                                                        : FailureReason::kConnect;
    const std::string name(engine::failure_reason_name(reason));
    x.failure = Failure{reason, name + ": connect_timeout of " +
                                    format_duration(x.connect_timeout) + " passed " + x.phase};
    co_return false;
  }
  co_return true;
}

http::request<http::string_body> make_request(const Exchange& x, const Hop& hop) {
  http::request<http::string_body> request;
  request.method_string(hop.method);
  request.target(hop.url.target);
  request.version(11);
  bool has_host = false;
  bool has_agent = false;
  for (const auto& [name, value] : hop.headers) {
    has_host = has_host || iequals(name, "host");
    has_agent = has_agent || iequals(name, "user-agent");
    request.insert(name, value);
  }
  if (!has_host) request.set(http::field::host, hop.url.authority());
  if (!has_agent) request.set(http::field::user_agent, kUserAgent);
  // Fencing: lets the receiving service drop a stale duplicate of this side effect.
  request.set("X-Orch-Task-Id", x.attempt.task_id);
  request.set("X-Orch-Attempt", std::to_string(x.attempt.number));
  request.set("X-Orch-Fencing-Token", std::to_string(x.attempt.fencing_token));
  request.keep_alive(false);
  request.body() = hop.body;
  const bool sends_length =
      !hop.body.empty() || hop.method == "POST" || hop.method == "PUT" || hop.method == "PATCH";
  if (sends_length) request.content_length(hop.body.size());
  return request;
}

// Sends the hop's request on a connected stream and reads the response into x.out, the body
// cut after x.cap bytes. False when it failed (x.failure set) or was cancelled.
template <typename Stream>
asio::awaitable<bool> converse(Exchange& x, Stream& stream, const Hop& hop) {
  const std::string where = hop.url.authority();
  auto request = make_request(x, hop);
  auto [write_ec, written] = co_await http::async_write(stream, request, kAwait);
  if (co_await is_cancelled()) co_return false;
  if (write_ec) {
    x.failure = Failure{FailureReason::kProtocol,
                        "protocol: sending the request to " + where + ": " + write_ec.message()};
    co_return false;
  }

  beast::flat_buffer buffer(kMaxHeaderBytes + kReadChunk);
  std::optional<http::response_parser<http::buffer_body>> parser;
  for (int interim = 0;; ++interim) {
    parser.emplace();
    parser->header_limit(kMaxHeaderBytes);
    parser->body_limit(boost::none);  // the cap is ours: cut, not refused
    if (hop.method == "HEAD") parser->skip(true);
    auto [read_ec, read] = co_await http::async_read_header(stream, buffer, *parser, kAwait);
    if (co_await is_cancelled()) co_return false;
    if (read_ec) {
      x.failure = Failure{FailureReason::kProtocol, "protocol: reading the response from " + where +
                                                        ": " + read_ec.message()};
      co_return false;
    }
    const unsigned status = parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101 || interim == kMaxInterimResponses) break;
  }

  const auto& response = parser->get();
  x.out.status = response.result_int();
  x.out.reason = std::string(response.reason());
  for (const auto& field : response) {
    x.out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  x.location = std::string(response[http::field::location]);

  std::array<char, kReadChunk> chunk;
  std::string& body = x.out.body;
  while (!parser->is_done()) {
    // Room for one byte past the cap, which tells a cut body from one that fits exactly.
    const std::size_t room =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), x.cap + 1 - body.size()));
    auto& target = parser->get().body();
    target.data = chunk.data();
    target.size = room;
    auto [read_ec, read] = co_await http::async_read_some(stream, buffer, *parser, kAwait);
    if (co_await is_cancelled()) co_return false;
    body.append(chunk.data(), room - parser->get().body().size);
    if (read_ec == http::error::need_buffer) read_ec = {};
    if (body.size() > x.cap) {
      // Never read past the cap: the connection is closed with the rest unread.
      body.resize(x.cap);
      x.out.truncated = true;
      break;
    }
    if (read_ec) {
      x.failure = Failure{FailureReason::kProtocol, "protocol: reading the response body from " +
                                                        where + ": " + read_ec.message()};
      co_return false;
    }
  }
  co_return true;
}

// One hop on a fresh connection, closed when it returns.
asio::awaitable<bool> fetch(Exchange& x, const Hop& hop) {
  auto executor = co_await asio::this_coro::executor;
  if (hop.url.tls) {
    std::string why;
    auto* context = x.policy.tls->get(why);
    if (context == nullptr) {
      x.failure = Failure{FailureReason::kTls, "tls: " + why};
      co_return false;
    }
    ssl::stream<tcp::socket> stream(executor, *context);
    if (!co_await establish(x, hop.url, stream.next_layer(), &stream)) co_return false;
    co_return co_await converse(x, stream, hop);
  }
  tcp::socket socket(executor);
  if (!co_await establish(x, hop.url, socket, nullptr)) co_return false;
  co_return co_await converse(x, socket, hop);
}

bool is_redirect(std::uint32_t status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

void drop_headers(std::vector<Header>& headers, std::initializer_list<std::string_view> names) {
  std::erase_if(headers, [&names](const Header& header) {
    return std::any_of(names.begin(), names.end(),
                       [&header](std::string_view name) { return iequals(header.first, name); });
  });
}

// The whole attempt: hops until a response that is not a redirect to follow. Outcome in x.
asio::awaitable<void> run_exchange(Exchange& x) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto parsed = parse_http_url(x.spec.url);
  if (!parsed.url) {
    x.failure = Failure{FailureReason::kInternal, "internal: url: " + parsed.error};
    co_return;
  }
  Hop hop{x.spec.method.empty() ? "GET" : x.spec.method, std::move(*parsed.url), x.spec.headers,
          x.spec.body};
  for (int redirects = 0;; ++redirects) {
    x.out = HttpOutput{};
    x.out.url = hop.url.text();
    x.location.clear();
    if (auto denied = x.policy.hosts.check_host(hop.url.host)) {
      x.failure = Failure{FailureReason::kDenied, "denied: " + *denied};
      co_return;
    }
    if (!co_await fetch(x, hop)) co_return;
    if (!x.spec.follow_redirects || !is_redirect(x.out.status) || x.location.empty()) co_return;
    if (redirects == kMaxRedirects) {
      x.failure =
          Failure{FailureReason::kProtocol, "protocol: more than " + std::to_string(kMaxRedirects) +
                                                " redirects (the last one to " + x.location + ")"};
      co_return;
    }
    auto next = resolve_location(hop.url, x.location);
    if (!next.url) {
      x.failure =
          Failure{FailureReason::kProtocol, "protocol: redirect to an unusable URL \"" +
                                                x.location.substr(0, 200) + "\": " + next.error};
      co_return;
    }
    // As browsers and curl do: 303 turns the request into a GET, and so do 301 and 302 a POST;
    // 307 and 308 repeat it as it was.
    const std::uint32_t status = x.out.status;
    if ((status == 303 && hop.method != "HEAD") ||
        ((status == 301 || status == 302) && hop.method == "POST")) {
      hop.method = "GET";
      hop.body.clear();
      drop_headers(hop.headers, {"content-type", "content-encoding", "content-language"});
    }
    // Credentials stay with the origin they were meant for.
    if (next.url->host != hop.url.host || next.url->port != hop.url.port ||
        next.url->tls != hop.url.tls) {
      drop_headers(hop.headers, {"authorization", "proxy-authorization", "cookie"});
    }
    hop.url = std::move(*next.url);
  }
}

bool accepted(const HttpSpec& spec, std::uint32_t status) {
  return std::find(spec.accept_status.begin(), spec.accept_status.end(), status) !=
         spec.accept_status.end();
}

}  // namespace

asio::awaitable<AttemptOutcome> http_attempt(const engine::Node& node, engine::RunContext& ctx,
                                             const engine::AttemptInfo& attempt) {
  const auto* spec = std::get_if<HttpSpec>(&node.work);
  // Held for the whole attempt: a configuration reload may replace the tenant's policy.
  const std::shared_ptr<const HttpPolicy> policy_holder = ctx.record.tenant.http_policy();
  const HttpPolicy* policy = policy_holder.get();
  if (spec == nullptr || policy == nullptr) {
    co_return AttemptOutcome{State::kFailed,
                             "internal: http nodes are not set up in this daemon",
                             FailureReason::kInternal,
                             {}};
  }
  const Duration timeout = spec->timeout.value_or(policy->defaults.timeout);
  Exchange x{
      *policy,
      *spec,
      attempt,
      spec->connect_timeout.value_or(policy->defaults.connect_timeout),
      spec->max_response_bytes != 0 ? spec->max_response_bytes : policy->defaults.response_bytes,
      {},
      std::nullopt,
      {},
      {}};

  // The whole attempt, every redirect included, within `timeout`. A bug that throws fails the
  // attempt (never retried) instead of the task's coroutine.
  bool finished = false;
  std::exception_ptr exception;
  try {
    auto exchange = run_exchange(x);
    finished = co_await within(timeout, exchange);
  } catch (...) {
    exception = std::current_exception();
  }

  if (co_await is_cancelled()) {
    co_return AttemptOutcome{State::kCancelled, {}, FailureReason::kInternal, std::move(x.out)};
  }
  if (exception) {
    x.failure = Failure{FailureReason::kInternal, "internal: " + what_of(exception)};
  } else if (!finished) {
    x.failure = Failure{FailureReason::kTimeout, "timeout: no complete response from " + x.out.url +
                                                     " within " + format_duration(timeout)};
  }
  policy->count_response(x.failure && x.failure->reason != FailureReason::kTimeout ? 0
                                                                                   : x.out.status);
  if (x.failure) {
    co_return AttemptOutcome{State::kFailed, std::move(x.failure->message), x.failure->reason,
                             std::move(x.out)};
  }
  if (x.out.status >= 400 && !accepted(*spec, x.out.status)) {
    std::string error = "status: " + std::to_string(x.out.status);
    if (!x.out.reason.empty()) error += " " + x.out.reason;
    co_return AttemptOutcome{State::kFailed, std::move(error), FailureReason::kStatus,
                             std::move(x.out)};
  }
  co_return AttemptOutcome{State::kSucceeded, {}, FailureReason::kInternal, std::move(x.out)};
}

}  // namespace orch::work
