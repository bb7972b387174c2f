#pragma once
/// Conversions between the schedules API (orch.v1.ScheduleService) and the schedules' plain
/// types, with the validation of what a client sends. Every refusal names the field, e.g.
/// `period: must be positive`.
///
/// Thread-safety: pure functions (reading the engine Clock for `now` is the caller's job).

#include "orch/config/config.h"
#include "orch/engine/clock.h"
#include "orch/engine/error.h"
#include "orch/rpc/convert.h"
#include "orch/schedules/interval_timeline.h"
#include "orch/schedules/schedule_registry.h"
#include "orch/v1/schedules.pb.h"

namespace orch::rpc {

/// UNSPECIFIED -> SKIP (the API's default); an unknown value is INVALID_ARGUMENT at `path`.
engine::Result<schedules::MissedTickBehavior> missed_tick_behavior_from_proto(
    int value, std::string_view path);

/// Validates a Ticks request and builds its timeline's options, for a call that starts at
/// `now`: period in (0, limits.max_duration]; delay in [0, limits.max_duration]; start_at
/// within limits.max_duration of now (either way); count 0 = no limit.
engine::Result<schedules::IntervalOptions> ticks_options_from_proto(const v1::TicksRequest& request,
                                                                    const config::Limits& limits,
                                                                    engine::TimePoint now);

/// Validates a CreateInterval request: name (not empty, at most limits.max_label_bytes), period,
/// start, catchup_window, max_ticks, both policies, task_labels (as a Spawn's labels) and the
/// template (as a Spawn's spec, field paths under `template`).
engine::Result<schedules::ScheduleSpec> schedule_spec_from_proto(
    const v1::CreateIntervalRequest& request, const SpecPolicy& policy, engine::TimePoint now);

/// Fills a ScheduleInfo; `last_task_state` is the state of the last spawned task if known.
void schedule_to_proto(const schedules::ScheduleSnapshot& schedule,
                       std::optional<engine::State> last_task_state, v1::ScheduleInfo& out);

v1::ScheduleState schedule_state_to_proto(schedules::ScheduleSnapshot::State state);

/// Fills a Tick message for a tick that fired and was sent at `sent_at`.
void tick_to_proto(const schedules::FiredTick& tick, engine::TimePoint sent_at, v1::Tick& out);

}  // namespace orch::rpc
