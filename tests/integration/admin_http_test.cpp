// The admin HTTP endpoints of the real daemon: Prometheus metrics and health probes.
#include <gtest/gtest.h>

#include <filesystem>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

constexpr const char* kPromtool = "/usr/bin/promtool";

TEST(AdminHttp, MetricsPassPromtoolAndCountFinishedTasksByKindOutcomeAndTenant) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client("alpha-secret");
  auto beta = daemon.client("beta-secret");

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(spawn_task(alpha, oc::sleep(10ms)));
  ids.push_back(spawn_task(alpha, oc::timeout(10ms, oc::sleep(10s))));
  ASSERT_EQ(join_tasks(alpha, ids).size(), 4u);
  ASSERT_EQ(join_task(beta, spawn_task(beta, oc::sleep(1ms))).state(),
            v1::TASK_STATE_SUCCEEDED);
  // A refused spawn and a failed call show up too.
  v1::SpawnResponse refused;
  EXPECT_FALSE(alpha.spawn(v1::SpawnRequest{}, refused, kCallDeadline).ok());

  const auto metrics = http_get(daemon.admin_port(), "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error << metrics.body;
  EXPECT_TRUE(contains(metrics.headers, "text/plain; version=0.0.4"));

  EXPECT_EQ(metric_sample(metrics.body,
                   R"(orch_tasks_finished_total{kind="sleep",outcome="succeeded",tenant="alpha"})"),
            3.0)
      << metrics.body;
  EXPECT_EQ(metric_sample(metrics.body,
                   R"(orch_tasks_finished_total{kind="sleep",outcome="succeeded",tenant="beta"})"),
            1.0)
      << metrics.body;

  if (!std::filesystem::exists(kPromtool)) {
    GTEST_SKIP() << kPromtool << " is not installed (Debian package `prometheus`)";
  }
  const auto check = run_command({kPromtool, "check", "metrics"}, metrics.body);
  EXPECT_EQ(check.exit_code, 0) << describe(check);
}

TEST(AdminHttp, HealthzAndReadyzAnswer200WhileServing) {
  DaemonProcess daemon(two_tenants());
  const auto health = http_get(daemon.admin_port(), "/healthz");
  EXPECT_EQ(health.status, 200) << health.error << health.body;
  const auto ready = http_get(daemon.admin_port(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.error << ready.body;
  const auto missing = http_get(daemon.admin_port(), "/nope");
  EXPECT_EQ(missing.status, 404) << missing.error << missing.body;
}

}  // namespace
}  // namespace orch::test
