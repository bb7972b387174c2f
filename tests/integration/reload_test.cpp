// Live configuration reload on the real daemon: SIGHUP and the admin port's POST /reload
// re-read the file; a tenant's permits change under load without dropping running work; a bad
// file is refused and the running configuration stays.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <thread>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;

TestConfig alpha_with(unsigned max_concurrency) {
  TestConfig config = two_tenants();
  config.tenants[0].max_concurrency = max_concurrency;
  config.tenants[0].max_queued = 100;
  return config;
}

void write_config(const DaemonProcess& daemon, const std::string& yaml) {
  std::ofstream out(daemon.dir() + "/orchestrd.yaml", std::ios::trunc);
  out << yaml;
}

// Polls WhoAmI until `done(response)` holds; false after a generous bound.
template <typename Done>
bool wait_for_who_am_i(oc::Client& client, Done done, v1::WhoAmIResponse& last) {
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < give_up) {
    if (client.who_am_i(last, kCallDeadline).ok() && done(last)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::vector<std::string> spawn_sleeps(oc::Client& client, int n, std::chrono::milliseconds d) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(spawn_task(client, oc::sleep(d)));
  return ids;
}

void expect_all_succeeded(oc::Client& client, const std::vector<std::string>& ids) {
  for (const auto& task : join_tasks(client, ids)) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.id() << " was dropped";
  }
}

std::string metrics(const DaemonProcess& daemon) {
  return http_get(daemon.admin_port(), "/metrics").body;
}

TEST(Reload, SighupRaisesATenantsPermitsUnderLoadAndQueuedTasksStartWithoutDroppingAny) {
  DaemonProcess daemon(alpha_with(2));
  auto alpha = daemon.client(kAlpha);
  const auto ids = spawn_sleeps(alpha, 6, 6s);
  v1::WhoAmIResponse who;
  ASSERT_TRUE(wait_for_who_am_i(alpha, [](const auto& w) {
    return w.usage().permits_in_use() == 2 && w.usage().permits_waiting() == 4;
  }, who)) << who.DebugString();

  write_config(daemon, alpha_with(4).yaml());
  daemon.signal(SIGHUP);
  // The new limit is in force, and two queued tasks took the new permits at once, while the
  // first two still run (they sleep 6 s).
  ASSERT_TRUE(wait_for_who_am_i(alpha, [](const auto& w) {
    return w.limits().max_concurrency() == 4 && w.usage().permits_in_use() == 4;
  }, who)) << who.DebugString();
  EXPECT_EQ(who.usage().permits_waiting(), 2u);
  EXPECT_EQ(who.usage().live_tasks(), 6u);
  const auto exposition = metrics(daemon);
  EXPECT_EQ(metric_sample(exposition, "orch_semaphore_permits{tenant=\"alpha\"}"), 4.0);
  EXPECT_EQ(metric_sample(exposition, "orch_config_reloads_total{result=\"ok\"}"), 1.0);
  EXPECT_EQ(metric_sample(exposition, "orch_config_reloads_total{result=\"error\"}"), 0.0);
  // Every task, running or queued when the limit changed, ends as it would have.
  expect_all_succeeded(alpha, ids);
  EXPECT_EQ(usage(alpha).permits_in_use(), 0u);
  EXPECT_TRUE(contains(daemon.log(), "configuration reloaded: tenants changed: alpha"));
}

TEST(Reload, PostReloadLowersATenantsPermitsAndRunningTasksFinishBeforeTheNewLimitHolds) {
  DaemonProcess daemon(alpha_with(4));
  auto alpha = daemon.client(kAlpha);
  const auto first = spawn_sleeps(alpha, 4, 5s);
  const auto later = spawn_sleeps(alpha, 2, 1s);
  v1::WhoAmIResponse who;
  ASSERT_TRUE(wait_for_who_am_i(alpha, [](const auto& w) {
    return w.usage().permits_in_use() == 4 && w.usage().permits_waiting() == 2;
  }, who)) << who.DebugString();

  write_config(daemon, alpha_with(1).yaml());
  const auto reply = http_request(daemon.admin_port(), "POST", "/reload");
  EXPECT_EQ(reply.status, 200) << reply.error << reply.body;
  EXPECT_EQ(reply.body, "reloaded: tenants changed: alpha\n");
  // The running four (5 s sleeps) keep their permits: nothing is cancelled to fit the lower limit.
  ASSERT_TRUE(alpha.who_am_i(who, kCallDeadline).ok());
  EXPECT_EQ(who.limits().max_concurrency(), 1u);
  expect_all_succeeded(alpha, first);
  // Then one at a time.
  ASSERT_TRUE(wait_for_who_am_i(alpha, [](const auto& w) {
    return w.usage().permits_in_use() == 1;
  }, who)) << who.DebugString();
  EXPECT_LE(who.usage().permits_in_use(), 1u);
  const auto tasks = join_tasks(alpha, later);
  ASSERT_EQ(tasks.size(), 2u);
  for (const auto& task : tasks) EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  // Under a limit of one, the second started only after the first had finished.
  EXPECT_GE(seconds_between(tasks[0].finished_at(), tasks[1].started_at()), 0.0);
}

TEST(Reload, ABadFileIsRefusedByBothTriggersAndTheRunningConfigurationStays) {
  DaemonProcess daemon(alpha_with(3));
  auto alpha = daemon.client(kAlpha);
  write_config(daemon, alpha_with(3).yaml() + "    max_concurrency: lots\n");
  const auto reply = http_request(daemon.admin_port(), "POST", "/reload");
  EXPECT_EQ(reply.status, 500) << reply.error;
  EXPECT_TRUE(starts_with(reply.body, "reload refused, the running configuration stays: "))
      << reply.body;
  EXPECT_TRUE(contains(reply.body, "max_concurrency")) << reply.body;

  write_config(daemon, "tenants: [}\n");
  daemon.signal(SIGHUP);
  EXPECT_TRUE(wait_for_sample(daemon.admin_port(), "orch_config_reloads_total{result=\"error\"}", 2));
  EXPECT_TRUE(daemon.running());
  EXPECT_TRUE(contains(daemon.log(), "configuration reload refused"));
  // The old tenants and limits still serve.
  v1::WhoAmIResponse who;
  ASSERT_TRUE(alpha.who_am_i(who, kCallDeadline).ok());
  EXPECT_EQ(who.limits().max_concurrency(), 3u);
  EXPECT_EQ(join_task(alpha, spawn_task(alpha, oc::sleep(1ms))).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(metric_sample(metrics(daemon), "orch_config_reloads_total{result=\"ok\"}"), 0.0);
  // GET is not a reload.
  EXPECT_EQ(http_get(daemon.admin_port(), "/reload").status, 405);
}

TEST(Reload, TenantsComeAndGoTokensRotateAndLimitsChangeWhileRestartOnlyKeysAreReported) {
  TestConfig config = two_tenants();
  DaemonProcess daemon(config);
  auto beta = daemon.client(kBeta);
  // Beta's running task outlives beta's removal.
  const auto beta_task = spawn_task(beta, oc::sleep(1s));

  TestConfig next = config;
  next.tenants[0].token = "alpha-rotated";
  next.tenants.erase(next.tenants.begin() + 1);
  next.tenants.push_back(TestTenant{.name = "gamma", .token = "gamma-secret"});
  next.limits = {{"max_labels", "1"}};
  next.threads = 3;
  write_config(daemon, next.yaml());
  const auto reply = http_request(daemon.admin_port(), "POST", "/reload");
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.body,
            "reloaded: tenants added: gamma; tenants removed: beta; tenants changed: alpha; "
            "changed: limits.max_labels; needs a restart (running value kept): threads\n");
  EXPECT_EQ(metric_sample(metrics(daemon), "orch_config_restart_pending"), 1.0);

  v1::WhoAmIResponse who;
  EXPECT_EQ(daemon.client(kAlpha).who_am_i(who, kCallDeadline).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(beta.who_am_i(who, kCallDeadline).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto alpha = daemon.client("alpha-rotated");
  ASSERT_TRUE(alpha.who_am_i(who, kCallDeadline).ok());
  EXPECT_EQ(who.tenant(), "alpha");
  auto gamma = daemon.client("gamma-secret");
  EXPECT_EQ(join_task(gamma, spawn_task(gamma, oc::sleep(1ms))).state(), v1::TASK_STATE_SUCCEEDED);

  v1::SpawnRequest labelled;
  *labelled.mutable_spec() = oc::sleep(1ms);
  (*labelled.mutable_labels())["a"] = "1";
  (*labelled.mutable_labels())["b"] = "2";
  v1::SpawnResponse response;
  const auto refused = alpha.spawn(labelled, response, kCallDeadline);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(contains(refused.error_message(), "limits.max_labels")) << describe(refused);

  // Beta's task was not dropped: the engine finished it (its result shows in the metrics).
  EXPECT_TRUE(wait_for_sample(
      daemon.admin_port(),
      "orch_tasks_finished_total{kind=\"sleep\",outcome=\"succeeded\",tenant=\"beta\"}", 1));
  (void)beta_task;
}

}  // namespace
}  // namespace orch::test
