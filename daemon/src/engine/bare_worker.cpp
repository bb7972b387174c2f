#include "bare_worker.h"

#include "engine_metrics.h"
#include "leaf_runner.h"
#include "orch/workers/worker_hub.h"
#include "task_record.h"

namespace orch::engine {
namespace {

// What every outcome shares: as run_attempts() reports a node's single attempt.
NodeResult attempt_result(const TaskRecord& record, State state) {
  NodeResult r;
  r.kind = NodeKind::kWorker;
  r.state = state;
  r.started = record.started;
  r.finished = Clock::now();
  r.attempts = 1;
  r.fencing_token = record.run ? record.run->fencing_token : 0;
  return r;
}

}  // namespace

workers::WorkerHub* bare_worker_hub(const TaskRecord& record, workers::WorkerHubs* hubs) {
  if (record.kind != NodeKind::kWorker || !record.spec || !hubs) return nullptr;
  const Node& node = *record.spec;
  if (node.retry.max_attempts > 1) return nullptr;
  const auto* spec = std::get_if<WorkerSpec>(&node.work);
  if (!spec || spec->schedule_to_start || spec->start_to_close || spec->heartbeat) return nullptr;
  return hubs->find(record.tenant.settings.name);
}

workers::AttemptRequest bare_worker_attempt(TaskRecord& record) {
  const auto& spec = std::get<WorkerSpec>(record.spec->work);
  count_attempt(record.tenant, NodeKind::kWorker, false);
  record.run->fencing_token = next_fencing_token();
  return workers::AttemptRequest{record.id_text(), 1, record.run->fencing_token, spec.queue,
                                 spec.payload, {}, {}, {}};
}

NodeResult bare_worker_result(TaskRecord& record, workers::AttemptResult attempt) {
  if (attempt.succeeded) {
    NodeResult r = attempt_result(record, State::kSucceeded);
    r.output = WorkerOutput{std::move(attempt.output), std::move(attempt.worker_id)};
    return r;
  }
  count_attempt_failure(record.tenant, NodeKind::kWorker, attempt.reason);
  NodeResult r = attempt_result(record, State::kFailed);
  r.output = WorkerOutput{{}, std::move(attempt.worker_id)};
  r.last_attempt_error = attempt.output;
  r.error = std::move(attempt.output);
  return r;
}

NodeResult bare_worker_cancelled(const TaskRecord& record) {
  return attempt_result(record, State::kCancelled);
}

}  // namespace orch::engine
