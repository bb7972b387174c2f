// The configuration of http nodes: `http:`, the http limits and the tenants' host guards.
#include <gtest/gtest.h>

#include "orch/config/config.h"
#include "orch/work/http_client.h"
#include "work/http_policy.h"

using namespace std::chrono_literals;

namespace orch::config {
namespace {

std::string error_of(std::string_view yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(HttpConfig, DefaultsAllowEveryHostButLinkLocalMetadata) {
  const Config config = parse_config("tenants:\n  - name: t\n");
  EXPECT_EQ(config.http.ca_file, "");
  EXPECT_EQ(config.limits.max_http_response_bytes, 2u << 20);
  EXPECT_EQ(config.limits.default_http_response_bytes, 1u << 20);
  EXPECT_EQ(config.limits.default_http_connect_timeout, 10s);
  EXPECT_EQ(config.limits.default_http_timeout, 60s);
  const auto& tenant = config.tenants[0];
  EXPECT_EQ(tenant.http_allow_hosts, std::vector<std::string>{"*"});
  EXPECT_EQ(tenant.http_deny_hosts,
            (std::vector<std::string>{"169.254.0.0/16", "fe80::/10", "fd00:ec2::254"}));
  // The shipped file says the same.
  EXPECT_EQ(default_config().tenants[0].http_deny_hosts, tenant.http_deny_hosts);
  EXPECT_EQ(default_config().tenants[0].http_allow_hosts, tenant.http_allow_hosts);
}

TEST(HttpConfig, ReadsEveryHttpKey) {
  const Config config = parse_config(R"(
http:
  ca_file: /etc/orchestrd/ca.pem
limits:
  max_http_response_bytes: 4096
  default_http_response_bytes: 1024
  default_http_connect_timeout: 2s
  default_http_timeout: 30s
tenants:
  - name: t
    http_allow_hosts: ["*.example.com", 10.0.0.0/8]
    http_deny_hosts: [secret.example.com, "fc00::/7", "[::1]"]
)");
  EXPECT_EQ(config.http.ca_file, "/etc/orchestrd/ca.pem");
  EXPECT_EQ(config.limits.max_http_response_bytes, 4096u);
  EXPECT_EQ(config.limits.default_http_response_bytes, 1024u);
  EXPECT_EQ(config.limits.default_http_connect_timeout, 2s);
  EXPECT_EQ(config.limits.default_http_timeout, 30s);
  EXPECT_EQ(config.tenants[0].http_allow_hosts,
            (std::vector<std::string>{"*.example.com", "10.0.0.0/8"}));
  EXPECT_EQ(config.tenants[0].http_deny_hosts,
            (std::vector<std::string>{"secret.example.com", "fc00::/7", "[::1]"}));
}

TEST(HttpConfig, BadValuesNameTheKey) {
  EXPECT_EQ(error_of("tenants:\n  - name: t\n    http_deny_hosts: [10.0.0.0/33]\n"),
            "test.yaml: tenants[0].http_deny_hosts[0]: \"10.0.0.0/33\": the prefix must be 0 to 32 "
            "for IPv4");
  EXPECT_EQ(error_of("tenants:\n  - name: t\n    http_allow_hosts: \"*\"\n"),
            "test.yaml: tenants[0].http_allow_hosts: must be a list of host patterns (globs, "
            "addresses, CIDR ranges), got \"*\"");
  EXPECT_EQ(error_of("http: {ca_file: \"\"}\ntenants: [{name: t}]\n"),
            "test.yaml: http.ca_file: must be the path of a PEM file, got \"\"");
  EXPECT_EQ(error_of("http: {ca: x}\ntenants: [{name: t}]\n"),
            "test.yaml: http: unknown key \"ca\"; known keys: ca_file");
  EXPECT_EQ(error_of("limits: {default_http_response_bytes: 5000, max_http_response_bytes: 4096}\n"
                     "tenants: [{name: t}]\n"),
            "test.yaml: limits.default_http_response_bytes: must not exceed "
            "max_http_response_bytes (4096)");
  EXPECT_EQ(error_of("limits: {default_http_timeout: 0}\ntenants: [{name: t}]\n"),
            "test.yaml: limits.default_http_timeout: must be greater than 0");
  EXPECT_EQ(error_of("limits: {max_http_response_bytes: 0}\ntenants: [{name: t}]\n"),
            "test.yaml: limits.max_http_response_bytes: must be an integer between 1 and "
            "1073741824, got \"0\"");
}

TEST(HttpClient, ACaFileThatCannotBeLoadedStopsStartUp) {
  HttpConfig http;
  http.ca_file = "/nonexistent/ca.pem";
  try {
    work::HttpClient client(http, Limits{}, nullptr);
    FAIL() << "loaded a CA file that does not exist";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(
        std::string_view(e.what()).starts_with("http.ca_file: cannot load /nonexistent/ca.pem: "))
        << e.what();
  }
  // The system store is not read at start-up, but at the first https request; it loads (it
  // may be empty in a container; that only fails verification).
  EXPECT_NO_THROW(work::HttpClient(HttpConfig{}, Limits{}, nullptr));
  work::TlsClientContext system_store("");
  std::string why;
  EXPECT_NE(system_store.get(why), nullptr) << why;
  EXPECT_EQ(why, "");
  EXPECT_THROW(work::TlsClientContext("/nonexistent/ca.pem"), ConfigError);
}

}  // namespace
}  // namespace orch::config
