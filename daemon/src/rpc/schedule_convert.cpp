#include "orch/rpc/schedule_convert.h"

#include <google/protobuf/util/time_util.h>

#include "orch/common/duration.h"

namespace orch::rpc {
namespace {

using engine::Error;
using engine::ErrorCode;
using engine::Result;
using google::protobuf::util::TimeUtil;

Error invalid(std::string_view path, std::string_view reason) {
  return engine::make_error(ErrorCode::kInvalidArgument,
                            std::string(path) + ": " + std::string(reason));
}

std::string at_most(Duration max) {
  return "must be at most " + format_duration(max) + " (limits.max_duration)";
}

// A proto Duration as a non-negative duration of at most `max`.
Result<Duration> duration_from_proto(const google::protobuf::Duration& d, std::string_view path,
                                     Duration max) {
  if (d.nanos() <= -1'000'000'000 || d.nanos() >= 1'000'000'000 ||
      (d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return invalid(path, "not a valid duration");
  }
  if (d.seconds() < 0 || d.nanos() < 0) return invalid(path, "must not be negative");
  if (d.seconds() > std::chrono::duration_cast<std::chrono::seconds>(max).count())
    return invalid(path, at_most(max));
  const Duration value = std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos());
  if (value > max) return invalid(path, at_most(max));
  return value;
}

google::protobuf::Timestamp timestamp_of(engine::TimePoint t) {
  const auto wall = engine::Clock::to_system(t);
  return TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count());
}

// The first tick's instant from a request's `start` oneof (start_at or delay; neither: now).
template <typename Request>
Result<engine::TimePoint> start_from_proto(const Request& request, const config::Limits& limits,
                                           engine::TimePoint now) {
  if (request.has_start_at()) {
    const auto& ts = request.start_at();
    if (ts.seconds() < TimeUtil::kTimestampMinSeconds ||
        ts.seconds() > TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 ||
        ts.nanos() >= 1'000'000'000)
      return invalid("start_at", "not a valid timestamp");
    // Compare in whole seconds first, so a far-away instant cannot overflow nanoseconds.
    const auto wall_now = engine::Clock::to_system(now);
    const auto now_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(wall_now.time_since_epoch()).count();
    const auto max_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(limits.max_duration).count();
    if (ts.seconds() - now_seconds > max_seconds || now_seconds - ts.seconds() > max_seconds) {
      return invalid("start_at", "must be within " + format_duration(limits.max_duration) +
                                     " of now (limits.max_duration)");
    }
    const Duration offset = std::chrono::nanoseconds(TimeUtil::TimestampToNanoseconds(ts)) -
                            std::chrono::duration_cast<Duration>(wall_now.time_since_epoch());
    return now + offset;
  }
  if (request.has_delay()) {
    auto delay = duration_from_proto(request.delay(), "delay", limits.max_duration);
    if (!delay) return delay.error();
    return now + *delay;
  }
  return now;
}

}  // namespace

Result<schedules::MissedTickBehavior> missed_tick_behavior_from_proto(int value,
                                                                      std::string_view path) {
  switch (value) {
    case v1::MISSED_TICK_BEHAVIOR_UNSPECIFIED:
    case v1::MISSED_TICK_BEHAVIOR_SKIP:
      return schedules::MissedTickBehavior::kSkip;
    case v1::MISSED_TICK_BEHAVIOR_BURST:
      return schedules::MissedTickBehavior::kBurst;
    case v1::MISSED_TICK_BEHAVIOR_DELAY:
      return schedules::MissedTickBehavior::kDelay;
    default:
      return invalid(path,
                     "unknown value " + std::to_string(value) + " (use SKIP, BURST or DELAY)");
  }
}

Result<schedules::IntervalOptions> ticks_options_from_proto(const v1::TicksRequest& request,
                                                            const config::Limits& limits,
                                                            engine::TimePoint now) {
  schedules::IntervalOptions options;
  if (!request.has_period()) return invalid("period", "required");
  auto period = duration_from_proto(request.period(), "period", limits.max_duration);
  if (!period) return period.error();
  if (*period == Duration::zero()) return invalid("period", "must be positive");
  options.period = *period;

  auto behavior =
      missed_tick_behavior_from_proto(request.missed_tick_behavior(), "missed_tick_behavior");
  if (!behavior) return behavior.error();
  options.missed_tick_behavior = *behavior;

  auto start = start_from_proto(request, limits, now);
  if (!start) return start.error();
  options.start = *start;
  if (request.count() > 0) options.max_ticks = request.count();
  return options;
}

namespace {

Result<schedules::OverlapPolicy> overlap_from_proto(int value) {
  switch (value) {
    case v1::OVERLAP_POLICY_UNSPECIFIED:
    case v1::OVERLAP_POLICY_SKIP:
      return schedules::OverlapPolicy::kSkip;
    case v1::OVERLAP_POLICY_ALLOW:
      return schedules::OverlapPolicy::kAllow;
    case v1::OVERLAP_POLICY_BUFFER_ONE:
      return schedules::OverlapPolicy::kBufferOne;
    case v1::OVERLAP_POLICY_CANCEL_PREVIOUS:
      return schedules::OverlapPolicy::kCancelPrevious;
    default:
      return invalid("overlap_policy", "unknown value " + std::to_string(value) +
                                           " (use SKIP, ALLOW, BUFFER_ONE or CANCEL_PREVIOUS)");
  }
}

v1::MissedTickBehavior missed_tick_behavior_to_proto(schedules::MissedTickBehavior b) {
  switch (b) {
    case schedules::MissedTickBehavior::kBurst:
      return v1::MISSED_TICK_BEHAVIOR_BURST;
    case schedules::MissedTickBehavior::kDelay:
      return v1::MISSED_TICK_BEHAVIOR_DELAY;
    case schedules::MissedTickBehavior::kSkip:
      break;
  }
  return v1::MISSED_TICK_BEHAVIOR_SKIP;
}

v1::OverlapPolicy overlap_to_proto(schedules::OverlapPolicy p) {
  switch (p) {
    case schedules::OverlapPolicy::kAllow:
      return v1::OVERLAP_POLICY_ALLOW;
    case schedules::OverlapPolicy::kBufferOne:
      return v1::OVERLAP_POLICY_BUFFER_ONE;
    case schedules::OverlapPolicy::kCancelPrevious:
      return v1::OVERLAP_POLICY_CANCEL_PREVIOUS;
    case schedules::OverlapPolicy::kSkip:
      break;
  }
  return v1::OVERLAP_POLICY_SKIP;
}

}  // namespace

Result<schedules::ScheduleSpec> schedule_spec_from_proto(const v1::CreateIntervalRequest& request,
                                                         const SpecPolicy& policy,
                                                         engine::TimePoint now) {
  const auto& limits = policy.limits;
  schedules::ScheduleSpec spec;
  if (request.name().empty()) return invalid("name", "required");
  if (request.name().size() > limits.max_label_bytes) {
    return invalid("name", "longer than " + std::to_string(limits.max_label_bytes) +
                               " bytes (limits.max_label_bytes)");
  }
  spec.name = request.name();

  if (!request.has_period()) return invalid("period", "required");
  auto period = duration_from_proto(request.period(), "period", limits.max_duration);
  if (!period) return period.error();
  if (*period == Duration::zero()) return invalid("period", "must be positive");
  spec.timing.period = *period;

  auto start = start_from_proto(request, limits, now);
  if (!start) return start.error();
  spec.timing.start = *start;

  auto behavior =
      missed_tick_behavior_from_proto(request.missed_tick_behavior(), "missed_tick_behavior");
  if (!behavior) return behavior.error();
  spec.timing.missed_tick_behavior = *behavior;

  if (request.has_catchup_window()) {
    auto window =
        duration_from_proto(request.catchup_window(), "catchup_window", limits.max_duration);
    if (!window) return window.error();
    if (*window > Duration::zero()) spec.timing.catchup_window = *window;
  }
  if (request.max_ticks() > 0) spec.max_ticks = request.max_ticks();

  auto overlap = overlap_from_proto(request.overlap_policy());
  if (!overlap) return overlap.error();
  spec.overlap = *overlap;

  // Two labels (schedule, tick) are added to every task: keep room for them.
  if (request.task_labels_size() + 2 > static_cast<int>(limits.max_labels)) {
    return invalid("task_labels", "more than " + std::to_string(limits.max_labels) +
                                      " labels with `schedule` and `tick` (limits.max_labels)");
  }
  for (const auto& [key, value] : request.task_labels()) {
    const std::string path = "task_labels[\"" + key.substr(0, 64) + "\"]";
    if (key.empty()) return invalid("task_labels", "a label key must not be empty");
    if (key == "schedule" || key == "tick") return invalid(path, "reserved: set by the schedule");
    if (key.size() > limits.max_label_bytes || value.size() > limits.max_label_bytes) {
      return invalid(path, "key or value longer than " + std::to_string(limits.max_label_bytes) +
                               " bytes (limits.max_label_bytes)");
    }
    spec.task_labels.emplace(key, value);
  }

  if (!request.has_template_()) return invalid("template", "required");
  auto node = node_from_proto(request.template_(), policy, "template");
  if (!node) return node.error();
  spec.task_template = std::move(*node);
  return spec;
}

v1::ScheduleState schedule_state_to_proto(schedules::ScheduleSnapshot::State state) {
  switch (state) {
    case schedules::ScheduleSnapshot::State::kActive:
      return v1::SCHEDULE_STATE_ACTIVE;
    case schedules::ScheduleSnapshot::State::kPaused:
      return v1::SCHEDULE_STATE_PAUSED;
    case schedules::ScheduleSnapshot::State::kFinished:
      return v1::SCHEDULE_STATE_FINISHED;
  }
  return v1::SCHEDULE_STATE_UNSPECIFIED;
}

void schedule_to_proto(const schedules::ScheduleSnapshot& s,
                       std::optional<engine::State> last_task_state, v1::ScheduleInfo& out) {
  out.set_name(s.name);
  *out.mutable_period() = TimeUtil::NanosecondsToDuration(s.period.count());
  node_to_proto(s.task_template, *out.mutable_template_());
  for (const auto& [key, value] : s.task_labels) (*out.mutable_task_labels())[key] = value;
  out.set_missed_tick_behavior(missed_tick_behavior_to_proto(s.missed_tick_behavior));
  out.set_overlap_policy(overlap_to_proto(s.overlap));
  if (s.catchup_window) {
    *out.mutable_catchup_window() = TimeUtil::NanosecondsToDuration(s.catchup_window->count());
  }
  out.set_max_ticks(s.max_ticks.value_or(0));
  out.set_state(schedule_state_to_proto(s.state));
  *out.mutable_start_at() = timestamp_of(s.start_at);
  if (s.next_tick_at) *out.mutable_next_tick_at() = timestamp_of(*s.next_tick_at);
  if (s.last_tick_at) *out.mutable_last_tick_at() = timestamp_of(*s.last_tick_at);
  *out.mutable_created_at() = timestamp_of(s.created);
  out.set_ticks_fired(s.ticks_fired);
  out.set_ticks_missed(s.ticks_missed);
  out.set_ticks_skipped(s.ticks_skipped);
  out.set_ticks_rejected(s.ticks_rejected);
  out.set_last_error(s.last_error);
  out.set_last_task_id(s.last_task_id);
  if (last_task_state) out.set_last_task_state(state_to_proto(*last_task_state));
  out.set_running_tasks(static_cast<std::uint32_t>(s.running_tasks));
  out.set_tick_buffered(s.tick_buffered);
}

void tick_to_proto(const schedules::FiredTick& tick, engine::TimePoint sent_at, v1::Tick& out) {
  out.set_tick(tick.tick_number);
  *out.mutable_scheduled_at() = timestamp_of(tick.scheduled);
  *out.mutable_sent_at() = timestamp_of(sent_at);
  out.set_missed(tick.missed_before);
}

}  // namespace orch::rpc
