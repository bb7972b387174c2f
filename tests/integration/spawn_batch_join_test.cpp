// SpawnBatchRequest.join on the real daemon: the batch is spawned and waited for in one call,
// answered with every task in request order. A wait that ends early (timeout, fail_fast) still
// answers OK with each task as it was, so that no id is lost; bad join options are refused
// before anything is spawned.
#include <gtest/gtest.h>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;

class SpawnBatchJoin : public ::testing::Test {
 protected:
  SpawnBatchJoin() : daemon_(two_tenants()), alpha_(daemon_.client(kAlpha)) {}

  static v1::SpawnBatchRequest batch_of(const std::vector<v1::TaskSpec>& specs) {
    v1::SpawnBatchRequest request;
    for (const auto& spec : specs) *request.add_tasks()->mutable_spec() = spec;
    request.mutable_join()->set_view(v1::TASK_VIEW_BASIC);
    return request;
  }

  v1::SpawnBatchResponse spawn_and_join(const v1::SpawnBatchRequest& request) {
    v1::SpawnBatchResponse response;
    const auto status = alpha_.spawn_batch(request, response, kCallDeadline);
    EXPECT_TRUE(status.ok()) << describe(status);
    return response;
  }

  std::uint64_t tasks_of_alpha() {
    v1::ListTasksRequest request;
    v1::ListTasksResponse response;
    const auto status = alpha_.list(request, response, kCallDeadline);
    EXPECT_TRUE(status.ok()) << describe(status);
    return static_cast<std::uint64_t>(response.tasks_size());
  }

  DaemonProcess daemon_;
  oc::Client alpha_;
};

TEST_F(SpawnBatchJoin, AnswersEveryTaskInRequestOrderOnceAllAreTerminal) {
  const auto response =
      spawn_and_join(batch_of({oc::sleep(20ms), oc::timeout(1ms, oc::sleep(60s)), oc::sleep(0ms)}));
  EXPECT_EQ(response.ids_size(), 0);
  ASSERT_EQ(response.tasks_size(), 3);
  EXPECT_EQ(response.tasks(0).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(response.tasks(1).state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_FALSE(response.tasks(1).result().error().empty());  // BASIC: the error of what failed
  EXPECT_EQ(response.tasks(2).state(), v1::TASK_STATE_SUCCEEDED);
  // The ids are the tasks' own: Get reads each as it ended.
  for (const auto& task : response.tasks()) EXPECT_EQ(get_task(alpha_, task.id()).state(), task.state());
  EXPECT_FALSE(response.tasks(0).has_spec());  // BASIC, as asked
}

TEST_F(SpawnBatchJoin, ATimeoutAnswersOkWithTheUnfinishedTasksWhichKeepRunning) {
  auto request = batch_of({oc::sleep(0ms), oc::sleep(60s)});
  *request.mutable_join()->mutable_timeout() = oc::to_proto(50ms);
  const auto response = spawn_and_join(request);
  ASSERT_EQ(response.tasks_size(), 2);
  EXPECT_EQ(response.tasks(0).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(response.tasks(1).state(), v1::TASK_STATE_RUNNING);
  EXPECT_EQ(get_task(alpha_, response.tasks(1).id()).state(), v1::TASK_STATE_RUNNING);
}

TEST_F(SpawnBatchJoin, FailFastWithAbortRemainingAbortsTheRestAndAnswersAtOnce) {
  auto request = batch_of({oc::sleep(60s), oc::timeout(1ms, oc::sleep(60s))});
  request.mutable_join()->set_fail_fast(true);
  request.mutable_join()->set_abort_remaining(true);
  const auto response = spawn_and_join(request);
  ASSERT_EQ(response.tasks_size(), 2);
  EXPECT_EQ(response.tasks(1).state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(join_task(alpha_, response.tasks(0).id()).state(), v1::TASK_STATE_CANCELLED);
}

TEST_F(SpawnBatchJoin, ATaskNamedTwiceByItsIdempotencyKeyIsAnsweredTwice) {
  auto request = batch_of({oc::sleep(0ms), oc::sleep(0ms)});
  for (auto& task : *request.mutable_tasks()) task.set_idempotency_key("once");
  const auto response = spawn_and_join(request);
  ASSERT_EQ(response.tasks_size(), 2);
  EXPECT_EQ(response.tasks(0).id(), response.tasks(1).id());
  EXPECT_EQ(response.tasks(1).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(tasks_of_alpha(), 1u);
}

TEST_F(SpawnBatchJoin, BadJoinOptionsAreRefusedBeforeAnythingIsSpawned) {
  const auto refused = [&](const v1::SpawnBatchRequest& request, const std::string& message) {
    v1::SpawnBatchResponse response;
    const auto status = alpha_.spawn_batch(request, response, kCallDeadline);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
    EXPECT_EQ(status.error_message().rfind(message, 0), 0u) << describe(status);
  };
  auto with_ids = batch_of({oc::sleep(0ms)});
  with_ids.mutable_join()->add_ids("anything");
  refused(with_ids, "join.ids: must be empty");
  auto bad_view = batch_of({oc::sleep(0ms)});
  bad_view.mutable_join()->set_view(static_cast<v1::TaskView>(99));
  refused(bad_view, "join.view:");
  auto negative = batch_of({oc::sleep(0ms)});
  negative.mutable_join()->mutable_timeout()->set_seconds(-1);
  refused(negative, "join.timeout:");
  refused(batch_of({}), "tasks: must not be empty");
  EXPECT_EQ(tasks_of_alpha(), 0u);
}

}  // namespace
}  // namespace orch::test
