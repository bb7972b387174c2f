#pragma once
// Engine internals: a root `worker` task run without a coroutine or a strand. Once it holds its
// permit, its one attempt goes straight to the tenant's WorkerHub with a callback; the worker's
// report (or `worker_lost`) ends the task on the thread that applied it. An abort withdraws the
// attempt from the hub (the worker is sent a Cancel); whichever of the two the hub sees first
// ends the task, exactly once.
//
// Only for tasks with nothing to time or retry: one attempt, and no schedule_to_start,
// start_to_close or heartbeat. Every other worker task runs as a coroutine (worker_leaf.h).

#include <cstdint>

#include "orch/engine/node.h"

namespace orch::workers {
class WorkerHub;
class WorkerHubs;
struct AttemptRequest;
struct AttemptResult;
}  // namespace orch::workers

namespace orch::engine {

struct TaskRecord;

/// The hub that runs `record` as a bare worker task, or null when the task needs the coroutine
/// path (not a root worker, retries, a deadline, or no hub for its tenant).
workers::WorkerHub* bare_worker_hub(const TaskRecord& record, workers::WorkerHubs* hubs);

/// The task's one attempt (attempt 1, with a new fencing token kept in its run); counts it.
workers::AttemptRequest bare_worker_attempt(TaskRecord& record);

/// The task's result from its attempt's; counts a failed attempt.
NodeResult bare_worker_result(TaskRecord& record, workers::AttemptResult attempt);

/// The task's result when its attempt was withdrawn (aborted, shutdown).
NodeResult bare_worker_cancelled(const TaskRecord& record);

}  // namespace orch::engine
