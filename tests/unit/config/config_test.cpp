#include "orch/config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

using namespace std::chrono_literals;

namespace orch::config {
namespace {

const std::string kSourceDir = ORCH_TEST_SOURCE_DIR;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// gtest-only matchers (the unit test binary does not link gmock).
::testing::AssertionResult has_substr(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

::testing::AssertionResult lacks_substr(const std::string& text, const std::string& part) {
  if (text.find(part) == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\"\n  contains \"" << part << "\"";
}

::testing::AssertionResult matches(const std::string& text, const std::string& pattern) {
  if (std::regex_match(text, std::regex(pattern))) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\"\n  does not match " << pattern;
}

// The message of the ConfigError that parsing `yaml` throws, or "" if it parses.
std::string error_of(std::string_view yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A valid config with one tenant whose body lines are `tenant_body`.
std::string with_tenant(std::string_view tenant_body) {
  return "tenants:\n  - name: t\n" + std::string(tenant_body);
}

TEST(ParseConfig, KeysLeftOutTakeTheStructDefaults) {
  const Config config = parse_config("tenants:\n  - name: solo\n");
  Config expected;
  TenantConfig solo;
  solo.name = "solo";
  expected.tenants.push_back(solo);
  EXPECT_EQ(config, expected);
  EXPECT_EQ(config.listen, "127.0.0.1:50051");
  EXPECT_EQ(config.admin_listen, "127.0.0.1:9464");
  EXPECT_EQ(config.threads, 0u);
  EXPECT_EQ(config.retention, 1h);
  EXPECT_EQ(config.shutdown_grace, 10s);
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.limits, Limits{});
  EXPECT_EQ(config.limits.max_duration, 24h * 365);
  const TenantConfig& tenant = config.tenants.at(0);
  EXPECT_FALSE(tenant.token_sha256.has_value());
  EXPECT_EQ(tenant.max_concurrency, 16u);
  EXPECT_EQ(tenant.max_queued, 10'000u);
  EXPECT_EQ(tenant.max_channels, 100u);
  EXPECT_EQ(tenant.max_message_bytes, 1u << 20);
  EXPECT_EQ(tenant.max_channel_capacity, 10'000u);
  EXPECT_EQ(tenant.allowed_kinds,
            (std::vector<std::string>{"sleep", "http", "worker", "send", "recv"}));
}

TEST(ParseConfig, ReadsEveryKey) {
  const Config config = parse_config(R"(
listen: "[::]:7000"
admin_listen: metrics.local:0
threads: 3
retention: 1m30s
shutdown_grace: 250ms
log_level: trace
limits:
  max_spec_depth: 8
  max_spec_nodes: 100
  max_labels: 0
  max_label_bytes: 32
  max_batch: 5
  max_duration: 2h
tenants:
  - name: alpha
    token_sha256: 3F8AD42D6DC52445378196CB2E49281F812253EAEA7830FE46F4756F2CA0A3D4
    max_concurrency: 1
    max_queued: 0
    max_channels: 7
    max_message_bytes: 1024
    max_channel_capacity: 5
    allowed_kinds: [exec]
  - name: beta-2_x
    allowed_kinds: []
)");
  EXPECT_EQ(config.listen, "[::]:7000");
  EXPECT_EQ(config.admin_listen, "metrics.local:0");
  EXPECT_EQ(config.threads, 3u);
  EXPECT_EQ(config.retention, 90s);
  EXPECT_EQ(config.shutdown_grace, 250ms);
  EXPECT_EQ(config.log_level, "trace");
  EXPECT_EQ(config.limits, (Limits{.max_spec_depth = 8,
                                   .max_spec_nodes = 100,
                                   .max_labels = 0,
                                   .max_label_bytes = 32,
                                   .max_batch = 5,
                                   .max_duration = 2h}));
  ASSERT_EQ(config.tenants.size(), 2u);
  const TenantConfig& alpha = config.tenants[0];
  EXPECT_EQ(alpha.name, "alpha");
  ASSERT_TRUE(alpha.token_sha256.has_value());
  EXPECT_EQ((*alpha.token_sha256)[0], 0x3f);
  EXPECT_EQ((*alpha.token_sha256)[31], 0xd4);
  EXPECT_EQ(alpha.max_concurrency, 1u);
  EXPECT_EQ(alpha.max_queued, 0u);
  EXPECT_EQ(alpha.max_channels, 7u);
  EXPECT_EQ(alpha.max_message_bytes, 1024u);
  EXPECT_EQ(alpha.max_channel_capacity, 5u);
  EXPECT_EQ(config.tenants[1].max_channel_capacity, 10'000u);
  EXPECT_EQ(alpha.allowed_kinds, std::vector<std::string>{"exec"});
  EXPECT_EQ(config.tenants[1].name, "beta-2_x");
  EXPECT_TRUE(config.tenants[1].allowed_kinds.empty());
}

TEST(ParseConfig, ReadsTheMutexQuotasAndTheLeaseLimit) {
  const Config config = parse_config(R"(
limits:
  max_lease_ttl: 5m
tenants:
  - name: alpha
    max_mutexes: 3
    max_mutex_value_bytes: 0
    max_mutex_waiters: 7
  - name: beta
    token_sha256: 3F8AD42D6DC52445378196CB2E49281F812253EAEA7830FE46F4756F2CA0A3D4
)");
  EXPECT_EQ(config.limits.max_lease_ttl, 5min);
  EXPECT_EQ(config.tenants[0].max_mutexes, 3u);
  EXPECT_EQ(config.tenants[0].max_mutex_value_bytes, 0u);
  EXPECT_EQ(config.tenants[0].max_mutex_waiters, 7u);
  EXPECT_EQ(config.tenants[1].max_mutexes, 1000u);
  EXPECT_EQ(config.tenants[1].max_mutex_value_bytes, 65536u);
  EXPECT_EQ(config.tenants[1].max_mutex_waiters, 10'000u);
  EXPECT_EQ(Limits{}.max_lease_ttl, 1h);
}

TEST(ParseConfig, MutexQuotaErrorsNameTheKeyAndTheRange) {
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_mutexes: 1000001\n")),
                         "tenants[0].max_mutexes: must be an integer between 0 and 1000000"));
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_mutex_value_bytes: 8388609\n")),
                         "tenants[0].max_mutex_value_bytes: must be an integer between 0 and "
                         "8388608"));
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_mutex_waiters: x\n")),
                         "tenants[0].max_mutex_waiters: must be an integer"));
  EXPECT_TRUE(has_substr(error_of("limits: {max_lease_ttl: 0}\ntenants: [{name: a}]\n"),
                         "limits.max_lease_ttl: must be greater than 0 and at most 365d"));
  EXPECT_TRUE(has_substr(error_of("limits: {max_lease_ttl: 366d}\ntenants: [{name: a}]\n"),
                         "limits.max_lease_ttl: must be greater than 0 and at most 365d"));
}

TEST(ParseConfig, ReadsTheCallLimitsAndNamesTheirRanges) {
  const Config config = parse_config(R"(
limits:
  max_grpc_message_bytes: 65536
  max_streams_per_tenant: 2
  max_waiting_rpcs_per_tenant: 3
tenants: [{name: a}]
)");
  EXPECT_EQ(config.limits.max_grpc_message_bytes, 65536u);
  EXPECT_EQ(config.limits.max_streams_per_tenant, 2u);
  EXPECT_EQ(config.limits.max_waiting_rpcs_per_tenant, 3u);
  EXPECT_EQ(Limits{}.max_grpc_message_bytes, 16u << 20);
  EXPECT_EQ(Limits{}.max_streams_per_tenant, 1000u);
  EXPECT_EQ(Limits{}.max_waiting_rpcs_per_tenant, 10'000u);
  EXPECT_TRUE(has_substr(error_of("limits: {max_grpc_message_bytes: 100}\ntenants: [{name: a}]\n"),
                         "limits.max_grpc_message_bytes: must be an integer between 4096 and "
                         "1073741824, got \"100\""));
  EXPECT_TRUE(has_substr(error_of("limits: {max_streams_per_tenant: 0}\ntenants: [{name: a}]\n"),
                         "limits.max_streams_per_tenant: must be an integer between 1 and 1000000"));
  EXPECT_TRUE(has_substr(
      error_of("limits: {max_waiting_rpcs_per_tenant: -1}\ntenants: [{name: a}]\n"),
      "limits.max_waiting_rpcs_per_tenant: must be an integer between 1 and 10000000"));
}

TEST(DefaultConfig, EmbeddedTextIsTheShippedFile) {
  EXPECT_EQ(read_file(kSourceDir + "/config/orchestrd.yaml"), default_config_yaml())
      << "config/orchestrd.yaml changed: paste it into kDefaultConfigYaml in config.cpp";
}

TEST(DefaultConfig, RunsOnLoopbackWithOneTokenlessTenant) {
  const Config config = default_config();
  EXPECT_EQ(config.listen, "127.0.0.1:50051");
  EXPECT_EQ(config.admin_listen, "127.0.0.1:9464");
  EXPECT_EQ(config.threads, 0u);
  EXPECT_EQ(config.retention, 1h);
  EXPECT_EQ(config.shutdown_grace, 10s);
  EXPECT_EQ(config.log_level, "info");
  EXPECT_EQ(config.limits, Limits{});
  ASSERT_EQ(config.tenants.size(), 1u);
  const TenantConfig& tenant = config.tenants[0];
  EXPECT_EQ(tenant.name, "default");
  EXPECT_FALSE(tenant.token_sha256.has_value());
  EXPECT_EQ(tenant.max_concurrency, 64u);
  EXPECT_EQ(tenant.max_queued, 100'000u);
  EXPECT_EQ(tenant.max_channels, 100u);
  EXPECT_EQ(tenant.max_message_bytes, 1u << 20);
  EXPECT_EQ(tenant.max_channel_capacity, 10'000u);
  EXPECT_EQ(tenant.allowed_kinds, TenantConfig{}.allowed_kinds);
}

TEST(LoadConfig, ReadsTheShippedFilesAndNamesThemInErrors) {
  EXPECT_EQ(load_config(kSourceDir + "/config/orchestrd.yaml"), default_config());
  const Config example = load_config(kSourceDir + "/config/example.yaml");
  ASSERT_EQ(example.tenants.size(), 2u);
  EXPECT_TRUE(example.tenants[0].token_sha256.has_value());
  EXPECT_TRUE(example.tenants[1].token_sha256.has_value());
}

TEST(LoadConfig, UnreadableFileIsAConfigErrorNamingThePath) {
  try {
    load_config("/nonexistent/orchestrd.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/orchestrd.yaml: cannot read: No such file or directory");
  }
  try {
    load_config(kSourceDir + "/config");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(has_substr(e.what(), "/config: cannot read: Is a directory"));
  }
}

TEST(ParseConfig, ErrorsStartWithTheSourceName) {
  try {
    parse_config("listn: x\n", "config/orchestrd.yaml");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(
        std::string_view(e.what()).starts_with("config/orchestrd.yaml: unknown key \"listn\""))
        << e.what();
  }
}

TEST(ParseConfig, UnknownKeyNamesThePathAtEveryLevel) {
  EXPECT_EQ(error_of("listn: x\ntenants: [{name: a}]\n"),
            "test.yaml: unknown key \"listn\"; did you mean \"listen\"?");
  EXPECT_EQ(error_of("limits: {max_nodes: 1}\ntenants: [{name: a}]\n"),
            "test.yaml: limits: unknown key \"max_nodes\"; known keys: max_spec_depth, "
            "max_spec_nodes, max_labels, max_label_bytes, max_batch, max_duration, max_lease_ttl, "
            "max_exec_output_bytes, exec_kill_grace, max_http_response_bytes, "
            "default_http_response_bytes, default_http_connect_timeout, default_http_timeout, "
            "max_grpc_message_bytes, max_streams_per_tenant, max_waiting_rpcs_per_tenant");
  EXPECT_EQ(error_of("tenants:\n  - name: a\n  - name: b\n    max_concurency: 3\n"),
            "test.yaml: tenants[1]: unknown key \"max_concurency\"; did you mean "
            "\"max_concurrency\"?");
  EXPECT_TRUE(has_substr(error_of(with_tenant("    token: hunter2\n")),
                         "test.yaml: tenants[0]: unknown key \"token\"; write the token's SHA-256 "
                         "as token_sha256"));
}

TEST(ParseConfig, DuplicateKeyIsAnError) {
  EXPECT_EQ(error_of("threads: 1\nthreads: 2\ntenants: [{name: a}]\n"),
            "test.yaml: threads: given twice");
}

TEST(ParseConfig, IntegerErrorsNameTheKeyTheRangeAndTheValue) {
  EXPECT_EQ(error_of("tenants:\n  - name: a\n  - name: b\n    token_sha256: " +
                     std::string(64, 'a') + "\n    max_concurrency: abc\n"),
            "test.yaml: tenants[1].max_concurrency: must be an integer between 1 and 1000000, "
            "got \"abc\"");
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_concurrency: 0\n")),
                         "tenants[0].max_concurrency: must be an integer between 1 and 1000000"));
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_queued: 100000001\n")),
                         "tenants[0].max_queued: must be an integer between 0 and 100000000"));
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_channels: -1\n")),
                         "tenants[0].max_channels: must be an integer"));
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_message_bytes: [1]\n")),
                         "tenants[0].max_message_bytes: must be an integer between 1 and "
                         "1073741824, got a list"));
  EXPECT_TRUE(has_substr(error_of(with_tenant("    max_channel_capacity: 0\n")),
                         "tenants[0].max_channel_capacity: must be an integer between 1 and "
                         "10000000, got \"0\""));
  EXPECT_TRUE(has_substr(error_of("threads: 1.5\ntenants: [{name: a}]\n"),
                         "test.yaml: threads: must be an integer between 0 and 4096, got \"1.5\""));
  EXPECT_TRUE(has_substr(error_of("threads:\ntenants: [{name: a}]\n"),
                         "threads: must be an integer between 0 and 4096, got nothing"));
  for (const char* key :
       {"max_spec_depth", "max_spec_nodes", "max_labels", "max_label_bytes", "max_batch"}) {
    EXPECT_TRUE(has_substr(
        error_of("limits:\n  " + std::string(key) + ": 99999999999\ntenants: [{name: a}]\n"),
        "test.yaml: limits." + std::string(key) + ": must be an integer"));
  }
}

TEST(ParseConfig, DurationErrorsNameTheKeyAndShowTheForm) {
  EXPECT_EQ(error_of("retention: 1x\ntenants: [{name: a}]\n"),
            "test.yaml: retention: not a duration (\"1x\"); write e.g. 250ms, 10s, 1h");
  EXPECT_TRUE(has_substr(error_of("shutdown_grace: 10\ntenants: [{name: a}]\n"),
                         "test.yaml: shutdown_grace: not a duration (\"10\")"));
  EXPECT_TRUE(has_substr(error_of("limits: {max_duration: forever}\ntenants: [{name: a}]\n"),
                         "test.yaml: limits.max_duration: not a duration"));
  EXPECT_EQ(error_of("limits: {max_duration: 0}\ntenants: [{name: a}]\n"),
            "test.yaml: limits.max_duration: must be greater than 0");
}

TEST(ParseConfig, AcceptsLooseListenAddresses) {
  for (const char* address :
       {"127.0.0.1:50051", "0.0.0.0:0", "localhost:65535", "[::1]:50051", "[::]:1",
        "[fe80::1%eth0]:80", "[::ffff:10.0.0.1]:8", "my-host.example_1.com:443"}) {
    const std::string yaml = "listen: \"" + std::string(address) + "\"\nadmin_listen: \"" +
                             address + "\"\ntenants: [{name: a}]\n";
    EXPECT_EQ(error_of(yaml), "") << address;
    EXPECT_EQ(parse_config(yaml).listen, address);
  }
}

TEST(ParseConfig, RefusesWhatIsNotHostColonPort) {
  for (const char* address : {"50051", "localhost", "localhost:", ":50051", "host:65536", "host:-1",
                              "host:80x", "::1:50051", "[::1]50051", "[::1:50051", "[]:1", "[zz]:1",
                              "[1.2.3.4]:1", "[::1%]:1", "ho st:1", "http://host:1"}) {
    const std::string yaml = "listen: \"" + std::string(address) + "\"\ntenants: [{name: a}]\n";
    EXPECT_TRUE(has_substr(error_of(yaml), "test.yaml: listen: expected HOST:PORT, got \"" +
                                               std::string(address) + "\" ("))
        << address;
  }
  EXPECT_TRUE(has_substr(error_of("admin_listen: {a: 1}\ntenants: [{name: a}]\n"),
                         "test.yaml: admin_listen: expected HOST:PORT, got a mapping"));
}

TEST(ParseConfig, LogLevelMustBeAKnownLevel) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_EQ(
        parse_config("log_level: " + std::string(level) + "\ntenants: [{name: a}]\n").log_level,
        level);
  }
  EXPECT_EQ(error_of("log_level: verbose\ntenants: [{name: a}]\n"),
            "test.yaml: log_level: must be one of trace, debug, info, warn, error, off; got "
            "\"verbose\"");
}

TEST(ParseConfig, TenantsAreRequiredAndNonEmpty) {
  EXPECT_EQ(error_of("listen: 127.0.0.1:1\n"),
            "test.yaml: tenants: missing; list at least one tenant");
  EXPECT_EQ(error_of("tenants: []\n"), "test.yaml: tenants: must list at least one tenant");
  EXPECT_EQ(error_of("tenants: {name: a}\n"),
            "test.yaml: tenants: must be a list of tenants, got a mapping");
  EXPECT_EQ(error_of("tenants: [a]\n"),
            "test.yaml: tenants[0]: expected a mapping of keys, got \"a\"");
  EXPECT_EQ(error_of(""),
            "test.yaml: the configuration is empty; at least \"tenants\" is required");
  EXPECT_EQ(error_of("# only a comment\n"),
            "test.yaml: the configuration is empty; at least \"tenants\" is required");
  EXPECT_EQ(error_of("- a\n- b\n"), "test.yaml: expected a mapping of keys, got a list");
}

TEST(ParseConfig, TenantNameIsRequiredAndShaped) {
  EXPECT_EQ(error_of("tenants:\n  - max_queued: 1\n"),
            "test.yaml: tenants[0].name: missing; every tenant needs a name");
  for (const char* bad : {"Alpha", "a b", "\"\"", "tenant.one", "ü"}) {
    EXPECT_TRUE(has_substr(error_of("tenants:\n  - name: " + std::string(bad) + "\n"),
                           "test.yaml: tenants[0].name: must be 1 to 64 characters from a-z, 0-9, "
                           "_ and -, got "))
        << bad;
  }
  EXPECT_EQ(error_of("tenants:\n  - name: " + std::string(64, 'a') + "\n"), "");
  EXPECT_TRUE(has_substr(error_of("tenants:\n  - name: " + std::string(65, 'a') + "\n"),
                         "tenants[0].name: must be 1 to 64 characters"));
}

TEST(ParseConfig, DuplicateTenantNamesAreAnError) {
  EXPECT_EQ(
      error_of("tenants:\n  - name: a\n  - name: b\n    token_sha256: " + std::string(64, 'b') +
               "\n  - name: a\n    token_sha256: " + std::string(64, 'c') + "\n"),
      "test.yaml: tenants[2].name: \"a\" is already the name of tenants[0]");
}

TEST(ParseConfig, TokenDigestMustBe64HexDigitsAndIsNeverQuoted) {
  const std::string short_error = error_of(with_tenant("    token_sha256: hunter2\n"));
  EXPECT_TRUE(has_substr(short_error, "test.yaml: tenants[0].token_sha256: must be 64 hex digits"));
  EXPECT_TRUE(lacks_substr(short_error, "hunter2"));
  const std::string non_hex = std::string(63, 'a') + "g";
  const std::string non_hex_error = error_of(with_tenant("    token_sha256: " + non_hex + "\n"));
  EXPECT_TRUE(has_substr(non_hex_error, "tenants[0].token_sha256: must be 64 hex digits"));
  EXPECT_TRUE(lacks_substr(non_hex_error, non_hex));
  // An empty value must not silently make the tenant token-less.
  EXPECT_TRUE(has_substr(error_of(with_tenant("    token_sha256:\n")),
                         "tenants[0].token_sha256: must be 64 hex digits, got nothing"));
}

TEST(ParseConfig, AtMostOneTenantMayHaveNoToken) {
  EXPECT_EQ(error_of("tenants:\n  - name: default\n  - name: beta\n"),
            "test.yaml: tenants: two tenants have no token (default, beta): at most one may");
  EXPECT_EQ(error_of("tenants: [{name: a}, {name: b}, {name: c}]\n"),
            "test.yaml: tenants: 3 tenants have no token (a, b, c): at most one may");
}

TEST(ParseConfig, TwoTenantsMayNotShareAToken) {
  const std::string digest(64, 'e');
  EXPECT_EQ(error_of("tenants:\n  - name: a\n    token_sha256: " + digest +
                     "\n  - name: b\n    token_sha256: " + digest + "\n"),
            "test.yaml: tenants[1].token_sha256: same token as tenants[0] (a); each tenant needs "
            "its own");
}

TEST(ParseConfig, AllowedKindsMustBeKnownAndDistinct) {
  EXPECT_EQ(error_of(with_tenant("    allowed_kinds: [sleep, ecex]\n")),
            "test.yaml: tenants[0].allowed_kinds[1]: unknown kind \"ecex\"; known kinds: sleep, "
            "http, exec, worker, send, recv");
  EXPECT_EQ(error_of(with_tenant("    allowed_kinds: [http, http]\n")),
            "test.yaml: tenants[0].allowed_kinds[1]: \"http\" is listed twice");
  EXPECT_EQ(error_of(with_tenant("    allowed_kinds: sleep\n")),
            "test.yaml: tenants[0].allowed_kinds: must be a list of task kinds, got \"sleep\"");
}

TEST(ParseConfig, YamlSyntaxErrorsGiveLineAndColumn) {
  const std::string error = error_of("listen: 127.0.0.1:1\ntenants:\n  - name: [a\n");
  EXPECT_TRUE(matches(error, "test\\.yaml:[34]:[0-9]+: invalid YAML: .+"));
  EXPECT_TRUE(matches(error_of("a: b\n  c: d\n"), "test\\.yaml:2:[0-9]+: invalid YAML: .+"));
}

TEST(ParseConfig, MoreThanOneDocumentIsAnError) {
  EXPECT_EQ(error_of("tenants: [{name: a}]\n---\ntenants: [{name: b}]\n"),
            "test.yaml: expected one YAML document, found 2");
}

// Found by the config fuzz target (tests/fuzz/config/parser-stall): yaml-cpp 0.7's LoadAll
// looped forever on it, allocating an empty document per turn.
TEST(ParseConfig, TextThatStallsTheYamlParserIsRefused) {
  EXPECT_TRUE(matches(error_of("!eN4YAML,8Epec_0"), "test\\.yaml:1:[0-9]+: invalid YAML: .+"));
  EXPECT_TRUE(matches(error_of("tenants: [{name: a}]\n,\n"), "test\\.yaml:2:[0-9]+: invalid YAML: .+"));
}

TEST(ParseConfig, ErrorMessagesAreOneLine) {
  EXPECT_TRUE(lacks_substr(error_of("log_level: \"a\\nb\"\ntenants: [{name: a}]\n"), "\n"));
}

}  // namespace
}  // namespace orch::config
