#pragma once
/// What a fired tick does when a task spawned by an earlier tick of the same schedule is not
/// terminal yet (the API's OverlapPolicy): a small state machine that turns two events, "a tick
/// fired" and "one of our tasks ended", into what the driver must do.
///
/// The gate holds no task ids and no ticks: it counts the schedule's running tasks and knows
/// whether one fired tick is held back (BUFFER_ONE, CANCEL_PREVIOUS). The driver keeps the held
/// tick, spawns, aborts, and reports every end with on_task_finished().
///
/// One picture for every policy: ticks t1..t4 one period apart; task 1 (spawned by t1) would
/// run until `|`, between t3 and t4; tasks spawned later are short.
///
///   time              t1 ------- t2 ------- t3 ---- | ---- t4 ------->
///   ALLOW             [task 1 ......................]
///                                [task 2]   [task 3]     [task 4]       runs side by side
///   SKIP              [task 1 ......................]    [task 4]       t2, t3 skipped
///   BUFFER_ONE        [task 1 ......................][task 2]  [task 4]  t2 held, t3 skipped
///   CANCEL_PREVIOUS   [task 1 ..]x[task 2]  [task 3]     [task 4]       t2 aborts task 1, then
///                                                                       spawns once it ended
///
/// Thread-safety: not thread-safe; one owner (the schedule's strand) makes every call.

#include <cstdint>

namespace orch::schedules {

/// The API's OverlapPolicy. The API's default is kSkip.
enum class OverlapPolicy {
  /// Spawn anyway: tasks of several ticks may run at the same time.
  kAllow,
  /// Spawn nothing for a tick that fires while a task runs (counted as skipped).
  kSkip,
  /// Hold the tick and spawn it when the running task ends. At most one tick is held: a tick
  /// that fires while one is held spawns nothing (counted as skipped); the held one stays, so
  /// the tick that spawns is the oldest one waiting (the API: "at most one tick is remembered:
  /// further ticks while one waits spawn nothing").
  kBufferOne,
  /// Abort the running task(s), hold the tick, spawn it once they have ended, so the old and
  /// the new task never run at the same time. A tick that fires while one is held replaces it
  /// (the newest tick wins, in the spirit of the policy); the replaced tick spawns nothing
  /// (counted as skipped). The running tasks were already told to stop: no second abort.
  kCancelPrevious,
};

/// What the driver does with a tick that fired.
enum class TickAction {
  /// Spawn this tick's task now.
  kSpawn,
  /// Spawn nothing for this tick; it counts in ticks_skipped().
  kSkip,
  /// Hold this tick; on_task_finished() says when to spawn it.
  kBuffer,
  /// Abort every running task of the schedule and hold this tick, as kBuffer.
  kCancelRunningAndBuffer,
  /// Hold this tick in place of the held one, which spawns nothing (it counts in
  /// ticks_skipped()).
  kReplaceBuffered,
};

/// What the driver does after one of the schedule's tasks ended.
enum class FinishAction {
  kNone,
  /// Spawn the held tick's task now (it counts as running already).
  kSpawnBuffered,
};

class OverlapGate {
 public:
  explicit OverlapGate(OverlapPolicy policy) : policy_(policy) {}

  /// A tick fired. A kSpawn counts as a running task from now on.
  TickAction on_tick();

  /// One task that the gate let spawn ended (any terminal state). A spawn that was refused
  /// (say, the tenant's queue was full) is reported here too, as a task that ended at once.
  /// Throws std::logic_error when no task is running: the driver lost count.
  FinishAction on_task_finished();

  /// Forgets the held tick, if any (counted as skipped); returns whether there was one. For a
  /// schedule that is deleted while a tick waits.
  bool drop_buffered();

  OverlapPolicy policy() const { return policy_; }
  /// Tasks spawned through the gate that have not ended.
  std::uint64_t running() const { return running_; }
  /// True while a tick is held (the API's `tick_buffered`).
  bool has_buffered() const { return buffered_; }
  /// Ticks that fired but spawned nothing because of the policy (the API's `ticks_skipped`).
  std::uint64_t ticks_skipped() const { return ticks_skipped_; }

 private:
  OverlapPolicy policy_;
  std::uint64_t running_ = 0;
  // Invariant: a tick is held only while a task runs (the last end spawns it).
  bool buffered_ = false;
  std::uint64_t ticks_skipped_ = 0;
};

}  // namespace orch::schedules
