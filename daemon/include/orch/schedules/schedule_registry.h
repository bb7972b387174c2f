#pragma once
/// ScheduleRegistry: the tenants' interval schedules. Each schedule is an IntervalTimeline; one
/// TickHub (one timer) wakes every schedule whose tick is due, all those due at one instant
/// from one wake-up, with no timer or coroutine per schedule. Each tick that fires goes through
/// the schedule's OverlapGate and, when the gate says so, spawns the schedule's template through
/// the engine under the tenant (labels `schedule=<name>`, `tick=<n>` and the schedule's task
/// labels).
///
/// Protobuf-free: the RPC layer converts requests to ScheduleSpec and snapshots to ScheduleInfo.
///
/// Thread-safety: every public member may be called from any thread. One short mutex guards
/// every schedule's state and is never held across a co_await; the hub fires one schedule at a
/// time.
///
/// Cancellation and lifetime: stop() (and the destructor) ends every driver and forgets every
/// schedule; tasks already spawned belong to the engine and keep running. The engine and the
/// executor must outlive the registry's drivers: call stop() before the engine drains.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orch/engine/engine.h"
#include "orch/schedules/interval_timeline.h"
#include "orch/schedules/overlap_gate.h"
#include "orch/schedules/tick_hub.h"

namespace orch::metrics {
class Metrics;
}

namespace orch::schedules {

/// What CreateInterval asks for, validated.
struct ScheduleSpec {
  std::string name;
  /// Timing; its max_ticks must be nullopt (the registry counts ticks that spawned a task).
  IntervalOptions timing;
  std::optional<std::uint64_t> max_ticks;
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  engine::Node task_template;
  engine::Labels task_labels;
};

/// A consistent copy of one schedule.
struct ScheduleSnapshot {
  enum class State { kActive, kPaused, kFinished };

  std::string name;
  State state = State::kActive;
  Duration period{};
  MissedTickBehavior missed_tick_behavior = MissedTickBehavior::kSkip;
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  std::optional<std::uint64_t> max_ticks;
  std::optional<Duration> catchup_window;
  engine::Node task_template;
  engine::Labels task_labels;
  engine::TimePoint start_at{};
  engine::TimePoint created{};
  std::optional<engine::TimePoint> next_tick_at;
  std::optional<engine::TimePoint> last_tick_at;
  /// Ticks that spawned a task.
  std::uint64_t ticks_fired = 0;
  std::uint64_t ticks_missed = 0;
  std::uint64_t ticks_skipped = 0;
  std::uint64_t ticks_rejected = 0;
  std::string last_error;
  std::string last_task_id;
  std::uint64_t running_tasks = 0;
  bool tick_buffered = false;
};

class ScheduleRegistry {
 public:
  /// With `metrics`, every schedule exports its ticks fired, missed and skipped and its tick
  /// lateness (see metrics::ScheduleMetrics) while it exists.
  ScheduleRegistry(boost::asio::any_io_executor executor, engine::Engine& engine,
                   metrics::Metrics* metrics = nullptr);
  ~ScheduleRegistry();
  ScheduleRegistry(const ScheduleRegistry&) = delete;
  ScheduleRegistry& operator=(const ScheduleRegistry&) = delete;

  /// ALREADY_EXISTS when the tenant has a schedule of that name; RESOURCE_EXHAUSTED when it has
  /// `max_schedules` already; UNAVAILABLE after stop().
  engine::Result<ScheduleSnapshot> create(const std::string& tenant, ScheduleSpec spec,
                                          std::uint32_t max_schedules);
  /// NOT_FOUND for an unknown name (also another tenant's).
  engine::Result<ScheduleSnapshot> get(const std::string& tenant, const std::string& name) const;
  /// The tenant's schedules by name.
  std::vector<ScheduleSnapshot> list(const std::string& tenant) const;
  /// FAILED_PRECONDITION when finished; a paused schedule stays paused.
  engine::Result<ScheduleSnapshot> pause(const std::string& tenant, const std::string& name);
  /// FAILED_PRECONDITION when finished; `reset` restarts the timeline one period from now.
  engine::Result<ScheduleSnapshot> resume(const std::string& tenant, const std::string& name,
                                          bool reset);
  /// Removes the schedule; with `abort_running`, aborts its tasks still running and returns
  /// their ids.
  engine::Result<std::vector<std::string>> remove(const std::string& tenant,
                                                  const std::string& name, bool abort_running);
  /// Ends every driver; later creates are UNAVAILABLE.
  void stop();

  struct Schedule;

 private:
  boost::asio::any_io_executor executor_;
  engine::Engine& engine_;
  metrics::Metrics* metrics_;
  mutable std::mutex mutex_;
  bool stopped_ = false;
  // tenant -> name -> schedule
  std::map<std::string, std::map<std::string, std::shared_ptr<Schedule>>> schedules_;
  TickHub hub_;  // after executor_: built from it
};

}  // namespace orch::schedules
