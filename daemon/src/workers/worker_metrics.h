#pragma once
// Workers internals: the worker metrics of one tenant, built on the daemon's registry.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <memory>
#include <string>

#include "orch/workers/worker_hub.h"

namespace orch::workers {

/// Handles for one tenant; every child is made when the tenant is registered.
struct WorkerMetrics {
  prometheus::Gauge* backlog = nullptr;        // orch_worker_queue_backlog{tenant}
  prometheus::Gauge* connected = nullptr;      // orch_workers_connected{tenant}
  prometheus::Gauge* running = nullptr;        // orch_worker_assignments_running{tenant}
  prometheus::Histogram* latency = nullptr;    // orch_worker_assignment_latency_seconds{tenant}
  std::array<prometheus::Counter*, kRefusalReasonCount> refused{};  // orch_worker_results_refused_total{tenant,reason}
};

class WorkerMetricFamilies {
 public:
  explicit WorkerMetricFamilies(prometheus::Registry& registry);
  std::unique_ptr<WorkerMetrics> add_tenant(const std::string& tenant);

 private:
  prometheus::Family<prometheus::Gauge>& backlog_;
  prometheus::Family<prometheus::Gauge>& connected_;
  prometheus::Family<prometheus::Gauge>& running_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Counter>& refused_;
};

}  // namespace orch::workers
