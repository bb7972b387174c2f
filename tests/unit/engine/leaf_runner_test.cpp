// The retry arithmetic and fencing tokens shared by every work leaf.

#include "engine/leaf_runner.h"

#include <gtest/gtest.h>

namespace orch::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, GrowsByTheMultiplierFromTheInitialBackoff) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(100);
  policy.max_backoff = seconds(10);
  policy.multiplier = 3.0;
  EXPECT_EQ(backoff_before(policy, 2), milliseconds(100));
  EXPECT_EQ(backoff_before(policy, 3), milliseconds(300));
  EXPECT_EQ(backoff_before(policy, 4), milliseconds(900));
}

TEST(Backoff, StopsGrowingAtMaxBackoff) {
  RetryPolicy policy;
  policy.initial_backoff = seconds(1);
  policy.max_backoff = seconds(5);
  policy.multiplier = 2.0;
  EXPECT_EQ(backoff_before(policy, 4), seconds(4));
  EXPECT_EQ(backoff_before(policy, 5), seconds(5));
  EXPECT_EQ(backoff_before(policy, 1000), seconds(5));  // no overflow on a long run
}

TEST(Backoff, MultiplierOneKeepsItConstant) {
  RetryPolicy policy;
  policy.initial_backoff = milliseconds(250);
  policy.multiplier = 1.0;
  EXPECT_EQ(backoff_before(policy, 2), milliseconds(250));
  EXPECT_EQ(backoff_before(policy, 9), milliseconds(250));
}

TEST(FencingToken, StrictlyGrowsAndStartsAboveTheWallClockAtStart) {
  const auto wall = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::uint64_t previous = next_fencing_token();
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t token = next_fencing_token();
    ASSERT_GT(token, previous);
    previous = token;
  }
  // Seeded from the clock when first used, which was before `wall` was read or within the
  // same second: a restarted daemon starts above everything its predecessor handed out.
  EXPECT_GT(previous, wall - 60'000'000'000ull);
}

TEST(FailureReason, NamesRoundTrip) {
  for (std::size_t i = 0; i < kFailureReasonCount; ++i) {
    const auto reason = static_cast<FailureReason>(i);
    EXPECT_EQ(failure_reason_from_name(failure_reason_name(reason)), reason);
  }
  EXPECT_EQ(failure_reason_from_name("exit code"), std::nullopt);
}

}  // namespace
}  // namespace orch::engine
