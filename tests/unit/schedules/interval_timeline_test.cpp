#include "orch/schedules/interval_timeline.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <vector>

namespace orch::schedules {

void PrintTo(const FiredTick& tick, std::ostream* out) {
  *out << "{#" << tick.tick_number << ", due " << tick.scheduled.time_since_epoch().count()
       << "ns, missed " << tick.missed_before << "}";
}

namespace {

using namespace std::chrono_literals;
using engine::TimePoint;

TimePoint at(Duration since_zero) { return TimePoint(since_zero); }

// One tick as a test reads it: due when, fired when, after how many missed ones.
struct Shot {
  Duration due;
  Duration fired;
  std::uint64_t missed = 0;
  friend bool operator==(const Shot&, const Shot&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Shot& s) {
    return out << "{due " << s.due.count() << "ns, fired " << s.fired.count() << "ns, missed "
               << s.missed << "}";
  }
};

// The time during which the driver cannot run: a deadline in [from, until) is noticed at until.
struct Stall {
  TimePoint from = TimePoint::max();
  TimePoint until = TimePoint::max();
};

// Drives `timeline` as a timer would (wake at each deadline, never earlier, never back in time)
// until `count` ticks fired or the timeline has no deadline.
std::vector<Shot> drive(IntervalTimeline& timeline, std::size_t count, Stall stall = {}) {
  std::vector<Shot> shots;
  TimePoint now = TimePoint::min();
  for (int turns = 0; shots.size() < count; ++turns) {
    if (turns > 10'000) {
      ADD_FAILURE() << "the timeline does not move on";
      break;
    }
    const auto deadline = timeline.next_deadline();
    if (!deadline) break;
    now = std::max(now, *deadline);
    if (now >= stall.from && now < stall.until) now = stall.until;
    if (auto tick = timeline.fire(now)) {
      shots.push_back(
          {tick->scheduled.time_since_epoch(), now.time_since_epoch(), tick->missed_before});
    }
  }
  return shots;
}

// Fires everything that is due at `now`, as a driver does in one turn.
std::vector<FiredTick> fire_due(IntervalTimeline& timeline, TimePoint now) {
  std::vector<FiredTick> fired;
  for (int turns = 0; turns <= 10'000; ++turns) {
    const auto deadline = timeline.next_deadline();
    if (!deadline || *deadline > now) return fired;
    if (auto tick = timeline.fire(now)) fired.push_back(*tick);
  }
  ADD_FAILURE() << "the timeline does not move on";
  return fired;
}

// Fires every tick due up to `through`, each exactly at its due instant.
void run_on_time(IntervalTimeline& timeline, TimePoint through) {
  for (int turns = 0; turns <= 10'000; ++turns) {
    const auto deadline = timeline.next_deadline();
    if (!deadline || *deadline > through) return;
    timeline.fire(*deadline);
  }
  ADD_FAILURE() << "the timeline does not move on";
}

IntervalOptions every_10ms(MissedTickBehavior behavior) {
  return {.start = at(0ms), .period = 10ms, .missed_tick_behavior = behavior};
}

// The issue's example: period 10 from 0, nothing can fire between 15 and 47.
constexpr Stall kIssueStall{.from = TimePoint(15ms), .until = TimePoint(47ms)};

constexpr MissedTickBehavior kEveryBehavior[] = {
    MissedTickBehavior::kBurst, MissedTickBehavior::kDelay, MissedTickBehavior::kSkip};

// ---------------------------------------------------------------------------------------------
// Ticks on time

TEST(IntervalTimeline, FirstTickIsDueAtTheStartLikeTokioInterval) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  EXPECT_EQ(timeline.next_deadline(), at(0ms));
  EXPECT_EQ(timeline.fire(at(0ms)), (FiredTick{1, at(0ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), at(10ms));
  EXPECT_EQ(timeline.last_fired_at(), at(0ms));
}

TEST(IntervalTimeline, StartInTheFutureDelaysTheFirstTickLikeIntervalAt) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kSkip);
  options.start = at(100ms);
  IntervalTimeline timeline(options);
  EXPECT_EQ(timeline.last_fired_at(), std::nullopt);
  EXPECT_EQ(timeline.fire(at(50ms)), std::nullopt);
  EXPECT_EQ(timeline.fire(at(100ms) - 1ns), std::nullopt);
  EXPECT_EQ(timeline.next_deadline(), at(100ms));
  EXPECT_EQ(timeline.ticks_fired(), 0u);
  EXPECT_EQ(timeline.fire(at(100ms)), (FiredTick{1, at(100ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), at(110ms));
}

TEST(IntervalTimeline, OnTimeTicksFollowTheTimelineWithEveryBehavior) {
  for (auto behavior : kEveryBehavior) {
    IntervalTimeline timeline(every_10ms(behavior));
    EXPECT_EQ(drive(timeline, 4),
              (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {20ms, 20ms}, {30ms, 30ms}}))
        << "behavior " << static_cast<int>(behavior);
    EXPECT_EQ(timeline.ticks_missed(), 0u);
  }
}

TEST(IntervalTimeline, DefaultBehaviorIsSkipAndDefaultLeewayIsTokios5ms) {
  const IntervalOptions options;
  EXPECT_EQ(options.missed_tick_behavior, MissedTickBehavior::kSkip);
  EXPECT_EQ(options.leeway, 5ms);
  EXPECT_EQ(options.catchup_window, std::nullopt);
  EXPECT_EQ(options.max_ticks, std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// The issue's example, one behaviour at a time

TEST(IntervalTimeline, BurstFiresMissedTicksBackToBack) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  EXPECT_EQ(drive(timeline, 7, kIssueStall), (std::vector<Shot>{{0ms, 0ms},
                                                                {10ms, 10ms},
                                                                {20ms, 47ms},
                                                                {30ms, 47ms},
                                                                {40ms, 47ms},
                                                                {50ms, 50ms},
                                                                {60ms, 60ms}}));
  EXPECT_EQ(timeline.ticks_missed(), 0u);
  EXPECT_EQ(timeline.next_deadline(), at(70ms));
}

TEST(IntervalTimeline, DelayRestartsTheTimelineOnePeriodAfterTheLateTickFired) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kDelay));
  EXPECT_EQ(
      drive(timeline, 5, kIssueStall),
      (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {20ms, 47ms}, {57ms, 57ms}, {67ms, 67ms}}));
  EXPECT_EQ(timeline.ticks_missed(), 0u);
}

TEST(IntervalTimeline, SkipFiresTheLateTickThenTheNextInstantOfTheTimeline) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  // The ticks due at 30 and 40 are missed when the tick due at 20 fires at 47.
  EXPECT_EQ(
      drive(timeline, 5, kIssueStall),
      (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {20ms, 47ms, 2}, {50ms, 50ms}, {60ms, 60ms}}));
  EXPECT_EQ(timeline.ticks_missed(), 2u);
  EXPECT_EQ(timeline.ticks_fired(), 5u);
}

TEST(IntervalTimeline, BurstDoesNotWaitBetweenCatchUpTicks) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  run_on_time(timeline, at(10ms));
  // After the late tick fires the next one is already due.
  EXPECT_EQ(timeline.fire(at(47ms)), (FiredTick{3, at(20ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), at(30ms));
  EXPECT_EQ(timeline.fire(at(47ms)), (FiredTick{4, at(30ms), 0}));
  EXPECT_EQ(timeline.fire(at(47ms)), (FiredTick{5, at(40ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), at(50ms));
  EXPECT_EQ(timeline.fire(at(47ms)), std::nullopt);
}

TEST(IntervalTimeline, LateTickReportsTheInstantItWasDueNotWhenItFired) {
  for (auto behavior : kEveryBehavior) {
    IntervalTimeline timeline(every_10ms(behavior));
    const auto tick = timeline.fire(at(33ms));
    ASSERT_TRUE(tick);
    EXPECT_EQ(tick->scheduled, at(0ms));
    EXPECT_EQ(tick->tick_number, 1u);
    EXPECT_EQ(timeline.last_fired_at(), at(33ms));
  }
}

TEST(IntervalTimeline, APeriodThatDoesNotDivideTheLatenessKeepsEachBehaviorsRule) {
  // Period 7 from 0; the tick due at 7 is noticed at 30 (23 late: 3 periods and 2).
  const Stall stall{.from = at(5ms), .until = at(30ms)};
  auto options = [](MissedTickBehavior behavior) {
    return IntervalOptions{.start = at(0ms), .period = 7ms, .missed_tick_behavior = behavior};
  };
  IntervalTimeline burst(options(MissedTickBehavior::kBurst));
  EXPECT_EQ(drive(burst, 6, stall),
            (std::vector<Shot>{
                {0ms, 0ms}, {7ms, 30ms}, {14ms, 30ms}, {21ms, 30ms}, {28ms, 30ms}, {35ms, 35ms}}));
  IntervalTimeline delay(options(MissedTickBehavior::kDelay));
  EXPECT_EQ(drive(delay, 4, stall),
            (std::vector<Shot>{{0ms, 0ms}, {7ms, 30ms}, {37ms, 37ms}, {44ms, 44ms}}));
  IntervalTimeline skip(options(MissedTickBehavior::kSkip));
  // 30 + 7 - 23 % 7 = 35: back on the timeline; 14, 21 and 28 are missed.
  EXPECT_EQ(drive(skip, 4, stall),
            (std::vector<Shot>{{0ms, 0ms}, {7ms, 30ms, 3}, {35ms, 35ms}, {42ms, 42ms}}));
}

TEST(IntervalTimeline, SkipOnAnExactMultipleOfThePeriodMissesTheTickDueNowLikeTokio) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  run_on_time(timeline, at(10ms));
  // Due 20, noticed at 40: Tokio's next is 40 + 10 - 0 = 50, so the tick due at 40 is missed.
  EXPECT_EQ(timeline.fire(at(40ms)), (FiredTick{3, at(20ms), 2}));
  EXPECT_EQ(timeline.next_deadline(), at(50ms));
}

// ---------------------------------------------------------------------------------------------
// The leeway

TEST(IntervalTimeline, LatenessUpToTheLeewayIsNotAMiss) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kDelay));
  run_on_time(timeline, at(10ms));
  // Exactly 5 ms late: not late, DELAY keeps the timeline.
  EXPECT_EQ(timeline.fire(at(25ms)), (FiredTick{3, at(20ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), at(30ms));
}

TEST(IntervalTimeline, LatenessBeyondTheLeewayIsAMiss) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kDelay));
  run_on_time(timeline, at(10ms));
  EXPECT_EQ(timeline.fire(at(25ms) + 1ns), (FiredTick{3, at(20ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), at(35ms) + 1ns);
}

TEST(IntervalTimeline, SkipWithinTheLeewayMissesNothing) {
  // Period 2 ms, shorter than the leeway: a tick 4 ms late is not late, so like Tokio the
  // timeline catches up tick by tick instead of skipping.
  IntervalTimeline timeline(
      {.start = at(0ms), .period = 2ms, .missed_tick_behavior = MissedTickBehavior::kSkip});
  fire_due(timeline, at(0ms));
  const auto fired = fire_due(timeline, at(4ms));
  EXPECT_EQ(fired, (std::vector<FiredTick>{{2, at(2ms), 0}, {3, at(4ms), 0}}));
  EXPECT_EQ(timeline.next_deadline(), at(6ms));
  EXPECT_EQ(timeline.ticks_missed(), 0u);
}

TEST(IntervalTimeline, ZeroLeewayMakesAnyLatenessAMiss) {
  IntervalTimeline timeline({.start = at(0ms),
                             .period = 2ms,
                             .missed_tick_behavior = MissedTickBehavior::kSkip,
                             .leeway = 0ms});
  fire_due(timeline, at(0ms));
  const auto fired = fire_due(timeline, at(4ms));
  EXPECT_EQ(fired, (std::vector<FiredTick>{{2, at(2ms), 1}}));
  EXPECT_EQ(timeline.next_deadline(), at(6ms));
}

TEST(IntervalTimeline, AWiderLeewayTreatsLongerLatenessAsOnTime) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kDelay);
  options.leeway = 20ms;
  IntervalTimeline timeline(options);
  run_on_time(timeline, at(10ms));
  // 15 ms late is within 20 ms: the timeline stays, so the tick due at 30 comes next.
  EXPECT_EQ(timeline.fire(at(35ms)), (FiredTick{3, at(20ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), at(30ms));
}

// ---------------------------------------------------------------------------------------------
// Very late wake-ups cost O(1)

TEST(IntervalTimeline, AVeryLateWakeupCostsNoLoopPerMissedPeriod) {
  // A 1 ns period noticed about 100 years late: one step per missed period would not finish.
  const Duration lateness = std::chrono::hours(24 * 365 * 100) + 3ns;
  const IntervalOptions base{.start = at(0ns), .period = 1ns, .leeway = 0ns};

  IntervalOptions skip_options = base;
  skip_options.missed_tick_behavior = MissedTickBehavior::kSkip;
  IntervalTimeline skip(skip_options);
  EXPECT_EQ(skip.fire(at(lateness)),
            (FiredTick{1, at(0ns), static_cast<std::uint64_t>(lateness.count())}));
  EXPECT_EQ(skip.next_deadline(), at(lateness + 1ns));

  IntervalOptions delay_options = base;
  delay_options.missed_tick_behavior = MissedTickBehavior::kDelay;
  IntervalTimeline delay(delay_options);
  EXPECT_EQ(delay.fire(at(lateness)), (FiredTick{1, at(0ns), 0}));
  EXPECT_EQ(delay.next_deadline(), at(lateness + 1ns));

  // BURST must fire every tick it keeps; a catch-up window bounds them in one step.
  IntervalOptions burst_options = base;
  burst_options.missed_tick_behavior = MissedTickBehavior::kBurst;
  burst_options.catchup_window = 10ns;
  IntervalTimeline burst(burst_options);
  const auto fired = fire_due(burst, at(lateness));
  ASSERT_EQ(fired.size(), 11u);
  EXPECT_EQ(fired.front(), (FiredTick{1, at(lateness - 10ns),
                                      static_cast<std::uint64_t>((lateness - 10ns).count())}));
  EXPECT_EQ(fired.back(), (FiredTick{11, at(lateness), 0}));
}

TEST(IntervalTimeline, AHugePeriodSaturatesAtTheEndOfTimeInsteadOfOverflowing) {
  IntervalTimeline timeline({.start = at(1ms), .period = Duration::max()});
  EXPECT_EQ(timeline.fire(at(1ms)), (FiredTick{1, at(1ms), 0}));
  EXPECT_EQ(timeline.next_deadline(), TimePoint::max());
  EXPECT_EQ(timeline.fire(at(std::chrono::hours(24 * 365 * 200))), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// The catch-up window

TEST(IntervalTimeline, BurstFiresOnlyTheMissedTicksInsideTheCatchupWindow) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kBurst);
  options.catchup_window = 15ms;
  IntervalTimeline timeline(options);
  // At 47 the ticks due at 20 and 30 are more than 15 ms late: missed; 40 fires.
  EXPECT_EQ(
      drive(timeline, 5, kIssueStall),
      (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {40ms, 47ms, 2}, {50ms, 50ms}, {60ms, 60ms}}));
  EXPECT_EQ(timeline.ticks_missed(), 2u);
}

TEST(IntervalTimeline, ATickExactlyCatchupWindowLateStillFires) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kBurst);
  options.catchup_window = 27ms;
  IntervalTimeline timeline(options);
  EXPECT_EQ(
      drive(timeline, 5, kIssueStall),
      (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {20ms, 47ms}, {30ms, 47ms}, {40ms, 47ms}}));
}

TEST(IntervalTimeline, TicksInsideTheCatchupWindowFollowTheirBehavior) {
  for (auto behavior : {MissedTickBehavior::kDelay, MissedTickBehavior::kSkip}) {
    IntervalOptions options = every_10ms(behavior);
    options.catchup_window = 30ms;
    IntervalTimeline timeline(options);
    const auto shots = drive(timeline, 4, kIssueStall);
    ASSERT_EQ(shots.size(), 4u);
    EXPECT_EQ(shots[2], (Shot{20ms, 47ms, behavior == MissedTickBehavior::kSkip ? 2u : 0u}));
    EXPECT_EQ(shots[3].due, behavior == MissedTickBehavior::kSkip ? 50ms : 57ms);
  }
}

TEST(IntervalTimeline, BurstWithNoTickInsideTheWindowFiresNothingUntilTheNextTickIsDue) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kBurst);
  options.catchup_window = 3ms;
  IntervalTimeline timeline(options);
  run_on_time(timeline, at(10ms));
  // 20, 30 and 40 are all more than 3 ms late at 47; the next tick of the timeline is 50.
  EXPECT_EQ(timeline.fire(at(47ms)), std::nullopt);
  EXPECT_EQ(timeline.ticks_missed(), 3u);
  EXPECT_EQ(timeline.next_deadline(), at(50ms));
  EXPECT_EQ(timeline.fire(at(50ms)), (FiredTick{3, at(50ms), 3}));
}

TEST(IntervalTimeline, DelayDropsATickOutsideTheWindowAndRestartsOnePeriodAfterNow) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kDelay);
  options.catchup_window = 20ms;
  IntervalTimeline timeline(options);
  run_on_time(timeline, at(10ms));
  EXPECT_EQ(timeline.fire(at(47ms)), std::nullopt);
  EXPECT_EQ(timeline.ticks_missed(), 1u);
  EXPECT_EQ(timeline.next_deadline(), at(57ms));
  EXPECT_EQ(timeline.fire(at(57ms)), (FiredTick{3, at(57ms), 1}));
}

TEST(IntervalTimeline, SkipDropsATickOutsideTheWindowAndTheTicksItWouldHaveSkipped) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kSkip);
  options.catchup_window = 20ms;
  IntervalTimeline timeline(options);
  run_on_time(timeline, at(10ms));
  // 20 is 27 ms late: missed; as if it had fired at 47, SKIP also misses 30 and 40.
  EXPECT_EQ(timeline.fire(at(47ms)), std::nullopt);
  EXPECT_EQ(timeline.ticks_missed(), 3u);
  EXPECT_EQ(timeline.next_deadline(), at(50ms));
  EXPECT_EQ(timeline.fire(at(50ms)), (FiredTick{3, at(50ms), 3}));
}

TEST(IntervalTimeline, StartInThePastWithBurstFiresOnlyTheTicksInsideTheWindow) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kBurst);
  options.catchup_window = 25ms;
  IntervalTimeline timeline(options);
  // First noticed at 1000: the 98 ticks due 0..970 are missed; 980, 990 and 1000 fire.
  EXPECT_EQ(fire_due(timeline, at(1000ms)),
            (std::vector<FiredTick>{{1, at(980ms), 98}, {2, at(990ms), 0}, {3, at(1000ms), 0}}));
  EXPECT_EQ(timeline.next_deadline(), at(1010ms));
}

TEST(IntervalTimeline, ATickDroppedByTheWindowButWithinTheLeewayKeepsTheTimeline) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kDelay);
  options.catchup_window = 1ms;
  IntervalTimeline timeline(options);
  run_on_time(timeline, at(10ms));
  // 3 ms late: outside the window, so it is missed; not late, so DELAY does not restart.
  EXPECT_EQ(timeline.fire(at(23ms)), std::nullopt);
  EXPECT_EQ(timeline.ticks_missed(), 1u);
  EXPECT_EQ(timeline.next_deadline(), at(30ms));
}

// ---------------------------------------------------------------------------------------------
// max_ticks and finish()

TEST(IntervalTimeline, TimelineFinishesAfterMaxTicksHaveFired) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kSkip);
  options.max_ticks = 3;
  IntervalTimeline timeline(options);
  EXPECT_EQ(drive(timeline, 10), (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {20ms, 20ms}}));
  EXPECT_EQ(timeline.state(), IntervalTimeline::State::kFinished);
  EXPECT_EQ(timeline.next_deadline(), std::nullopt);
  EXPECT_EQ(timeline.fire(at(30ms)), std::nullopt);
  EXPECT_EQ(timeline.ticks_fired(), 3u);
}

TEST(IntervalTimeline, MaxTicksStopsABurstHalfway) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kBurst);
  options.max_ticks = 4;
  IntervalTimeline timeline(options);
  EXPECT_EQ(drive(timeline, 10, kIssueStall),
            (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {20ms, 47ms}, {30ms, 47ms}}));
  EXPECT_EQ(timeline.fire(at(47ms)), std::nullopt);
  EXPECT_EQ(timeline.state(), IntervalTimeline::State::kFinished);
}

TEST(IntervalTimeline, MissedTicksDoNotCountTowardMaxTicks) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kSkip);
  options.max_ticks = 4;
  IntervalTimeline timeline(options);
  EXPECT_EQ(drive(timeline, 10, kIssueStall),
            (std::vector<Shot>{{0ms, 0ms}, {10ms, 10ms}, {20ms, 47ms, 2}, {50ms, 50ms}}));
  EXPECT_EQ(timeline.ticks_missed(), 2u);
  EXPECT_EQ(timeline.state(), IntervalTimeline::State::kFinished);
}

TEST(IntervalTimeline, FinishEndsTheTimelineForGood) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  fire_due(timeline, at(0ms));
  timeline.finish();
  EXPECT_EQ(timeline.state(), IntervalTimeline::State::kFinished);
  EXPECT_EQ(timeline.next_deadline(), std::nullopt);
  EXPECT_EQ(timeline.fire(at(10ms)), std::nullopt);
  timeline.resume(at(10ms));
  timeline.reset(at(10ms));
  EXPECT_EQ(timeline.state(), IntervalTimeline::State::kFinished);
  EXPECT_EQ(timeline.fire(at(100ms)), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Pause and resume

TEST(IntervalTimeline, APausedTimelineFiresNothingAndHasNoDeadline) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  fire_due(timeline, at(0ms));
  timeline.pause();
  EXPECT_EQ(timeline.state(), IntervalTimeline::State::kPaused);
  EXPECT_EQ(timeline.next_deadline(), std::nullopt);
  EXPECT_EQ(timeline.fire(at(10ms)), std::nullopt);
  EXPECT_EQ(timeline.fire(at(30ms)), std::nullopt);
  EXPECT_EQ(timeline.ticks_fired(), 1u);
}

TEST(IntervalTimeline, PauseAndResumeBetweenTwoTicksChangeNothing) {
  for (auto behavior : kEveryBehavior) {
    IntervalTimeline timeline(every_10ms(behavior));
    fire_due(timeline, at(0ms));
    timeline.pause();
    timeline.pause();  // pausing a paused timeline changes nothing
    timeline.resume(at(7ms));
    EXPECT_EQ(timeline.state(), IntervalTimeline::State::kActive);
    EXPECT_EQ(timeline.next_deadline(), at(10ms)) << "behavior " << static_cast<int>(behavior);
    EXPECT_EQ(timeline.ticks_missed(), 0u);
  }
}

TEST(IntervalTimeline, TicksDueWhilePausedAreMissedAndBurstResumesOnTheTimeline) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  run_on_time(timeline, at(10ms));
  timeline.pause();
  timeline.resume(at(47ms));
  // 20, 30 and 40 were due while paused: missed, not burst.
  EXPECT_EQ(timeline.ticks_missed(), 3u);
  EXPECT_EQ(timeline.next_deadline(), at(50ms));
  EXPECT_EQ(timeline.fire(at(50ms)), (FiredTick{3, at(50ms), 3}));
}

TEST(IntervalTimeline, SkipResumesOnTheTimeline) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  run_on_time(timeline, at(10ms));
  timeline.pause();
  timeline.resume(at(47ms));
  EXPECT_EQ(timeline.ticks_missed(), 3u);
  EXPECT_EQ(timeline.next_deadline(), at(50ms));
}

TEST(IntervalTimeline, DelayResumesOnePeriodAfterTheResume) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kDelay));
  run_on_time(timeline, at(10ms));
  timeline.pause();
  timeline.resume(at(47ms));
  EXPECT_EQ(timeline.ticks_missed(), 3u);
  EXPECT_EQ(timeline.next_deadline(), at(57ms));
  EXPECT_EQ(drive(timeline, 2), (std::vector<Shot>{{57ms, 57ms, 3}, {67ms, 67ms}}));
}

TEST(IntervalTimeline, ATickDueAtTheResumeInstantFires) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  run_on_time(timeline, at(10ms));
  timeline.pause();
  timeline.resume(at(40ms));
  EXPECT_EQ(timeline.ticks_missed(), 2u);  // 20 and 30
  EXPECT_EQ(timeline.fire(at(40ms)), (FiredTick{3, at(40ms), 2}));
}

TEST(IntervalTimeline, ATickOverdueWhenPausedIsMissedOnResume) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  fire_due(timeline, at(0ms));
  // The tick due at 10 had not fired yet when the pause came.
  timeline.pause();
  timeline.resume(at(15ms));
  EXPECT_EQ(timeline.ticks_missed(), 1u);
  EXPECT_EQ(timeline.next_deadline(), at(20ms));
}

TEST(IntervalTimeline, ResumeThenResetRestartsTheTimelineFromTheResume) {
  // The API's Resume{reset: true}.
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  run_on_time(timeline, at(10ms));
  timeline.pause();
  timeline.resume(at(47ms));
  timeline.reset(at(47ms));
  EXPECT_EQ(timeline.ticks_missed(), 3u);
  EXPECT_EQ(drive(timeline, 2), (std::vector<Shot>{{57ms, 57ms, 3}, {67ms, 67ms}}));
}

TEST(IntervalTimeline, ResumeDoesNothingUnlessPaused) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kDelay));
  fire_due(timeline, at(0ms));
  timeline.resume(at(47ms));
  EXPECT_EQ(timeline.next_deadline(), at(10ms));
  EXPECT_EQ(timeline.ticks_missed(), 0u);
}

// ---------------------------------------------------------------------------------------------
// reset()

TEST(IntervalTimeline, ResetMovesTheNextTickOnePeriodAfterNow) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  fire_due(timeline, at(0ms));
  timeline.reset(at(4ms));
  EXPECT_EQ(timeline.next_deadline(), at(14ms));
  EXPECT_EQ(drive(timeline, 2), (std::vector<Shot>{{14ms, 14ms}, {24ms, 24ms}}));
  EXPECT_EQ(timeline.ticks_missed(), 0u);
}

TEST(IntervalTimeline, SkipKeepsToTheTimelineStartedByReset) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  fire_due(timeline, at(0ms));
  timeline.reset(at(4ms));
  run_on_time(timeline, at(14ms));
  // Due 24, noticed at 47: 34 and 44 are missed; next is 54, on the timeline from 4.
  EXPECT_EQ(timeline.fire(at(47ms)), (FiredTick{3, at(24ms), 2}));
  EXPECT_EQ(timeline.next_deadline(), at(54ms));
}

TEST(IntervalTimeline, ResetCountsOverdueUnfiredTicksAsMissed) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kBurst));
  fire_due(timeline, at(0ms));
  timeline.reset(at(25ms));  // 10 and 20 were due and never fired
  EXPECT_EQ(timeline.ticks_missed(), 2u);
  EXPECT_EQ(timeline.next_deadline(), at(35ms));
  EXPECT_EQ(timeline.fire(at(35ms)), (FiredTick{2, at(35ms), 2}));
}

TEST(IntervalTimeline, ResetWhilePausedTakesEffectOnResume) {
  IntervalTimeline timeline(every_10ms(MissedTickBehavior::kSkip));
  fire_due(timeline, at(0ms));
  timeline.pause();
  timeline.reset(at(5ms));
  EXPECT_EQ(timeline.next_deadline(), std::nullopt);
  timeline.resume(at(8ms));
  EXPECT_EQ(timeline.next_deadline(), at(15ms));
  EXPECT_EQ(timeline.ticks_missed(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Counting and validation

TEST(IntervalTimeline, MissedCountsGoToTheNextTickThatFires) {
  IntervalOptions options = every_10ms(MissedTickBehavior::kSkip);
  options.catchup_window = 20ms;
  IntervalTimeline timeline(options);
  run_on_time(timeline, at(10ms));
  EXPECT_EQ(timeline.fire(at(47ms)), std::nullopt);  // 20 (window), 30, 40 (skip): 3 missed
  timeline.pause();
  timeline.resume(at(65ms));  // 50 and 60: 2 missed while paused
  EXPECT_EQ(timeline.fire(at(70ms)), (FiredTick{3, at(70ms), 5}));
  EXPECT_EQ(timeline.fire(at(80ms)), (FiredTick{4, at(80ms), 0}));
  EXPECT_EQ(timeline.ticks_missed(), 5u);
}

TEST(IntervalTimeline, ConstructorRefusesOptionsThatBreakTheirRules) {
  auto with = [](auto change) {
    IntervalOptions options = every_10ms(MissedTickBehavior::kSkip);
    change(options);
    return options;
  };
  EXPECT_THROW(IntervalTimeline{with([](auto& o) { o.period = 0ms; })}, std::invalid_argument);
  EXPECT_THROW(IntervalTimeline{with([](auto& o) { o.period = -1ms; })}, std::invalid_argument);
  EXPECT_THROW(IntervalTimeline{with([](auto& o) { o.catchup_window = 0ms; })},
               std::invalid_argument);
  EXPECT_THROW(IntervalTimeline{with([](auto& o) { o.catchup_window = -1ms; })},
               std::invalid_argument);
  EXPECT_THROW(IntervalTimeline{with([](auto& o) { o.max_ticks = 0; })}, std::invalid_argument);
  EXPECT_THROW(IntervalTimeline{with([](auto& o) { o.leeway = -1ns; })}, std::invalid_argument);
  EXPECT_NO_THROW(IntervalTimeline{with([](auto& o) { o.leeway = 0ms; })});
  EXPECT_NO_THROW(IntervalTimeline{with([](auto& o) { o.period = 1ns; })});
}

}  // namespace
}  // namespace orch::schedules
