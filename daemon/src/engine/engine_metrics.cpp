#include "engine_metrics.h"

#include "orch/metrics/metrics.h"
#include "task_record.h"

namespace orch::engine {
namespace {

// The metrics enums follow NodeKind's order; this keeps them honest.
static_assert(metrics::kKindLabelCount == kNodeKindCount);
static_assert(static_cast<int>(metrics::KindLabel::kSequence) == static_cast<int>(NodeKind::kSequence));

metrics::KindLabel kind_label(NodeKind kind) { return static_cast<metrics::KindLabel>(kind); }

metrics::OutcomeLabel outcome_label(State state) {
  switch (state) {
    case State::kSucceeded:
      return metrics::OutcomeLabel::kSucceeded;
    case State::kCancelled:
      return metrics::OutcomeLabel::kCancelled;
    case State::kTimedOut:
      return metrics::OutcomeLabel::kTimedOut;
    default:
      return metrics::OutcomeLabel::kFailed;
  }
}

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void attach_metrics(TenantState& tenant, metrics::Metrics& metrics) {
  tenant.metrics = &metrics.add_tenant(tenant.settings.name);
  tenant.metrics->permits_limit.Set(tenant.settings.max_concurrency);
}

void set_permits_limit(TenantState& tenant, std::uint32_t limit) {
  if (tenant.metrics) tenant.metrics->permits_limit.Set(limit);
}

void count_spawned(TenantState& tenant, NodeKind root_kind) {
  if (tenant.metrics) tenant.metrics->spawned(kind_label(root_kind)).Increment();
}

void count_finished(TenantState& tenant, metrics::Metrics* metrics, NodeKind root_kind,
                    State outcome, Duration run_time) {
  if (tenant.metrics) tenant.metrics->finished(kind_label(root_kind), outcome_label(outcome)).Increment();
  if (metrics) metrics->task_duration(kind_label(root_kind)).Observe(seconds(run_time));
}

void count_rejected(TenantState& tenant, const char* reason) {
  if (tenant.metrics) tenant.metrics->rejected(reason).Increment();
}

void observe_permit_wait(TenantState& tenant, Duration waited) {
  if (tenant.metrics) tenant.metrics->permit_wait.Observe(seconds(waited));
}

void count_attempt(TenantState& tenant, NodeKind kind, bool retry) {
  if (!tenant.metrics) return;
  if (auto* attempts = tenant.metrics->attempts(kind_label(kind))) attempts->Increment();
  if (auto* retries = tenant.metrics->retries(kind_label(kind)); retries && retry) retries->Increment();
}

void count_attempt_failure(TenantState& tenant, NodeKind kind, FailureReason reason) {
  if (tenant.metrics) {
    tenant.metrics->attempt_failures(kind_label(kind), failure_reason_name(reason)).Increment();
  }
}

void count_exec_exit(TenantState& tenant, const ExecOutput& output) {
  if (!tenant.metrics || (!output.exit_code && !output.signal)) return;
  tenant.metrics->exec_exits(metrics::exec_exit_label(output.exit_code)).Increment();
}

void update_tenant_gauges(const TenantState& tenant) {
  if (!tenant.metrics) return;
  tenant.metrics->tasks_running.Set(tenant.running);
  tenant.metrics->tasks_pending.Set(tenant.pending);
  tenant.metrics->permits_in_use.Set(tenant.semaphore.in_use());
  tenant.metrics->permits_waiting.Set(tenant.semaphore.waiting());
  tenant.metrics->permits_limit.Set(tenant.semaphore.limit());
}

}  // namespace orch::engine
