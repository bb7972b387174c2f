// Colour and the live line of orchctl (orch/client/live.h, TextStyle in format.h).
#include "orch/client/live.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <regex>

#include "orch/client/format.h"
#include "orch/client/specs.h"

using namespace std::chrono_literals;

namespace orch::client {
namespace {

using google::protobuf::util::TimeUtil;

constexpr TextStyle kColor{true};

// The text without its ANSI colour sequences.
std::string plain(const std::string& text) {
  return std::regex_replace(text, std::regex("\x1b\\[[0-9;]*m"), "");
}

google::protobuf::Timestamp at(const char* rfc3339) {
  google::protobuf::Timestamp t;
  EXPECT_TRUE(TimeUtil::FromString(rfc3339, &t)) << rfc3339;
  return t;
}

TEST(WantColor, AutoColoursOnlyATerminal) {
  EXPECT_TRUE(want_color("auto", true, nullptr, "xterm-256color"));
  EXPECT_FALSE(want_color("auto", false, nullptr, "xterm-256color"));
  EXPECT_TRUE(want_color("auto", true, nullptr, nullptr));
}

TEST(WantColor, AutoHonoursNoColorAndADumbTerminal) {
  EXPECT_FALSE(want_color("auto", true, "1", "xterm"));
  EXPECT_FALSE(want_color("auto", true, "anything", "xterm"));
  EXPECT_TRUE(want_color("auto", true, "", "xterm"));  // set but empty: as if unset
  EXPECT_FALSE(want_color("auto", true, nullptr, "dumb"));
}

TEST(WantColor, AlwaysAndNeverDecideAlone) {
  EXPECT_TRUE(want_color("always", false, "1", "dumb"));
  EXPECT_FALSE(want_color("never", true, nullptr, "xterm"));
}

TEST(StateWord, ColoursEachStateAndResets) {
  EXPECT_EQ(state_word(v1::TASK_STATE_SUCCEEDED, kColor), "\x1b[32mSUCCEEDED\x1b[0m");
  EXPECT_EQ(state_word(v1::TASK_STATE_FAILED, kColor), "\x1b[31mFAILED\x1b[0m");
  EXPECT_EQ(state_word(v1::TASK_STATE_TIMED_OUT, kColor), "\x1b[31mTIMED_OUT\x1b[0m");
  EXPECT_EQ(state_word(v1::TASK_STATE_CANCELLED, kColor), "\x1b[33mCANCELLED\x1b[0m");
  EXPECT_EQ(state_word(v1::TASK_STATE_RUNNING, kColor), "\x1b[36mRUNNING\x1b[0m");
  EXPECT_EQ(state_word(v1::TASK_STATE_PENDING, kColor), "PENDING");
  EXPECT_EQ(state_word(v1::TASK_STATE_FAILED, {}), "FAILED");
}

v1::TaskInfo failed_join_task() {
  v1::TaskInfo task;
  task.set_id("01J0Z4ABCD");
  task.set_state(v1::TASK_STATE_FAILED);
  *task.mutable_created_at() = at("2024-05-01T12:00:00Z");
  *task.mutable_spec() = join({sleep(1s), sleep(2s)});
  auto* root = task.mutable_result();
  root->set_state(v1::TASK_STATE_FAILED);
  root->mutable_join()->add_children()->set_state(v1::TASK_STATE_SUCCEEDED);
  root->mutable_join()->add_children()->set_state(v1::TASK_STATE_FAILED);
  return task;
}

TEST(FormatTask, ColourOnlyWrapsTheStateWords) {
  const v1::TaskInfo task = failed_join_task();
  const std::string plain_text = format_task(task);
  const std::string colored = format_task(task, kColor);
  EXPECT_EQ(plain_text.find('\x1b'), std::string::npos);
  EXPECT_EQ(plain(colored), plain_text);
  EXPECT_NE(colored.find("state: \x1b[31mFAILED\x1b[0m\n"), std::string::npos) << colored;
  EXPECT_NE(colored.find("[0] sleep \x1b[32mSUCCEEDED\x1b[0m"), std::string::npos) << colored;
  EXPECT_NE(colored.find("[1] sleep \x1b[31mFAILED\x1b[0m"), std::string::npos) << colored;
}

TEST(FormatTaskTable, ColumnsStayAlignedInColour) {
  google::protobuf::RepeatedPtrField<v1::TaskInfo> tasks;
  auto* a = tasks.Add();
  a->set_id("01J0Z4AAAA");
  a->set_state(v1::TASK_STATE_RUNNING);
  *a->mutable_created_at() = at("2024-05-01T12:00:01Z");
  auto* b = tasks.Add();
  b->set_id("01J0Z4BBBB");
  b->set_state(v1::TASK_STATE_TIMED_OUT);
  *b->mutable_created_at() = at("2024-05-01T12:00:00Z");
  const std::string colored = format_task_table(tasks, kColor);
  EXPECT_EQ(plain(colored), format_task_table(tasks));
  EXPECT_EQ(colored,
            "01J0Z4AAAA  \x1b[36mRUNNING\x1b[0m    -  2024-05-01T12:00:01Z\n"
            "01J0Z4BBBB  \x1b[31mTIMED_OUT\x1b[0m  -  2024-05-01T12:00:00Z\n");
}

TEST(FormatEvent, ColoursTheState) {
  v1::TaskEvent event;
  event.set_id("01J0Z4AAAA");
  event.set_state(v1::TASK_STATE_SUCCEEDED);
  *event.mutable_time() = at("2024-05-01T12:00:00.100Z");
  EXPECT_EQ(format_event(event, kColor),
            "2024-05-01T12:00:00.100Z 01J0Z4AAAA \x1b[32mSUCCEEDED\x1b[0m");
}

TEST(LiveCounts, KeepsTheLatestStateOfEachTask) {
  LiveCounts counts(3);
  EXPECT_EQ(counts.total(), 3u);
  EXPECT_EQ(counts.done(), 0u);
  counts.update("a", v1::TASK_STATE_PENDING);
  counts.update("b", v1::TASK_STATE_RUNNING);
  counts.update("a", v1::TASK_STATE_RUNNING);
  EXPECT_EQ(counts.count(v1::TASK_STATE_PENDING), 0u);
  EXPECT_EQ(counts.count(v1::TASK_STATE_RUNNING), 2u);
  counts.update("a", v1::TASK_STATE_SUCCEEDED);
  counts.update("c", v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(counts.done(), 2u);
  EXPECT_EQ(counts.total(), 3u);
}

TEST(LiveCounts, WithoutExpectedTasksTheTotalIsTheTasksSeen) {
  LiveCounts counts;
  EXPECT_EQ(counts.total(), 0u);
  counts.update("a", v1::TASK_STATE_RUNNING);
  counts.update("b", v1::TASK_STATE_FAILED);
  counts.update("b", v1::TASK_STATE_FAILED);
  EXPECT_EQ(counts.total(), 2u);
  EXPECT_EQ(counts.done(), 1u);
}

TEST(FormatElapsed, TenthsBelowAMinuteThenMinutesAndHours) {
  EXPECT_EQ(format_elapsed(0ms), "0.0s");
  EXPECT_EQ(format_elapsed(450ms), "0.4s");
  EXPECT_EQ(format_elapsed(12345ms), "12.3s");
  EXPECT_EQ(format_elapsed(59999ms), "59.9s");
  EXPECT_EQ(format_elapsed(65s), "1m05s");
  EXPECT_EQ(format_elapsed(2h + 3min + 9s), "2h03m09s");
}

TEST(FormatLive, ShowsDoneTotalTheStatesThatHaveTasksAndTheTime) {
  LiveCounts counts(10);
  for (int i = 0; i < 2; ++i) counts.update("p" + std::to_string(i), v1::TASK_STATE_PENDING);
  for (int i = 0; i < 5; ++i) counts.update("r" + std::to_string(i), v1::TASK_STATE_RUNNING);
  for (int i = 0; i < 2; ++i) counts.update("s" + std::to_string(i), v1::TASK_STATE_SUCCEEDED);
  counts.update("f", v1::TASK_STATE_FAILED);
  EXPECT_EQ(format_live(counts, 12345ms, {}),
            "3/10 done  PENDING 2  RUNNING 5  SUCCEEDED 2  FAILED 1  12.3s");
  const std::string colored = format_live(counts, 12345ms, kColor);
  EXPECT_EQ(plain(colored), format_live(counts, 12345ms, {}));
  EXPECT_NE(colored.find("\x1b[32mSUCCEEDED\x1b[0m 2"), std::string::npos);
  EXPECT_EQ(format_live(LiveCounts(4), 0ms, {}), "0/4 done  0.0s");
}

}  // namespace
}  // namespace orch::client
