// Validation of http nodes at the API edge: each refusal names the field path and the reason;
// hosts the tenant's guards deny are PERMISSION_DENIED.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "orch/rpc/convert.h"

namespace orch::rpc {
namespace {

using engine::ErrorCode;

class HttpValidation : public ::testing::Test {
 protected:
  HttpValidation() {
    limits_.max_duration = std::chrono::hours(1);
    limits_.max_http_response_bytes = 4096;
    tenant_.name = "alpha";
  }

  static v1::TaskSpec get(const std::string& url) {
    v1::TaskSpec spec;
    spec.mutable_http()->set_method("GET");
    spec.mutable_http()->set_url(url);
    return spec;
  }

  engine::Result<engine::Node> convert(const v1::TaskSpec& spec) {
    return node_from_proto(spec, SpecPolicy{limits_, tenant_});
  }

  std::pair<ErrorCode, std::string> refusal(const v1::TaskSpec& spec) {
    auto result = convert(spec);
    EXPECT_FALSE(result.has_value());
    if (result) return {ErrorCode::kInternal, "accepted"};
    return {result.error().code, result.error().message};
  }

  std::string message(const v1::TaskSpec& spec) { return refusal(spec).second; }

  config::Limits limits_;
  config::TenantConfig tenant_;
};

TEST_F(HttpValidation, AcceptsEveryFieldAndRoundTrips) {
  v1::TaskSpec spec = get("https://api.example.com:8443/v1/items?x=1");
  auto* http = spec.mutable_http();
  http->set_method("POST");
  (*http->mutable_headers())["Content-Type"] = "application/json";
  (*http->mutable_headers())["Authorization"] = "Bearer t";
  http->set_body("{\"a\":1}");
  http->mutable_connect_timeout()->set_seconds(2);
  http->mutable_timeout()->set_nanos(500'000'000);
  http->set_max_response_bytes(4096);
  http->set_follow_redirects(true);
  http->add_accept_status(404);
  http->add_accept_status(409);
  spec.mutable_retry()->set_max_attempts(3);
  spec.mutable_retry()->add_non_retryable_errors("tls");

  auto node = convert(spec);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(node->kind, engine::NodeKind::kHttp);
  const auto& out = std::get<engine::HttpSpec>(node->work);
  EXPECT_EQ(out.method, "POST");
  EXPECT_EQ(out.url, "https://api.example.com:8443/v1/items?x=1");
  EXPECT_EQ(out.headers, (std::vector<engine::Header>{{"Authorization", "Bearer t"},
                                                      {"Content-Type", "application/json"}}));
  EXPECT_EQ(out.connect_timeout, std::chrono::seconds(2));
  EXPECT_EQ(out.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(out.max_response_bytes, 4096u);
  EXPECT_TRUE(out.follow_redirects);
  EXPECT_EQ(out.accept_status, (std::vector<std::uint32_t>{404, 409}));
  EXPECT_EQ(node->retry.max_attempts, 3u);

  v1::TaskSpec back;
  node_to_proto(*node, back);
  // Field by field: map entries serialize in no fixed order.
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back.http(), spec.http()))
      << back.http().DebugString();
  EXPECT_EQ(back.retry().max_attempts(), 3u);
  EXPECT_EQ(back.retry().non_retryable_errors(0), "tls");
}

TEST_F(HttpValidation, AnEmptyMethodIsGetAndDefaultsStayUnset) {
  v1::TaskSpec spec = get("http://example.com");
  spec.mutable_http()->clear_method();
  auto node = convert(spec);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  const auto& out = std::get<engine::HttpSpec>(node->work);
  EXPECT_EQ(out.method, "GET");
  EXPECT_FALSE(out.timeout.has_value());
  EXPECT_FALSE(out.connect_timeout.has_value());
  EXPECT_EQ(out.max_response_bytes, 0u);
  EXPECT_FALSE(out.follow_redirects);
}

TEST_F(HttpValidation, RefusesABadMethod) {
  v1::TaskSpec spec = get("http://example.com/");
  spec.mutable_http()->set_method("GET /evil HTTP/1.1\r\n");
  EXPECT_EQ(message(spec),
            "spec.http.method: must be an HTTP method such as GET or POST (a token of at most 32 "
            "characters), got \"GET /evil HTTP/1.1??\"");
  spec.mutable_http()->set_method(std::string(33, 'A'));
  EXPECT_TRUE(message(spec).starts_with("spec.http.method: must be an HTTP method"));
}

TEST_F(HttpValidation, RefusesUrlsThatCannotBeFetched) {
  EXPECT_EQ(message(get("")), "spec.http.url: required (an http:// or https:// URL)");
  EXPECT_EQ(message(get("ftp://example.com/")),
            "spec.http.url: scheme must be http or https, got \"ftp\"");
  EXPECT_EQ(message(get("http:///x")), "spec.http.url: no host");
  EXPECT_EQ(message(get("http://example.com:99999/")),
            "spec.http.url: port must be a number from 1 to 65535, got \"99999\"");
  EXPECT_EQ(refusal(get("http://example.com:0/")).first, ErrorCode::kInvalidArgument);
}

TEST_F(HttpValidation, RefusesBadHeaders) {
  v1::TaskSpec crlf = get("http://example.com/");
  (*crlf.mutable_http()->mutable_headers())["X-Note"] = "a\r\nX-Injected: 1";
  EXPECT_EQ(message(crlf), "spec.http.headers[\"X-Note\"]: value must not contain CR, LF or NUL");
  v1::TaskSpec name = get("http://example.com/");
  (*name.mutable_http()->mutable_headers())["Bad Name"] = "v";
  EXPECT_TRUE(
      message(name).starts_with("spec.http.headers[\"Bad Name\"]: a header name must be a token"))
      << message(name);
  v1::TaskSpec framing = get("http://example.com/");
  (*framing.mutable_http()->mutable_headers())["Content-Length"] = "5";
  EXPECT_EQ(message(framing),
            "spec.http.headers[\"Content-Length\"]: set by orchestrd, which frames the request "
            "itself; leave it out");
  v1::TaskSpec fencing = get("http://example.com/");
  (*fencing.mutable_http()->mutable_headers())["x-orch-fencing-token"] = "1";
  EXPECT_EQ(message(fencing),
            "spec.http.headers[\"x-orch-fencing-token\"]: X-Orch-* headers are set by orchestrd "
            "(task id, attempt and fencing token)");
}

TEST_F(HttpValidation, RefusesBadDurationsAndCaps) {
  v1::TaskSpec zero = get("http://example.com/");
  zero.mutable_http()->mutable_timeout();
  EXPECT_EQ(message(zero), "spec.http.timeout: must be greater than 0");
  v1::TaskSpec negative = get("http://example.com/");
  negative.mutable_http()->mutable_connect_timeout()->set_seconds(-1);
  EXPECT_EQ(message(negative), "spec.http.connect_timeout: must not be negative");
  v1::TaskSpec long_wait = get("http://example.com/");
  long_wait.mutable_http()->mutable_timeout()->set_seconds(7200);
  EXPECT_EQ(message(long_wait), "spec.http.timeout: must be at most 1h (limits.max_duration)");
  v1::TaskSpec big = get("http://example.com/");
  big.mutable_http()->set_max_response_bytes(4097);
  EXPECT_EQ(message(big),
            "spec.http.max_response_bytes: must be at most 4096 (limits.max_http_response_bytes)");
  v1::TaskSpec status = get("http://example.com/");
  status.mutable_http()->add_accept_status(404);
  status.mutable_http()->add_accept_status(42);
  EXPECT_EQ(message(status),
            "spec.http.accept_status[1]: must be a status code from 100 to 599, got 42");
  v1::TaskSpec retry = get("http://example.com/");
  retry.mutable_retry()->add_non_retryable_errors("nope");
  EXPECT_TRUE(message(retry).starts_with(
      "spec.retry.non_retryable_errors[0]: unknown failure reason 'nope'"));
}

TEST_F(HttpValidation, DeniedHostsArePermissionDeniedNamingHostAndPattern) {
  EXPECT_EQ(refusal(get("http://169.254.169.254/latest/meta-data/")),
            std::pair(ErrorCode::kPermissionDenied,
                      std::string("spec.http.url: host 169.254.169.254 is denied by "
                                  "http_deny_hosts pattern \"169.254.0.0/16\"")));
  // The same address in a numeric shorthand is the same host.
  EXPECT_EQ(refusal(get("http://2852039166/")).first, ErrorCode::kPermissionDenied);
  EXPECT_EQ(refusal(get("http://[fd00:ec2::254]/")).first, ErrorCode::kPermissionDenied);

  tenant_.http_allow_hosts = {"*.example.com"};
  tenant_.http_deny_hosts = {"127.0.0.0/8"};
  EXPECT_EQ(refusal(get("http://evil.test/")),
            std::pair(ErrorCode::kPermissionDenied,
                      std::string("spec.http.url: host evil.test is not in http_allow_hosts "
                                  "[\"*.example.com\"]")));
  EXPECT_TRUE(convert(get("https://api.example.com/")).has_value());

  v1::TaskSpec nested;
  *nested.mutable_select()->add_children() = get("http://127.0.0.1:8080/");
  EXPECT_EQ(message(nested),
            "spec.select.children[0].http.url: host 127.0.0.1 is denied by http_deny_hosts "
            "pattern \"127.0.0.0/8\"");
}

TEST_F(HttpValidation, TheKindMustBeAllowed) {
  tenant_.allowed_kinds = {"sleep"};
  auto [code, text] = refusal(get("http://example.com/"));
  EXPECT_EQ(code, ErrorCode::kPermissionDenied);
  EXPECT_TRUE(text.starts_with("spec.http: tenant alpha may not use node kind 'http'")) << text;
}

}  // namespace
}  // namespace orch::rpc
