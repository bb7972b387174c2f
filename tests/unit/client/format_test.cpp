#include "orch/client/format.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include "orch/client/specs.h"

using namespace std::chrono_literals;

namespace orch::client {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp at(const char* rfc3339) {
  google::protobuf::Timestamp t;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &t)) << rfc3339;
  return t;
}

v1::NodeResult result(v1::TaskState state, const char* start, const char* end,
                      std::string error = "") {
  v1::NodeResult r;
  r.set_state(state);
  *r.mutable_started_at() = at(start);
  *r.mutable_finished_at() = at(end);
  r.set_error(std::move(error));
  return r;
}

// The issue's example: select(timeout(2s, sleep(5s)), sleep(1s)); the sleep(1s) wins.
v1::TaskInfo finished_select_task() {
  v1::TaskInfo task;
  task.set_id("01J0Z4ABCD");
  task.set_name("demo");
  (*task.mutable_labels())["team"] = "core";
  (*task.mutable_labels())["env"] = "prod";
  task.set_state(v1::TASK_STATE_SUCCEEDED);
  *task.mutable_created_at() = at("2024-05-01T12:00:00Z");
  *task.mutable_started_at() = at("2024-05-01T12:00:00.001Z");
  *task.mutable_finished_at() = at("2024-05-01T12:00:01.001Z");
  *task.mutable_spec() = select({timeout(2s, sleep(5s)), sleep(1s)});

  auto* root = task.mutable_result();
  *root = result(v1::TASK_STATE_SUCCEEDED, "2024-05-01T12:00:00.001Z", "2024-05-01T12:00:01.001Z");
  auto* select = root->mutable_select();
  select->set_winner(1);
  auto* loser = select->add_children();
  *loser = result(v1::TASK_STATE_CANCELLED, "2024-05-01T12:00:00.001Z", "2024-05-01T12:00:01.001Z",
                  "lost the select");
  *loser->mutable_timeout()->mutable_child() =
      result(v1::TASK_STATE_CANCELLED, "2024-05-01T12:00:00.001Z", "2024-05-01T12:00:01.001Z");
  *select->add_children() =
      result(v1::TASK_STATE_SUCCEEDED, "2024-05-01T12:00:00.001Z", "2024-05-01T12:00:01.001Z");
  *select->mutable_result() = select->children(1);
  return task;
}

TEST(FormatTask, PrintsKeyValueLinesAndTheResultTree) {
  EXPECT_EQ(format_task(finished_select_task()),
            "id: 01J0Z4ABCD\n"
            "name: demo\n"
            "state: SUCCEEDED\n"
            "labels: env=prod team=core\n"
            "created: 2024-05-01T12:00:00Z\n"
            "started: 2024-05-01T12:00:00.001Z\n"
            "finished: 2024-05-01T12:00:01.001Z\n"
            "result:\n"
            "  select SUCCEEDED winner=1 took=1s\n"
            "    [0] timeout CANCELLED took=1s error=\"lost the select\"\n"
            "      sleep CANCELLED took=1s\n"
            "    [1] sleep SUCCEEDED took=1s\n");
}

TEST(FormatTask, OmitsWhatIsNotSetYet) {
  v1::TaskInfo task;
  task.set_id("01J0Z4EFGH");
  task.set_state(v1::TASK_STATE_PENDING);
  *task.mutable_created_at() = at("2024-05-01T12:00:00.250Z");
  EXPECT_EQ(format_task(task),
            "id: 01J0Z4EFGH\n"
            "state: PENDING\n"
            "created: 2024-05-01T12:00:00.250Z\n");
}

TEST(FormatResult, NamesNodesByOutputWithoutASpec) {
  v1::NodeResult root;
  root.set_state(v1::TASK_STATE_FAILED);
  root.set_error("child 1 failed: exit 3");
  auto* join = root.mutable_join();
  join->add_children()->set_state(v1::TASK_STATE_SUCCEEDED);
  auto* failed = join->add_children();
  failed->set_state(v1::TASK_STATE_FAILED);
  failed->set_error("exit \"3\"\nstderr: boom");
  EXPECT_EQ(format_result(root, nullptr, 0),
            "join FAILED error=\"child 1 failed: exit 3\"\n"
            "  [0] node SUCCEEDED\n"
            "  [1] node FAILED error=\"exit \\\"3\\\"\\nstderr: boom\"\n");
}

TEST(FormatResult, IgnoresASpecThatDoesNotMatchTheResult) {
  v1::NodeResult root;
  root.set_state(v1::TASK_STATE_SUCCEEDED);
  root.mutable_sequence()->add_children()->set_state(v1::TASK_STATE_SUCCEEDED);
  const auto spec = join({sleep(1s)});
  EXPECT_EQ(format_result(root, &spec, 0), "sequence SUCCEEDED\n  [0] node SUCCEEDED\n");
}

TEST(FormatResult, ShowsAWinnerReportedWithoutChildren) {
  v1::NodeResult root;
  root.set_state(v1::TASK_STATE_SUCCEEDED);
  root.mutable_select()->set_winner(2);
  root.mutable_select()->mutable_result()->set_state(v1::TASK_STATE_SUCCEEDED);
  const auto spec = select({sleep(3s), sleep(2s), sleep(1s)});
  EXPECT_EQ(format_result(root, &spec, 1),
            "  select SUCCEEDED winner=2\n"
            "    [2] sleep SUCCEEDED\n");
}

TEST(FormatTaskTable, AlignsOneLinePerTask) {
  google::protobuf::RepeatedPtrField<v1::TaskInfo> tasks;
  auto* a = tasks.Add();
  a->set_id("01J0Z4AAAA");
  a->set_state(v1::TASK_STATE_RUNNING);
  a->set_name("nightly-build");
  *a->mutable_created_at() = at("2024-05-01T12:00:01Z");
  auto* b = tasks.Add();
  b->set_id("01J0Z4BBBB");
  b->set_state(v1::TASK_STATE_TIMED_OUT);
  *b->mutable_created_at() = at("2024-05-01T12:00:00.500Z");
  EXPECT_EQ(format_task_table(tasks),
            "01J0Z4AAAA  RUNNING    nightly-build  2024-05-01T12:00:01Z\n"
            "01J0Z4BBBB  TIMED_OUT  -              2024-05-01T12:00:00.500Z\n");
}

TEST(FormatTaskTable, PrintsNothingForNoTasks) { EXPECT_EQ(format_task_table({}), ""); }

TEST(FormatEvent, PrintsTimeIdStateAndAnyError) {
  v1::TaskEvent event;
  event.set_id("01J0Z4AAAA");
  event.set_state(v1::TASK_STATE_RUNNING);
  *event.mutable_time() = at("2024-05-01T12:00:00.100Z");
  EXPECT_EQ(format_event(event), "2024-05-01T12:00:00.100Z 01J0Z4AAAA RUNNING");

  event.set_state(v1::TASK_STATE_FAILED);
  event.mutable_task()->mutable_result()->set_error("exit 1");
  EXPECT_EQ(format_event(event), "2024-05-01T12:00:00.100Z 01J0Z4AAAA FAILED error=\"exit 1\"");
}

TEST(FormatWhoAmI, PrintsEveryLimitAndUsageField) {
  v1::WhoAmIResponse who;
  who.set_tenant("alpha");
  who.mutable_limits()->set_max_concurrency(8);
  who.mutable_limits()->set_max_queued(20);
  who.mutable_limits()->set_max_channels(4);
  who.mutable_limits()->set_max_message_bytes(1048576);
  who.mutable_limits()->add_allowed_kinds("sleep");
  who.mutable_limits()->add_allowed_kinds("http");
  who.mutable_limits()->set_max_channel_capacity(10000);
  who.mutable_usage()->set_permits_in_use(3);
  who.mutable_usage()->set_live_tasks(5);
  EXPECT_EQ(format_who_am_i(who),
            "tenant: alpha\n"
            "limits:\n"
            "  max_concurrency: 8\n"
            "  max_queued: 20\n"
            "  max_channels: 4\n"
            "  max_message_bytes: 1048576\n"
            "  allowed_kinds: sleep,http\n"
            "  max_channel_capacity: 10000\n"
            "usage:\n"
            "  permits_in_use: 3\n"
            "  permits_waiting: 0\n"
            "  live_tasks: 5\n"
            "  stored_tasks: 0\n"
            "  channels: 0\n");
}

TEST(ToJson, WritesOneLineOfProtoJsonWithDefaults) {
  v1::SelectResponse response;
  response.mutable_task()->set_id("01J0Z4AAAA");
  response.mutable_task()->set_state(v1::TASK_STATE_SUCCEEDED);
  const std::string json = to_json(response);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_NE(json.find("\"winner\":0"), std::string::npos) << json;
  EXPECT_NE(json.find("\"state\":\"TASK_STATE_SUCCEEDED\""), std::string::npos) << json;

  v1::SelectResponse back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_EQ(back.task().id(), "01J0Z4AAAA");
}

TEST(ToJson, UsesLowerCamelCaseAndRfc3339) {
  v1::TaskInfo task;
  task.set_idempotency_key("k1");
  *task.mutable_created_at() = at("2024-05-01T12:00:00.250Z");
  const std::string json = to_json(task);
  EXPECT_NE(json.find("\"idempotencyKey\":\"k1\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"createdAt\":\"2024-05-01T12:00:00.250Z\""), std::string::npos) << json;
}

TEST(ToJson, WritesSpawnResponsesWithTheirId) {
  v1::SpawnResponse spawned;
  spawned.set_id("01J0Z4AAAA");
  EXPECT_EQ(to_json(spawned), R"({"id":"01J0Z4AAAA","existing":false})");
}

TEST(FormatTimestamp, PrintsADashWhenUnset) {
  EXPECT_EQ(format_timestamp({}), "-");
  EXPECT_EQ(format_timestamp(at("2024-05-01T12:00:00.123456Z")), "2024-05-01T12:00:00.123456Z");
}

TEST(Quote, EscapesWhatWouldBreakALine) {
  EXPECT_EQ(quote("a \"b\"\\\n\t\r"), R"("a \"b\"\\\n\t\r")");
}

}  // namespace
}  // namespace orch::client
