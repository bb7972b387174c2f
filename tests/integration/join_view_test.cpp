// JoinRequest.view on the real daemon: FULL (and unspecified) answers every field of each task;
// BASIC only the id, the state and, for a task that did not succeed, its result's state and
// error. A view the API does not define is INVALID_ARGUMENT naming the field.
#include <gtest/gtest.h>

#include <google/protobuf/util/message_differencer.h>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;
using google::protobuf::util::MessageDifferencer;

class JoinView : public ::testing::Test {
 protected:
  JoinView() : daemon_(two_tenants()), alpha_(daemon_.client(kAlpha)) {}

  // A task that succeeds, with a name and a label.
  std::string spawn_ok() {
    v1::SpawnRequest request;
    *request.mutable_spec() = oc::sleep(1ms);
    request.set_name("ok");
    (*request.mutable_labels())["team"] = "blue";
    v1::SpawnResponse response;
    const auto status = alpha_.spawn(request, response, kCallDeadline);
    EXPECT_TRUE(status.ok()) << describe(status);
    return response.id();
  }

  v1::JoinResponse join(const std::vector<std::string>& ids, v1::TaskView view, bool fail_fast = false) {
    v1::JoinRequest request;
    for (const auto& id : ids) request.add_ids(id);
    request.set_view(view);
    request.set_fail_fast(fail_fast);
    v1::JoinResponse response;
    const auto status = alpha_.join(request, response, kCallDeadline);
    EXPECT_TRUE(status.ok()) << describe(status);
    return response;
  }

  DaemonProcess daemon_;
  oc::Client alpha_;
};

TEST_F(JoinView, BasicAnswersIdStateAndTheErrorOfWhatDidNotSucceed) {
  const std::string ok = spawn_ok();
  const std::string late = spawn_task(alpha_, oc::timeout(1ms, oc::sleep(60s)), "late");
  const auto basic = join({ok, late}, v1::TASK_VIEW_BASIC);
  ASSERT_EQ(basic.tasks_size(), 2);

  v1::TaskInfo expected_ok;
  expected_ok.set_id(ok);
  expected_ok.set_state(v1::TASK_STATE_SUCCEEDED);
  EXPECT_TRUE(MessageDifferencer::Equals(basic.tasks(0), expected_ok)) << basic.tasks(0).DebugString();

  // The failed task: its state and error, nothing else of the result tree.
  const v1::TaskInfo full_late = get_task(alpha_, late);
  ASSERT_EQ(full_late.state(), v1::TASK_STATE_TIMED_OUT);
  ASSERT_FALSE(full_late.result().error().empty());
  v1::TaskInfo expected_late;
  expected_late.set_id(late);
  expected_late.set_state(v1::TASK_STATE_TIMED_OUT);
  expected_late.mutable_result()->set_state(v1::TASK_STATE_TIMED_OUT);
  expected_late.mutable_result()->set_error(full_late.result().error());
  EXPECT_TRUE(MessageDifferencer::Equals(basic.tasks(1), expected_late)) << basic.tasks(1).DebugString();
}

TEST_F(JoinView, FullAndUnspecifiedAnswerEveryFieldAsGetDoes) {
  const std::string ok = spawn_ok();
  const std::string late = spawn_task(alpha_, oc::timeout(1ms, oc::sleep(60s)), "late");
  const auto unspecified = join({ok, late}, v1::TASK_VIEW_UNSPECIFIED);
  const auto full = join({ok, late}, v1::TASK_VIEW_FULL);
  ASSERT_EQ(full.tasks_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(unspecified, full));
  EXPECT_TRUE(MessageDifferencer::Equals(full.tasks(0), get_task(alpha_, ok))) << full.tasks(0).DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(full.tasks(1), get_task(alpha_, late))) << full.tasks(1).DebugString();
  EXPECT_EQ(full.tasks(0).name(), "ok");
  EXPECT_EQ(full.tasks(0).labels().at("team"), "blue");
  EXPECT_TRUE(full.tasks(0).spec().has_sleep());
  EXPECT_TRUE(full.tasks(0).has_created_at());
  EXPECT_TRUE(full.tasks(1).result().timeout().has_child());  // the whole result tree
}

TEST_F(JoinView, BasicOfAnUnfinishedTaskIsItsIdAndState) {
  const std::string running = spawn_task(alpha_, oc::sleep(60s), "running");
  const std::string late = spawn_task(alpha_, oc::timeout(1ms, oc::sleep(60s)), "late");
  const auto basic = join({running, late}, v1::TASK_VIEW_BASIC, /*fail_fast=*/true);
  ASSERT_EQ(basic.tasks_size(), 2);
  v1::TaskInfo expected;
  expected.set_id(running);
  expected.set_state(v1::TASK_STATE_RUNNING);
  EXPECT_TRUE(MessageDifferencer::Equals(basic.tasks(0), expected)) << basic.tasks(0).DebugString();
  EXPECT_EQ(basic.tasks(1).state(), v1::TASK_STATE_TIMED_OUT);
}

TEST_F(JoinView, AnUnknownViewIsInvalidArgumentNamingTheField) {
  const std::string running = spawn_task(alpha_, oc::sleep(60s), "running");
  v1::JoinRequest request;
  request.add_ids(running);
  request.set_view(static_cast<v1::TaskView>(7));
  v1::JoinResponse response;
  const auto status = alpha_.join(request, response, kCallDeadline);  // answered at once
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_EQ(status.error_message(), "view: unknown value 7 (use TASK_VIEW_BASIC or TASK_VIEW_FULL)");
  EXPECT_EQ(get_task(alpha_, running).state(), v1::TASK_STATE_RUNNING);
}

}  // namespace
}  // namespace orch::test
