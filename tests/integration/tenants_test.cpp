// Tenants on the real daemon: authentication, isolation of their tasks, idempotency keys.
#include <gtest/gtest.h>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

v1::SpawnResponse spawn_with_key(const Orchctl& orchctl, const std::string& key) {
  const auto run = orchctl({"-o", "json", "spawn", "--idempotency-key", key, "sleep", "30s"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  return parse_json<v1::SpawnResponse>(run.out);
}

TEST(IdempotencyKeys, SameKeyReturnsTheSameTaskAndAnotherTenantGetsItsOwn) {
  DaemonProcess daemon(two_tenants());
  const auto alpha = daemon.orchctl(kAlpha);
  const auto beta = daemon.orchctl(kBeta);

  const auto first = spawn_with_key(alpha, "nightly-2024-05-01");
  ASSERT_FALSE(first.id().empty());
  EXPECT_FALSE(first.existing());

  const auto second = spawn_with_key(alpha, "nightly-2024-05-01");
  EXPECT_EQ(second.id(), first.id());
  EXPECT_TRUE(second.existing());

  const auto other_key = spawn_with_key(alpha, "nightly-2024-05-02");
  EXPECT_NE(other_key.id(), first.id());
  EXPECT_FALSE(other_key.existing());

  const auto other_tenant = spawn_with_key(beta, "nightly-2024-05-01");
  EXPECT_NE(other_tenant.id(), first.id());
  EXPECT_FALSE(other_tenant.existing());

  // Only one task exists per (tenant, key).
  auto client = daemon.client(kAlpha);
  EXPECT_EQ(usage(client).live_tasks(), 2u);
  EXPECT_EQ(get_task(client, first.id()).idempotency_key(), "nightly-2024-05-01");
}

TEST(TenantIsolation, AnotherTenantsTaskIsNotFoundForGetAbortJoinAndWatch) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  const std::string id = spawn_task(alpha, oc::sleep(30s));
  ASSERT_FALSE(id.empty());
  const auto beta = daemon.orchctl(kBeta);

  for (const auto& command : std::vector<std::vector<std::string>>{
           {"get", id}, {"abort", id}, {"join", id}, {"select", id}}) {
    const auto run = beta(command);
    EXPECT_EQ(run.exit_code, 3) << command[0] << ": " << describe(run);
    EXPECT_TRUE(starts_with(run.err, "NOT_FOUND: ")) << command[0];
    EXPECT_TRUE(contains(run.err, id)) << command[0];
  }

  auto beta_client = daemon.client(kBeta);
  auto ctx = beta_client.context(kCallDeadline);
  v1::WatchRequest request;
  request.add_ids(id);
  auto reader = beta_client.watch(*ctx, request);
  v1::TaskEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);

  // beta does not list it either, and its abort did not reach it.
  const auto listed = beta({"-o", "json", "ls"});
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  EXPECT_EQ(parse_json<v1::ListTasksResponse>(listed.out).tasks_size(), 0);
  EXPECT_EQ(get_task(alpha, id).state(), v1::TASK_STATE_RUNNING);
}

TEST(Authentication, AWrongTokenIsUnauthenticated) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl("not-a-token")({"whoami"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_TRUE(starts_with(run.err, "UNAUTHENTICATED"));
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "one stderr line expected";

  const auto spawn = daemon.orchctl("not-a-token")({"spawn", "sleep", "1s"});
  EXPECT_EQ(spawn.exit_code, 3) << describe(spawn);
  EXPECT_TRUE(starts_with(spawn.err, "UNAUTHENTICATED"));
}

TEST(Authentication, NoTokenIsUnauthenticatedWhenNoTenantIsTokenLess) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl()({"whoami"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_TRUE(starts_with(run.err, "UNAUTHENTICATED"));
}

TEST(Authentication, NoTokenActsAsTheTokenLessTenantAndATokenStillSelectsItsTenant) {
  TestConfig config = two_tenants();
  config.tenants.push_back(TestTenant{.name = "open", .token = ""});
  DaemonProcess daemon(config);

  const auto open = daemon.orchctl()({"-o", "json", "whoami"});
  ASSERT_EQ(open.exit_code, 0) << describe(open);
  EXPECT_EQ(parse_json<v1::WhoAmIResponse>(open.out).tenant(), "open");

  const auto alpha = daemon.orchctl(kAlpha)({"-o", "json", "whoami"});
  ASSERT_EQ(alpha.exit_code, 0) << describe(alpha);
  EXPECT_EQ(parse_json<v1::WhoAmIResponse>(alpha.out).tenant(), "alpha");

  // A wrong token never falls back to the token-less tenant.
  const auto wrong = daemon.orchctl("not-a-token")({"whoami"});
  EXPECT_EQ(wrong.exit_code, 3) << describe(wrong);
  EXPECT_TRUE(starts_with(wrong.err, "UNAUTHENTICATED"));
}

}  // namespace
}  // namespace orch::test
