#include "orch/schedules/schedule_registry.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

#include "orch/metrics/metrics.h"

namespace orch::schedules {

namespace asio = boost::asio;
using engine::Clock;
using engine::ErrorCode;
using engine::make_error;
using engine::Result;
using engine::TimePoint;

// A schedule is an entry of the registry's TickHub: the hub wakes it when its next tick is due,
// together with every other schedule due at that moment.
struct ScheduleRegistry::Schedule final : TickHub::Entry,
                                          std::enable_shared_from_this<ScheduleRegistry::Schedule> {
  Schedule(asio::any_io_executor executor, engine::Engine& engine_ref, std::string tenant_name,
           ScheduleSpec schedule_spec)
      : tenant(std::move(tenant_name)),
        spec(std::move(schedule_spec)),
        engine(engine_ref),
        strand(asio::make_strand(executor)),
        timeline(spec.timing),
        gate(spec.overlap),
        created(Clock::now()) {}

  std::optional<TimePoint> on_due(TimePoint now) override;

  const std::string tenant;
  const ScheduleSpec spec;
  engine::Engine& engine;
  asio::strand<asio::any_io_executor> strand;  // the task watchers

  std::mutex mutex;  // guards everything below
  IntervalTimeline timeline;
  OverlapGate gate;
  TimePoint created;
  bool deleted = false;
  std::uint64_t spawned = 0;
  std::uint64_t rejected = 0;
  std::string last_error;
  std::string last_task_id;
  std::set<std::string> running;
  std::uint64_t buffered_tick = 0;  // the tick the gate holds, when it holds one
  // The schedule's series; reset when it is deleted, before its name can be used again.
  std::unique_ptr<metrics::ScheduleMetrics> metrics;
  std::uint64_t missed_exported = 0;  // the timeline's missed ticks already counted in `metrics`
};

namespace {

using Schedule = ScheduleRegistry::Schedule;

// Adds the ticks the timeline missed since the last call to the schedule's counter.
void export_missed_locked(Schedule& s) {
  const std::uint64_t missed = s.timeline.ticks_missed();
  if (s.metrics && missed > s.missed_exported) {
    s.metrics->missed.Increment(static_cast<double>(missed - s.missed_exported));
  }
  s.missed_exported = missed;
}

ScheduleSnapshot snapshot_locked(const Schedule& s) {
  ScheduleSnapshot out;
  out.name = s.spec.name;
  switch (s.timeline.state()) {
    case IntervalTimeline::State::kActive:
      out.state = ScheduleSnapshot::State::kActive;
      break;
    case IntervalTimeline::State::kPaused:
      out.state = ScheduleSnapshot::State::kPaused;
      break;
    case IntervalTimeline::State::kFinished:
      out.state = ScheduleSnapshot::State::kFinished;
      break;
  }
  out.period = s.spec.timing.period;
  out.missed_tick_behavior = s.spec.timing.missed_tick_behavior;
  out.overlap = s.spec.overlap;
  out.max_ticks = s.spec.max_ticks;
  out.catchup_window = s.spec.timing.catchup_window;
  out.task_template = s.spec.task_template;
  out.task_labels = s.spec.task_labels;
  out.start_at = s.spec.timing.start;
  out.created = s.created;
  out.next_tick_at = s.timeline.next_deadline();
  out.last_tick_at = s.timeline.last_fired_at();
  out.ticks_fired = s.spawned;
  out.ticks_missed = s.timeline.ticks_missed();
  out.ticks_skipped = s.gate.ticks_skipped();
  out.ticks_rejected = s.rejected;
  out.last_error = s.last_error;
  out.last_task_id = s.last_task_id;
  out.running_tasks = s.running.size();
  out.tick_buffered = s.gate.has_buffered();
  return out;
}

void log_failure(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("schedule {} failed: {}", what, ex.what());
  }
}

void spawn_tick_locked(const std::shared_ptr<Schedule>& s, engine::Engine& engine,
                       std::uint64_t tick);

// Waits for one spawned task to end, then tells the gate (which may release a held tick).
asio::awaitable<void> watch_task(std::shared_ptr<Schedule> s, engine::Engine& engine,
                                 std::string id) {
  co_await asio::this_coro::throw_if_cancelled(false);
  std::vector<std::string> ids{id};
  co_await engine.join(s->tenant, std::move(ids), engine::JoinOptions{});
  std::lock_guard lock(s->mutex);
  s->running.erase(id);
  if (s->deleted) co_return;
  if (s->gate.on_task_finished() == FinishAction::kSpawnBuffered) {
    spawn_tick_locked(s, engine, s->buffered_tick);
  }
}

// Spawns the task of `tick`; the gate already counts it as running.
void spawn_tick_locked(const std::shared_ptr<Schedule>& s, engine::Engine& engine,
                       std::uint64_t tick) {
  if (s->timeline.state() == IntervalTimeline::State::kFinished) {
    // max_ticks was reached while this tick was held: it spawns nothing.
    s->gate.on_task_finished();
    return;
  }
  engine::Labels labels = s->spec.task_labels;
  labels["schedule"] = s->spec.name;
  labels["tick"] = std::to_string(tick);
  auto outcome = engine.spawn(
      s->tenant, engine::SpawnArgs{s->spec.task_template, s->spec.name, std::move(labels), {}});
  if (!outcome) {
    ++s->rejected;
    s->last_error = outcome.error().message;
    // A refused spawn is a task that ended at once (OverlapGate's contract).
    if (s->gate.on_task_finished() == FinishAction::kSpawnBuffered) {
      spawn_tick_locked(s, engine, s->buffered_tick);
    }
    return;
  }
  ++s->spawned;
  if (s->metrics) s->metrics->fired.Increment();
  s->last_task_id = outcome->id;
  s->running.insert(outcome->id);
  if (s->spec.max_ticks && s->spawned >= *s->spec.max_ticks) s->timeline.finish();
  asio::co_spawn(s->strand, watch_task(s, engine, outcome->id),
                 [](std::exception_ptr e) { log_failure("task watch", e); });
}

// A tick fired: do what the overlap gate says.
void on_tick_locked(const std::shared_ptr<Schedule>& s, engine::Engine& engine,
                    std::uint64_t tick) {
  const std::uint64_t skipped_before = s->gate.ticks_skipped();
  const TickAction action = s->gate.on_tick();
  if (s->metrics) {
    s->metrics->skipped.Increment(static_cast<double>(s->gate.ticks_skipped() - skipped_before));
  }
  switch (action) {
    case TickAction::kSpawn:
      spawn_tick_locked(s, engine, tick);
      break;
    case TickAction::kSkip:
      break;
    case TickAction::kBuffer:
    case TickAction::kReplaceBuffered:
      s->buffered_tick = tick;
      break;
    case TickAction::kCancelRunningAndBuffer: {
      s->buffered_tick = tick;
      std::vector<std::string> ids(s->running.begin(), s->running.end());
      if (auto aborted = engine.abort(s->tenant, ids); !aborted) {
        spdlog::warn("schedule {}: abort of the previous tasks failed: {}", s->spec.name,
                     aborted.error().message);
      }
      break;
    }
  }
}

std::shared_ptr<Schedule> find_locked(
    const std::map<std::string, std::map<std::string, std::shared_ptr<Schedule>>>& all,
    const std::string& tenant, const std::string& name) {
  auto t = all.find(tenant);
  if (t == all.end()) return nullptr;
  auto s = t->second.find(name);
  return s == t->second.end() ? nullptr : s->second;
}

engine::Error not_found(const std::string& name) {
  return make_error(ErrorCode::kNotFound, "schedule \"" + name + "\" not found");
}

}  // namespace

// The hub woke the schedule: fire what is due (BURST may have several ticks due at once).
std::optional<TimePoint> ScheduleRegistry::Schedule::on_due(TimePoint now) {
  std::lock_guard lock(mutex);
  if (deleted) return std::nullopt;
  const auto self = shared_from_this();
  while (auto tick = timeline.fire(now)) {
    if (metrics) {
      metrics->lateness.Observe(std::chrono::duration<double>(now - tick->scheduled).count());
    }
    on_tick_locked(self, engine, tick->tick_number);
    const auto next = timeline.next_deadline();
    if (!next || *next > now) break;
  }
  export_missed_locked(*this);
  // Paused or finished: nothing until resume() arms it again.
  return timeline.next_deadline();
}

ScheduleRegistry::ScheduleRegistry(asio::any_io_executor executor, engine::Engine& engine,
                                   metrics::Metrics* metrics)
    : executor_(std::move(executor)), engine_(engine), metrics_(metrics), hub_(executor_) {}

ScheduleRegistry::~ScheduleRegistry() { stop(); }

Result<ScheduleSnapshot> ScheduleRegistry::create(const std::string& tenant, ScheduleSpec spec,
                                                  std::uint32_t max_schedules) {
  if (spec.timing.max_ticks) {
    return make_error(ErrorCode::kInternal, "schedule timing must not carry max_ticks");
  }
  std::shared_ptr<Schedule> s;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return make_error(ErrorCode::kUnavailable, "the daemon is shutting down");
    auto& names = schedules_[tenant];
    if (names.contains(spec.name)) {
      return make_error(ErrorCode::kAlreadyExists,
                        "name: a schedule \"" + spec.name + "\" already exists");
    }
    if (names.size() >= max_schedules) {
      return make_error(ErrorCode::kResourceExhausted,
                        "tenant " + tenant + " has " + std::to_string(names.size()) +
                            " schedules (max_schedules=" + std::to_string(max_schedules) + ")");
    }
    s = std::make_shared<Schedule>(executor_, engine_, tenant, std::move(spec));
    if (metrics_) s->metrics = metrics_->add_schedule(tenant, s->spec.name);
    names.emplace(s->spec.name, s);
  }
  std::lock_guard lock(s->mutex);
  if (const auto deadline = s->timeline.next_deadline()) hub_.arm(s, *deadline);
  return snapshot_locked(*s);
}

Result<ScheduleSnapshot> ScheduleRegistry::get(const std::string& tenant,
                                               const std::string& name) const {
  std::shared_ptr<Schedule> s;
  {
    std::lock_guard lock(mutex_);
    s = find_locked(schedules_, tenant, name);
  }
  if (!s) return not_found(name);
  std::lock_guard lock(s->mutex);
  return snapshot_locked(*s);
}

std::vector<ScheduleSnapshot> ScheduleRegistry::list(const std::string& tenant) const {
  std::vector<std::shared_ptr<Schedule>> found;
  {
    std::lock_guard lock(mutex_);
    if (auto t = schedules_.find(tenant); t != schedules_.end()) {
      for (const auto& [name, s] : t->second) found.push_back(s);
    }
  }
  std::vector<ScheduleSnapshot> out;
  out.reserve(found.size());
  for (const auto& s : found) {
    std::lock_guard lock(s->mutex);
    out.push_back(snapshot_locked(*s));
  }
  return out;
}

Result<ScheduleSnapshot> ScheduleRegistry::pause(const std::string& tenant,
                                                 const std::string& name) {
  std::shared_ptr<Schedule> s;
  {
    std::lock_guard lock(mutex_);
    s = find_locked(schedules_, tenant, name);
  }
  if (!s) return not_found(name);
  std::lock_guard lock(s->mutex);
  if (s->timeline.state() == IntervalTimeline::State::kFinished) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "schedule \"" + name + "\" is finished: it cannot be paused");
  }
  s->timeline.pause();
  hub_.disarm(*s);
  return snapshot_locked(*s);
}

Result<ScheduleSnapshot> ScheduleRegistry::resume(const std::string& tenant,
                                                  const std::string& name, bool reset) {
  std::shared_ptr<Schedule> s;
  {
    std::lock_guard lock(mutex_);
    s = find_locked(schedules_, tenant, name);
  }
  if (!s) return not_found(name);
  std::lock_guard lock(s->mutex);
  if (s->timeline.state() == IntervalTimeline::State::kFinished) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "schedule \"" + name + "\" is finished: it cannot be resumed");
  }
  const TimePoint now = Clock::now();
  s->timeline.resume(now);
  if (reset) s->timeline.reset(now);
  export_missed_locked(*s);
  // Resumed, or reset to one period from now: the hub wakes it then (a wake-up still armed for
  // an earlier instant finds nothing due and arms the new deadline).
  if (const auto deadline = s->timeline.next_deadline()) hub_.arm(s, *deadline);
  return snapshot_locked(*s);
}

Result<std::vector<std::string>> ScheduleRegistry::remove(const std::string& tenant,
                                                          const std::string& name,
                                                          bool abort_running) {
  std::vector<std::string> running;
  {
    // Both locks (registry, then schedule): once the name is free again, the old schedule's
    // series are gone, so a new schedule of that name starts its own.
    std::lock_guard lock(mutex_);
    std::shared_ptr<Schedule> s = find_locked(schedules_, tenant, name);
    if (!s) return not_found(name);
    schedules_[tenant].erase(name);
    std::lock_guard schedule_lock(s->mutex);
    s->deleted = true;
    s->metrics.reset();
    s->gate.drop_buffered();
    running.assign(s->running.begin(), s->running.end());
    hub_.disarm(*s);
  }
  if (!abort_running || running.empty()) return std::vector<std::string>{};
  return engine_.abort(tenant, running);
}

void ScheduleRegistry::stop() {
  std::map<std::string, std::map<std::string, std::shared_ptr<Schedule>>> all;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    all.swap(schedules_);
  }
  for (auto& [tenant, names] : all) {
    for (auto& [name, s] : names) {
      std::lock_guard lock(s->mutex);
      s->deleted = true;
      s->metrics.reset();
    }
  }
  hub_.stop();
}

}  // namespace orch::schedules
