// Cancellation paths that cross the process boundary: the daemon shutting down, and a client
// giving up on a wait (deadline or server-side timeout) without aborting the task.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>

#include "daemon_process.h"
#include "http_get.h"
#include "orch/client/specs.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

constexpr const char* kShuttingDown = "orchestrd is shutting down and accepts no new tasks";

TEST(GracefulShutdown, SigtermCancelsRunningTasksAfterTheGraceAndPendingJoinsSeeIt) {
  TestConfig config = two_tenants();
  config.shutdown_grace = "300ms";
  DaemonProcess daemon(config);
  auto client = daemon.client(kAlpha);

  const std::string id = spawn_task(client, oc::sleep(30s));
  TaskWatchStream watch(client, {id});
  ASSERT_TRUE(watch.wait_for(id, v1::TASK_STATE_RUNNING));

  // A Join waiting on the task. The callback API sends it at once; the WhoAmI round trip on
  // the same connection after it makes sure the server has it before the signal.
  auto join_ctx = client.context(kCallDeadline);
  v1::JoinRequest join_request;
  join_request.add_ids(id);
  v1::JoinResponse join_response;
  std::promise<grpc::Status> join_done;
  client.tasks().async()->Join(join_ctx.get(), &join_request, &join_response,
                               [&join_done](grpc::Status s) { join_done.set_value(std::move(s)); });
  auto join_status = join_done.get_future();
  usage(client);

  const auto signalled = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);

  // Spawns go on until the daemon refuses them. A refusal from the server says why; once the
  // server is gone the channel fails with UNAVAILABLE too.
  grpc::Status refused;
  for (int attempt = 0; attempt < 10'000 && seconds_since(signalled) < 5.0; ++attempt) {
    v1::SpawnRequest request;
    *request.mutable_spec() = oc::sleep(30s);
    v1::SpawnResponse response;
    refused = client.spawn(request, response, std::chrono::milliseconds(5000));
    if (!refused.ok()) break;
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << describe(refused);
  const bool reached_server = refused.error_message() == kShuttingDown;
  if (reached_server && join_status.wait_for(0s) != std::future_status::ready) {
    // Still inside the grace: probes are told to stop sending traffic.
    const auto ready = http_get(daemon.admin_port(), "/readyz", 2s);
    if (ready.status != 0) {
      EXPECT_EQ(ready.status, 503) << ready.body;
    }
  }

  ASSERT_EQ(join_status.wait_for(10s), std::future_status::ready) << "the Join never returned";
  const double join_returned = seconds_since(signalled);
  const auto status = join_status.get();
  ASSERT_TRUE(status.ok()) << describe(status);
  ASSERT_EQ(join_response.tasks_size(), 1);
  const auto& task = join_response.tasks(0);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(task.result().error(), "cancelled: orchestrd is shutting down");
  EXPECT_GE(join_returned, 0.25) << "the task was cancelled before its shutdown_grace";
  // Watches end with the drain, after the task's last event.
  EXPECT_TRUE(watch.finish().ok());
  ASSERT_FALSE(watch.events().empty());
  EXPECT_EQ(watch.events().back().state(), v1::TASK_STATE_CANCELLED);

  const auto code = daemon.wait_exit(10s);
  ASSERT_TRUE(code.has_value()) << "orchestrd still runs 10 s after SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(seconds_since(signalled), 5.0);
  EXPECT_TRUE(contains(daemon.log(), "shutdown complete"));
}

TEST(GracefulShutdown, SigtermWithNothingRunningExitsZeroPromptly) {
  DaemonProcess daemon(two_tenants());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_LT(seconds_since(start), 5.0);
}

TEST(ClientDeadline, AJoinPastItsClientDeadlineEndsWithoutAbortingTheTask) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::string id = spawn_task(client, oc::sleep(30s));

  v1::JoinRequest request;
  request.add_ids(id);
  v1::JoinResponse response;
  const auto start = std::chrono::steady_clock::now();
  const auto status = client.join(request, response, std::chrono::milliseconds(200));
  const double elapsed = seconds_since(start);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << describe(status);
  EXPECT_GE(elapsed, 0.19);
  EXPECT_LT(elapsed, 5.0);

  // A wait on the server long enough for a wrongly posted abort to land; then the task still
  // runs.
  v1::JoinRequest timed;
  timed.add_ids(id);
  *timed.mutable_timeout() = oc::to_proto(300ms);
  const auto timed_status = client.join(timed, response, kCallDeadline);
  EXPECT_EQ(timed_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << describe(timed_status);
  EXPECT_EQ(get_task(client, id).state(), v1::TASK_STATE_RUNNING);
  EXPECT_EQ(usage(client).permits_in_use(), 1u);
}

TEST(ClientDeadline, AJoinServerTimeoutWithAbortRemainingCancelsTheTask) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::string id = spawn_task(client, oc::sleep(30s));

  v1::JoinRequest request;
  request.add_ids(id);
  request.set_abort_remaining(true);
  *request.mutable_timeout() = oc::to_proto(200ms);
  v1::JoinResponse response;
  const auto status = client.join(request, response, kCallDeadline);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << describe(status);

  const auto task = join_task(client, id);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(usage(client).permits_in_use(), 0u);
}

}  // namespace
}  // namespace orch::test
