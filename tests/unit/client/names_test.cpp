#include "orch/client/names.h"

#include <gtest/gtest.h>

namespace orch::client {
namespace {

TEST(StatusCodeName, NamesEveryCanonicalCode) {
  EXPECT_EQ(status_code_name(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(status_code_name(grpc::StatusCode::CANCELLED), "CANCELLED");
  EXPECT_EQ(status_code_name(grpc::StatusCode::UNKNOWN), "UNKNOWN");
  EXPECT_EQ(status_code_name(grpc::StatusCode::INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_EQ(status_code_name(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  EXPECT_EQ(status_code_name(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_EQ(status_code_name(grpc::StatusCode::ALREADY_EXISTS), "ALREADY_EXISTS");
  EXPECT_EQ(status_code_name(grpc::StatusCode::PERMISSION_DENIED), "PERMISSION_DENIED");
  EXPECT_EQ(status_code_name(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(status_code_name(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(status_code_name(grpc::StatusCode::ABORTED), "ABORTED");
  EXPECT_EQ(status_code_name(grpc::StatusCode::OUT_OF_RANGE), "OUT_OF_RANGE");
  EXPECT_EQ(status_code_name(grpc::StatusCode::UNIMPLEMENTED), "UNIMPLEMENTED");
  EXPECT_EQ(status_code_name(grpc::StatusCode::INTERNAL), "INTERNAL");
  EXPECT_EQ(status_code_name(grpc::StatusCode::UNAVAILABLE), "UNAVAILABLE");
  EXPECT_EQ(status_code_name(grpc::StatusCode::DATA_LOSS), "DATA_LOSS");
  EXPECT_EQ(status_code_name(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
}

TEST(StatusCodeName, CallsAnOutOfRangeCodeUnknown) {
  EXPECT_EQ(status_code_name(static_cast<grpc::StatusCode>(42)), "UNKNOWN");
  EXPECT_EQ(status_code_name(static_cast<grpc::StatusCode>(-1)), "UNKNOWN");
}

TEST(FormatStatus, StartsWithTheCodeNameOnOneLine) {
  EXPECT_EQ(format_status(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                       "tenant alpha has 20 tasks queued (max_queued=20)")),
            "RESOURCE_EXHAUSTED: tenant alpha has 20 tasks queued (max_queued=20)");
  EXPECT_EQ(format_status(grpc::Status(grpc::StatusCode::INTERNAL, "two\nlines\r\n")),
            "INTERNAL: two lines  ");
  EXPECT_EQ(format_status(grpc::Status(grpc::StatusCode::NOT_FOUND, "")), "NOT_FOUND");
}

TEST(ParseTaskState, ReadsShortNamesInAnyCase) {
  EXPECT_EQ(parse_task_state("pending"), v1::TASK_STATE_PENDING);
  EXPECT_EQ(parse_task_state("RUNNING"), v1::TASK_STATE_RUNNING);
  EXPECT_EQ(parse_task_state("Succeeded"), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(parse_task_state("failed"), v1::TASK_STATE_FAILED);
  EXPECT_EQ(parse_task_state("cancelled"), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(parse_task_state("timed_out"), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(parse_task_state("timed-out"), v1::TASK_STATE_TIMED_OUT);
}

TEST(ParseTaskState, ReadsFullEnumNames) {
  EXPECT_EQ(parse_task_state("TASK_STATE_TIMED_OUT"), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(parse_task_state("task_state_running"), v1::TASK_STATE_RUNNING);
}

TEST(ParseTaskState, RefusesUnknownAndUnspecified) {
  for (const char* bad :
       {"", "done", "unspecified", "TASK_STATE_UNSPECIFIED", "TASK_STATE_", "3", "running "}) {
    EXPECT_EQ(parse_task_state(bad), std::nullopt) << bad;
  }
}

TEST(TaskStateName, DropsThePrefix) {
  EXPECT_EQ(task_state_name(v1::TASK_STATE_TIMED_OUT), "TIMED_OUT");
  EXPECT_EQ(task_state_name(v1::TASK_STATE_UNSPECIFIED), "UNSPECIFIED");
  EXPECT_EQ(task_state_name(static_cast<v1::TaskState>(99)), "UNKNOWN");
}

TEST(TaskStateName, RoundTripsThroughParse) {
  for (auto state : {v1::TASK_STATE_PENDING, v1::TASK_STATE_RUNNING, v1::TASK_STATE_SUCCEEDED,
                     v1::TASK_STATE_FAILED, v1::TASK_STATE_CANCELLED, v1::TASK_STATE_TIMED_OUT}) {
    EXPECT_EQ(parse_task_state(task_state_name(state)), state);
  }
}

TEST(IsTerminal, HoldsForTheFourEndStatesOnly) {
  EXPECT_FALSE(is_terminal(v1::TASK_STATE_UNSPECIFIED));
  EXPECT_FALSE(is_terminal(v1::TASK_STATE_PENDING));
  EXPECT_FALSE(is_terminal(v1::TASK_STATE_RUNNING));
  EXPECT_TRUE(is_terminal(v1::TASK_STATE_SUCCEEDED));
  EXPECT_TRUE(is_terminal(v1::TASK_STATE_FAILED));
  EXPECT_TRUE(is_terminal(v1::TASK_STATE_CANCELLED));
  EXPECT_TRUE(is_terminal(v1::TASK_STATE_TIMED_OUT));
}

TEST(ParseLabel, SplitsAtTheFirstEqualsSign) {
  using Label = std::pair<std::string, std::string>;
  EXPECT_EQ(parse_label("team=core"), Label("team", "core"));
  EXPECT_EQ(parse_label("expr=a=b"), Label("expr", "a=b"));
  EXPECT_EQ(parse_label("empty="), Label("empty", ""));
}

TEST(ParseLabel, RefusesAMissingKeyOrEqualsSign) {
  EXPECT_EQ(parse_label("team"), std::nullopt);
  EXPECT_EQ(parse_label("=core"), std::nullopt);
  EXPECT_EQ(parse_label(""), std::nullopt);
}

}  // namespace
}  // namespace orch::client
