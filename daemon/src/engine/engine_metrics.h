#pragma once
// Engine internals: the engine's metric updates, in one place. Each is a no-op for a tenant
// without metrics (unit tests).

#include "orch/engine/node.h"

namespace orch::metrics {
class Metrics;
}

namespace orch::engine {

struct TenantState;

void attach_metrics(TenantState& tenant, metrics::Metrics& metrics);
/// The tenant's permits in total changed (a configuration reload).
void set_permits_limit(TenantState& tenant, std::uint32_t limit);
void count_spawned(TenantState& tenant, NodeKind root_kind);
void count_finished(TenantState& tenant, metrics::Metrics* metrics, NodeKind root_kind,
                    State outcome, Duration run_time);
void count_rejected(TenantState& tenant, const char* reason);
void observe_permit_wait(TenantState& tenant, Duration waited);
void count_attempt(TenantState& tenant, NodeKind kind, bool retry);
void count_attempt_failure(TenantState& tenant, NodeKind kind, FailureReason reason);
/// An exec attempt's process ended (with an exit code or a signal; nothing when neither).
void count_exec_exit(TenantState& tenant, const ExecOutput& output);
/// Sets the tenant's gauges; call with the engine's mutex held.
void update_tenant_gauges(const TenantState& tenant);

}  // namespace orch::engine
