#include "orch/schedules/overlap_gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <vector>

#include "orch/schedules/interval_timeline.h"

namespace orch::schedules {
namespace {

using namespace std::chrono_literals;
using engine::TimePoint;

constexpr OverlapPolicy kEveryPolicy[] = {OverlapPolicy::kAllow, OverlapPolicy::kSkip,
                                          OverlapPolicy::kBufferOne,
                                          OverlapPolicy::kCancelPrevious};

// ---------------------------------------------------------------------------------------------
// The state machine, event by event

TEST(OverlapGate, EveryPolicySpawnsWhenNothingRuns) {
  for (auto policy : kEveryPolicy) {
    OverlapGate gate(policy);
    EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
    EXPECT_EQ(gate.running(), 1u);
    EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
    EXPECT_EQ(gate.running(), 0u);
    EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
    EXPECT_EQ(gate.ticks_skipped(), 0u);
    EXPECT_FALSE(gate.has_buffered());
  }
}

TEST(OverlapGate, AllowSpawnsWhileEarlierTasksRun) {
  OverlapGate gate(OverlapPolicy::kAllow);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.running(), 3u);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_EQ(gate.ticks_skipped(), 0u);
}

TEST(OverlapGate, SkipSpawnsNothingWhileATaskRuns) {
  OverlapGate gate(OverlapPolicy::kSkip);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kSkip);
  EXPECT_EQ(gate.on_tick(), TickAction::kSkip);
  EXPECT_EQ(gate.ticks_skipped(), 2u);
  EXPECT_FALSE(gate.has_buffered());
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.ticks_skipped(), 2u);
}

TEST(OverlapGate, BufferOneHoldsTheFirstTickAndSkipsFurtherOnes) {
  OverlapGate gate(OverlapPolicy::kBufferOne);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kBuffer);
  EXPECT_TRUE(gate.has_buffered());
  EXPECT_EQ(gate.on_tick(), TickAction::kSkip);
  EXPECT_EQ(gate.on_tick(), TickAction::kSkip);
  EXPECT_EQ(gate.ticks_skipped(), 2u);
  EXPECT_TRUE(gate.has_buffered());
  // The running task ends: the held tick spawns and runs in its place.
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kSpawnBuffered);
  EXPECT_FALSE(gate.has_buffered());
  EXPECT_EQ(gate.running(), 1u);
  EXPECT_EQ(gate.on_tick(), TickAction::kBuffer);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kSpawnBuffered);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_EQ(gate.ticks_skipped(), 2u);
}

TEST(OverlapGate, CancelPreviousAbortsTheRunningTaskAndSpawnsOnceItEnded) {
  OverlapGate gate(OverlapPolicy::kCancelPrevious);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kCancelRunningAndBuffer);
  EXPECT_TRUE(gate.has_buffered());
  EXPECT_EQ(gate.running(), 1u);  // the aborted task is running until it has ended
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kSpawnBuffered);
  EXPECT_EQ(gate.running(), 1u);
  EXPECT_FALSE(gate.has_buffered());
  EXPECT_EQ(gate.ticks_skipped(), 0u);
}

TEST(OverlapGate, CancelPreviousLetsTheNewestWaitingTickWin) {
  OverlapGate gate(OverlapPolicy::kCancelPrevious);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kCancelRunningAndBuffer);
  // The aborted task is slow to end: later ticks replace the held one, no second abort.
  EXPECT_EQ(gate.on_tick(), TickAction::kReplaceBuffered);
  EXPECT_EQ(gate.on_tick(), TickAction::kReplaceBuffered);
  EXPECT_EQ(gate.ticks_skipped(), 2u);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kSpawnBuffered);
  EXPECT_EQ(gate.on_tick(), TickAction::kCancelRunningAndBuffer);
}

TEST(OverlapGate, ARefusedSpawnCountsAsATaskThatEndedAtOnce) {
  OverlapGate gate(OverlapPolicy::kBufferOne);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kBuffer);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kSpawnBuffered);
  // The tenant refused that spawn: the driver reports it as ended, and the gate is idle.
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
}

TEST(OverlapGate, AnEndWithNothingRunningIsALogicError) {
  for (auto policy : kEveryPolicy) {
    OverlapGate gate(policy);
    EXPECT_THROW(gate.on_task_finished(), std::logic_error);
    EXPECT_EQ(gate.running(), 0u);
  }
}

TEST(OverlapGate, DropBufferedForgetsTheHeldTickAndCountsItAsSkipped) {
  OverlapGate gate(OverlapPolicy::kBufferOne);
  EXPECT_FALSE(gate.drop_buffered());
  EXPECT_EQ(gate.on_tick(), TickAction::kSpawn);
  EXPECT_EQ(gate.on_tick(), TickAction::kBuffer);
  EXPECT_TRUE(gate.drop_buffered());
  EXPECT_FALSE(gate.has_buffered());
  EXPECT_EQ(gate.ticks_skipped(), 1u);
  EXPECT_EQ(gate.on_task_finished(), FinishAction::kNone);
  EXPECT_FALSE(gate.drop_buffered());
}

// ---------------------------------------------------------------------------------------------
// The header's picture, against a manual clock: ticks due at 0, 10, 20, 30 (period 10, four
// ticks); task 1 would run until 25, every later task runs 3 ms; an aborted task ends 1 ms
// after the abort.

struct Spawn {
  std::uint64_t tick;
  Duration at;
  friend bool operator==(const Spawn&, const Spawn&) = default;
  friend std::ostream& operator<<(std::ostream& out, const Spawn& s) {
    return out << "{tick " << s.tick << " at " << s.at.count() << "ns}";
  }
};

struct PictureRun {
  std::vector<Spawn> spawns;
  std::vector<Duration> aborts;
  std::uint64_t skipped = 0;
};

PictureRun run_picture(OverlapPolicy policy) {
  IntervalTimeline timeline({.start = TimePoint(0ms), .period = 10ms, .max_ticks = 4});
  OverlapGate gate(policy);
  PictureRun run;
  std::map<std::uint64_t, TimePoint> ends;  // running task (by tick number) -> when it ends
  std::optional<std::uint64_t> held;

  auto spawn = [&](std::uint64_t tick, TimePoint now) {
    run.spawns.push_back({tick, now.time_since_epoch()});
    ends[tick] = now + (tick == 1 ? 25ms : 3ms);
  };
  for (TimePoint now = TimePoint(0ms); now <= TimePoint(60ms); now += 1ms) {
    // Tasks that end now, first: a tick at the same instant finds them ended.
    std::vector<std::uint64_t> ended;
    for (const auto& [tick, end] : ends) {
      if (end <= now) ended.push_back(tick);
    }
    for (auto tick : ended) {
      ends.erase(tick);
      if (gate.on_task_finished() == FinishAction::kSpawnBuffered) {
        spawn(*held, now);
        held.reset();
      }
    }
    while (auto deadline = timeline.next_deadline()) {
      if (*deadline > now) break;
      const auto fired = timeline.fire(now);
      if (!fired) continue;
      switch (gate.on_tick()) {
        case TickAction::kSpawn:
          spawn(fired->tick_number, now);
          break;
        case TickAction::kSkip:
          break;
        case TickAction::kCancelRunningAndBuffer:
          run.aborts.push_back(now.time_since_epoch());
          for (auto& [tick, end] : ends) end = std::min(end, now + 1ms);
          [[fallthrough]];
        case TickAction::kBuffer:
        case TickAction::kReplaceBuffered:
          held = fired->tick_number;
          break;
      }
    }
  }
  run.skipped = gate.ticks_skipped();
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_FALSE(gate.has_buffered());
  return run;
}

TEST(OverlapGate, AllowRunsTheTasksOfSeveralTicksSideBySide) {
  const auto run = run_picture(OverlapPolicy::kAllow);
  EXPECT_EQ(run.spawns, (std::vector<Spawn>{{1, 0ms}, {2, 10ms}, {3, 20ms}, {4, 30ms}}));
  EXPECT_EQ(run.skipped, 0u);
  EXPECT_TRUE(run.aborts.empty());
}

TEST(OverlapGate, SkipDropsTheTicksThatFireWhileTheTaskRuns) {
  const auto run = run_picture(OverlapPolicy::kSkip);
  EXPECT_EQ(run.spawns, (std::vector<Spawn>{{1, 0ms}, {4, 30ms}}));
  EXPECT_EQ(run.skipped, 2u);
}

TEST(OverlapGate, BufferOneSpawnsTheHeldTickWhenTheTaskEnds) {
  const auto run = run_picture(OverlapPolicy::kBufferOne);
  // t2 is held until task 1 ends at 25; t3 finds t2 held and is skipped.
  EXPECT_EQ(run.spawns, (std::vector<Spawn>{{1, 0ms}, {2, 25ms}, {4, 30ms}}));
  EXPECT_EQ(run.skipped, 1u);
}

TEST(OverlapGate, CancelPreviousNeverRunsTheOldAndTheNewTaskTogether) {
  const auto run = run_picture(OverlapPolicy::kCancelPrevious);
  // t2 aborts task 1, which ends at 11; then task 2 spawns. Later tasks end before the next tick.
  EXPECT_EQ(run.spawns, (std::vector<Spawn>{{1, 0ms}, {2, 11ms}, {3, 20ms}, {4, 30ms}}));
  EXPECT_EQ(run.aborts, (std::vector<Duration>{10ms}));
  EXPECT_EQ(run.skipped, 0u);
}

}  // namespace
}  // namespace orch::schedules
