// Ticks requests at the API edge: every refusal names the field; defaults follow the API.
#include "orch/rpc/schedule_convert.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace orch::rpc {
namespace {

using engine::ErrorCode;
using google::protobuf::util::TimeUtil;

class TicksValidation : public ::testing::Test {
 protected:
  TicksValidation() { limits_.max_duration = std::chrono::hours(1); }

  static v1::TicksRequest every(Duration d) {
    v1::TicksRequest request;
    *request.mutable_period() = TimeUtil::NanosecondsToDuration(d.count());
    return request;
  }

  // The refusal's code and message, for one-line assertions.
  std::pair<ErrorCode, std::string> refusal(const v1::TicksRequest& request) {
    auto result = ticks_options_from_proto(request, limits_, now_);
    EXPECT_FALSE(result.has_value());
    if (result) return {ErrorCode::kInternal, "accepted"};
    return {result.error().code, result.error().message};
  }

  config::Limits limits_;
  engine::TimePoint now_ = engine::TimePoint(std::chrono::hours(5));
};

TEST_F(TicksValidation, AMissingPeriodIsRefusedByName) {
  EXPECT_EQ(refusal(v1::TicksRequest()),
            std::make_pair(ErrorCode::kInvalidArgument, std::string("period: required")));
}

TEST_F(TicksValidation, AZeroOrNegativePeriodIsRefused) {
  EXPECT_EQ(refusal(every(0s)).second, "period: must be positive");
  EXPECT_EQ(refusal(every(-1s)).second, "period: must not be negative");
}

TEST_F(TicksValidation, APeriodLongerThanMaxDurationIsRefused) {
  EXPECT_EQ(refusal(every(2h)).second, "period: must be at most 1h (limits.max_duration)");
}

TEST_F(TicksValidation, AnUnknownMissedTickBehaviourIsRefusedByName) {
  auto request = every(1s);
  request.set_missed_tick_behavior(static_cast<v1::MissedTickBehavior>(42));
  const auto [code, message] = refusal(request);
  EXPECT_EQ(code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(message.rfind("missed_tick_behavior: ", 0), 0u) << message;
}

TEST_F(TicksValidation, DefaultsAreStartNowSkipAndNoLimit) {
  auto options = ticks_options_from_proto(every(250ms), limits_, now_);
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->period, 250ms);
  EXPECT_EQ(options->start, now_);
  EXPECT_EQ(options->missed_tick_behavior, schedules::MissedTickBehavior::kSkip);
  EXPECT_FALSE(options->max_ticks.has_value());
}

TEST_F(TicksValidation, CountDelayAndBehaviourAreTakenAsGiven) {
  auto request = every(1s);
  request.set_count(5);
  request.set_missed_tick_behavior(v1::MISSED_TICK_BEHAVIOR_BURST);
  *request.mutable_delay() = TimeUtil::SecondsToDuration(2);
  auto options = ticks_options_from_proto(request, limits_, now_);
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->max_ticks, 5u);
  EXPECT_EQ(options->start, now_ + 2s);
  EXPECT_EQ(options->missed_tick_behavior, schedules::MissedTickBehavior::kBurst);
}

TEST_F(TicksValidation, AStartAtFarFromNowIsRefused) {
  auto request = every(1s);
  request.mutable_start_at()->set_seconds(1);  // 1970
  EXPECT_EQ(refusal(request).second, "start_at: must be within 1h of now (limits.max_duration)");
}

}  // namespace
}  // namespace orch::rpc
