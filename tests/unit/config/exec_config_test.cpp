// The exec keys of the configuration: a tenant's exec_allowlist and the exec limits.
#include <gtest/gtest.h>

#include "orch/config/config.h"
#include "test_support.h"

namespace orch::config {
namespace {

using namespace std::chrono_literals;

std::string error_of(std::string_view yaml) {
  try {
    parse_config(yaml, "test.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string with_tenant(std::string_view tenant_body) {
  return "tenants:\n  - name: t\n" + std::string(tenant_body);
}

TEST(ExecConfig, DefaultsRefuseExec) {
  const TenantConfig tenant;
  EXPECT_TRUE(tenant.exec_allowlist.empty());
  EXPECT_EQ(std::find(tenant.allowed_kinds.begin(), tenant.allowed_kinds.end(), "exec"),
            tenant.allowed_kinds.end());
  const Limits limits;
  EXPECT_EQ(limits.max_exec_output_bytes, 1u << 20);
  EXPECT_EQ(limits.exec_kill_grace, 5s);
  const Config shipped = default_config();
  EXPECT_TRUE(shipped.tenants.at(0).exec_allowlist.empty());
}

TEST(ExecConfig, ReadsTheAllowlistAndTheLimits) {
  const Config config = parse_config(R"(
limits:
  max_exec_output_bytes: 65536
  exec_kill_grace: 1500ms
tenants:
  - name: ops
    allowed_kinds: [sleep, exec]
    exec_allowlist: [/bin/echo, /usr/bin/env, "/opt/my tools/run"]
)");
  EXPECT_EQ(config.limits.max_exec_output_bytes, 65536u);
  EXPECT_EQ(config.limits.exec_kill_grace, 1500ms);
  EXPECT_EQ(config.tenants.at(0).exec_allowlist,
            (std::vector<std::string>{"/bin/echo", "/usr/bin/env", "/opt/my tools/run"}));
}

TEST(ExecConfig, TheExampleFileAllowsTwoPrograms) {
  const Config example = load_config(std::string(test::kSourceDir) + "/config/example.yaml");
  EXPECT_EQ(example.tenants.at(0).exec_allowlist,
            (std::vector<std::string>{"/bin/echo", "/usr/bin/env"}));
  EXPECT_TRUE(example.tenants.at(1).exec_allowlist.empty());
  EXPECT_EQ(example.limits.max_exec_output_bytes, 262144u);
  EXPECT_EQ(example.limits.exec_kill_grace, 2s);
}

TEST(ExecConfig, RefusesPathsThatAreNotAbsoluteAndNormalized) {
  EXPECT_EQ(error_of(with_tenant("    exec_allowlist: [echo]\n")),
            "test.yaml: tenants[0].exec_allowlist[0]: must be an absolute path like /usr/bin/env, "
            "got \"echo\"");
  EXPECT_EQ(error_of(with_tenant("    exec_allowlist: [/bin/echo, /bin/../bin/rm]\n")),
            "test.yaml: tenants[0].exec_allowlist[1]: \"/bin/../bin/rm\" is not a normalized path "
            "(no ., .., // or trailing /)");
  EXPECT_EQ(error_of(with_tenant("    exec_allowlist: [/usr//bin/env]\n")),
            "test.yaml: tenants[0].exec_allowlist[0]: \"/usr//bin/env\" is not a normalized path "
            "(no ., .., // or trailing /)");
  EXPECT_EQ(error_of(with_tenant("    exec_allowlist: [/usr/bin/]\n")),
            "test.yaml: tenants[0].exec_allowlist[0]: \"/usr/bin/\" is not a normalized path "
            "(no ., .., // or trailing /)");
  EXPECT_EQ(error_of(with_tenant("    exec_allowlist: [/bin/echo, /bin/echo]\n")),
            "test.yaml: tenants[0].exec_allowlist[1]: \"/bin/echo\" is listed twice");
  EXPECT_EQ(error_of(with_tenant("    exec_allowlist: /bin/echo\n")),
            "test.yaml: tenants[0].exec_allowlist: must be a list of absolute program paths, got "
            "\"/bin/echo\"");
}

TEST(ExecConfig, RefusesBadLimits) {
  EXPECT_EQ(error_of("limits: {max_exec_output_bytes: 0}\ntenants: [{name: a}]\n"),
            "test.yaml: limits.max_exec_output_bytes: must be an integer between 1 and 1073741824, "
            "got \"0\"");
  EXPECT_EQ(
      error_of("limits: {exec_kill_grace: soon}\ntenants: [{name: a}]\n"),
      "test.yaml: limits.exec_kill_grace: not a duration (\"soon\"); write e.g. 250ms, 10s, 1h");
  EXPECT_EQ(error_of("limits: {max_duration: 1m, exec_kill_grace: 2m}\ntenants: [{name: a}]\n"),
            "test.yaml: limits.exec_kill_grace: must be at most max_duration (1m)");
}

}  // namespace
}  // namespace orch::config
