// The Watch stream on the real daemon, through the C++ client and `orchctl watch`.
#include <gtest/gtest.h>

#include <map>

#include <signal.h>

#include "daemon_process.h"
#include "metrics_text.h"
#include "orch/client/names.h"
#include "orch/client/specs.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

TEST(Watch, AStreamOfGivenIdsEndsByItselfOnceTheyAreAllTerminal) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::string fast = spawn_task(client, oc::sleep(100ms));
  const std::string slow = spawn_task(client, oc::sleep(200ms));

  // The deadline only turns a stream that never ends into a failure instead of a hang.
  auto ctx = client.context(kCallDeadline);
  v1::WatchRequest request;
  request.add_ids(fast);
  request.add_ids(slow);
  auto reader = client.watch(*ctx, request);
  std::map<std::string, std::vector<v1::TaskState>> seen;
  v1::TaskEvent event;
  while (reader->Read(&event)) {
    EXPECT_EQ(event.task().id(), event.id());
    EXPECT_EQ(event.task().state(), event.state());
    EXPECT_TRUE(event.has_time());
    seen[event.id()].push_back(event.state());
  }
  const auto status = reader->Finish();

  EXPECT_TRUE(status.ok()) << describe(status);
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& [id, states] : seen) {
    ASSERT_FALSE(states.empty());
    EXPECT_EQ(states.back(), v1::TASK_STATE_SUCCEEDED) << id;
    // States only move forward: PENDING < RUNNING < terminal.
    for (std::size_t i = 1; i < states.size(); ++i) EXPECT_LT(states[i - 1], states[i]) << id;
  }
}

TEST(Watch, OrchctlWatchPrintsPendingRunningAndSucceededEventsAsJson) {
  TestConfig config = two_tenants();
  config.tenants[0].max_concurrency = 1;
  DaemonProcess daemon(config);
  auto client = daemon.client(kAlpha);

  // One permit, held by a blocker: the watched task stays PENDING until the blocker goes.
  const std::string blocker = spawn_task(client, oc::sleep(30s));
  TaskWatchStream blocker_watch(client, {blocker});
  ASSERT_TRUE(blocker_watch.wait_for(blocker, v1::TASK_STATE_RUNNING));
  const std::string id = spawn_task(client, oc::sleep(100ms));
  ASSERT_EQ(get_task(client, id).state(), v1::TASK_STATE_PENDING);

  auto watch = daemon.orchctl(kAlpha).start({"-o", "json", "watch", id});
  // The first event is the task's state when the watch began: proof that it is subscribed.
  const auto first = watch.read_line(10s);
  ASSERT_TRUE(first.has_value()) << describe(watch.finish(1s));
  v1::AbortRequest abort;
  abort.add_ids(blocker);
  v1::AbortResponse aborted;
  ASSERT_TRUE(client.abort(abort, aborted, kCallDeadline).ok());

  EXPECT_TRUE(blocker_watch.finish().ok());
  const auto rest = watch.finish(10s);
  EXPECT_EQ(rest.exit_code, 0) << describe(rest);
  std::vector<std::string> lines{*first};
  for (auto& line : lines_of(rest.out)) lines.push_back(std::move(line));
  std::vector<v1::TaskState> states;
  for (const auto& line : lines) {
    const auto event = parse_json<v1::TaskEvent>(line);
    EXPECT_EQ(event.id(), id);
    states.push_back(event.state());
  }
  EXPECT_EQ(states, (std::vector<v1::TaskState>{v1::TASK_STATE_PENDING, v1::TASK_STATE_RUNNING,
                                                v1::TASK_STATE_SUCCEEDED}))
      << rest.out;
  // Enum names as the JSON mapping writes them.
  EXPECT_NE(lines.front().find("\"TASK_STATE_PENDING\""), std::string::npos) << lines.front();
}

constexpr const char* kWatchCancelled =
    R"(orch_grpc_requests_total{code="CANCELLED",method="TaskService/Watch"})";

// A watcher that goes away (cancel, deadline, Ctrl-C) before its task ends must leave nothing
// behind that a later change of the task would touch.
TEST(Watch, AWatchCancelledByItsClientLeavesTheDaemonServingWhenItsTaskChangesLater) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::string id = spawn_task(client, oc::sleep(30s));
  {
    auto ctx = client.context(kCallDeadline);
    v1::WatchRequest request;
    request.add_ids(id);
    auto reader = client.watch(*ctx, request);
    v1::TaskEvent event;
    ASSERT_TRUE(reader->Read(&event));  // the current state: the server holds the watch
    ctx->TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The server has finished the cancelled call.
  ASSERT_TRUE(wait_for_sample(daemon.admin_port(), kWatchCancelled, 1));

  // Now the task changes state: its former watcher must not be reached.
  v1::AbortRequest abort;
  abort.add_ids(id);
  v1::AbortResponse aborted;
  const auto status = client.abort(abort, aborted, kCallDeadline);
  EXPECT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(join_task(client, id).state(), v1::TASK_STATE_CANCELLED);
  EXPECT_FALSE(daemon.wait_exit(0ms).has_value()) << "orchestrd died";
  v1::WhoAmIResponse who;
  const auto after = client.who_am_i(who, kCallDeadline);
  EXPECT_TRUE(after.ok()) << describe(after);
}

TEST(Watch, OrchctlWatchEndsCleanlyOnCtrlCAndTheDaemonKeepsServing) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::string id = spawn_task(client, oc::sleep(30s));

  auto watch = daemon.orchctl(kAlpha).start({"watch", id});
  const auto first = watch.read_line(10s);
  ASSERT_TRUE(first.has_value()) << describe(watch.finish(1s));
  EXPECT_TRUE(contains(*first, id + " RUNNING")) << *first;
  ::kill(watch.pid(), SIGINT);
  const auto run = watch.finish(10s);
  EXPECT_EQ(run.exit_code, 0) << "Ctrl-C ends a watch with exit 0\n" << describe(run);
  ASSERT_TRUE(wait_for_sample(daemon.admin_port(), kWatchCancelled, 1));

  // The task ends after its watcher left.
  EXPECT_EQ(daemon.orchctl(kAlpha)({"abort", id}).exit_code, 0);
  EXPECT_EQ(join_task(client, id).state(), v1::TASK_STATE_CANCELLED);
  EXPECT_FALSE(daemon.wait_exit(0ms).has_value()) << "orchestrd died";
}

}  // namespace
}  // namespace orch::test
