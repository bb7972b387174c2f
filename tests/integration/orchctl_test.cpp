// orchctl against the real daemon: text output, exit codes and the one-line RPC errors.
#include <gtest/gtest.h>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;

TEST(Orchctl, SpawnWaitPrintsTheFinishedTaskAsText) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl(kAlpha)(
      {"spawn", "--wait", "--name", "demo", "--label", "team=core", "sleep", "100ms"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(contains(run.out, "state: SUCCEEDED\n"));
  EXPECT_TRUE(starts_with(run.out, "id: "));
  EXPECT_TRUE(contains(run.out, "name: demo\n"));
  EXPECT_TRUE(contains(run.out, "labels: team=core\n"));
  EXPECT_TRUE(contains(run.out, "result:\n  sleep SUCCEEDED took="));
  EXPECT_EQ(run.err, "");
}

TEST(Orchctl, SpawnPrintsTheIdThatGetAndLsFind) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto spawned = orchctl({"spawn", "--label", "team=core", "sleep", "30s"});
  ASSERT_EQ(spawned.exit_code, 0) << describe(spawned);
  const auto ids = lines_of(spawned.out);
  ASSERT_EQ(ids.size(), 1u) << spawned.out;
  const std::string id = ids.front();

  const auto got = orchctl({"-o", "json", "get", id});
  ASSERT_EQ(got.exit_code, 0) << describe(got);
  const auto task = parse_json<v1::TaskInfo>(got.out);
  EXPECT_EQ(task.id(), id);
  EXPECT_EQ(task.spec().sleep().duration().seconds(), 30);

  const auto listed = orchctl({"-o", "json", "ls", "--label", "team=core"});
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  const auto list = parse_json<v1::ListTasksResponse>(listed.out);
  ASSERT_EQ(list.tasks_size(), 1);
  EXPECT_EQ(list.tasks(0).id(), id);
  const auto none = orchctl({"-o", "json", "ls", "--label", "team=other"});
  ASSERT_EQ(none.exit_code, 0) << describe(none);
  EXPECT_EQ(parse_json<v1::ListTasksResponse>(none.out).tasks_size(), 0);
}

TEST(Orchctl, GetOfAnUnknownIdIsNotFoundWithExitCode3) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl(kAlpha)({"get", "01J0Z4UNKNOWNTASK000000000"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_TRUE(starts_with(run.err, "NOT_FOUND: "));
  EXPECT_TRUE(contains(run.err, "01J0Z4UNKNOWNTASK000000000"));
  EXPECT_EQ(lines_of(run.err).size(), 1u);
  EXPECT_EQ(run.out, "");
}

TEST(Orchctl, ABadDurationIsAUsageErrorAndNothingIsSent) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl(kAlpha)({"spawn", "sleep", "5parsecs"});
  EXPECT_EQ(run.exit_code, 2) << describe(run);
  EXPECT_TRUE(starts_with(run.err, "error: "));

  auto client = daemon.client(kAlpha);
  v1::WhoAmIResponse who;
  ASSERT_TRUE(client.who_am_i(who).ok());
  EXPECT_EQ(who.usage().stored_tasks(), 0u);
}

TEST(Orchctl, AnUnreachableDaemonIsUnavailableWithExitCode3) {
  // A port that was just serving and is now closed: nothing listens there.
  std::string address;
  {
    DaemonProcess daemon(two_tenants());
    address = daemon.grpc_address();
  }
  const auto run = run_orchctl({"--addr", address, "--token", kAlpha, "whoami"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_TRUE(starts_with(run.err, "UNAVAILABLE"));
}

TEST(Orchctl, JoinViewBasicPrintsALinePerTaskWithTheErrorOfWhatFailed) {
  using namespace std::chrono_literals;
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::string ok = spawn_task(client, orch::client::sleep(1ms));
  const std::string late = spawn_task(client, orch::client::timeout(1ms, orch::client::sleep(60s)));
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto run = orchctl({"join", "--view", "basic", ok, late});
  EXPECT_EQ(run.exit_code, 1) << describe(run);  // one task did not succeed
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 2u) << run.out;
  EXPECT_EQ(lines[0], ok + " SUCCEEDED");
  EXPECT_TRUE(starts_with(lines[1], late + " TIMED_OUT error=\"")) << lines[1];

  const auto json = orchctl({"-o", "json", "join", "--view", "basic", ok});
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  const auto response = parse_json<v1::JoinResponse>(json.out);
  ASSERT_EQ(response.tasks_size(), 1);
  EXPECT_EQ(response.tasks(0).id(), ok);
  EXPECT_FALSE(response.tasks(0).has_spec());

  const auto bad = orchctl({"join", "--view", "brief", ok});
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
}

}  // namespace
}  // namespace orch::test
