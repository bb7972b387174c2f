#include "worker_metrics.h"

namespace orch::workers {

WorkerMetricFamilies::WorkerMetricFamilies(prometheus::Registry& registry)
    : backlog_(prometheus::BuildGauge()
                   .Name("orch_worker_queue_backlog")
                   .Help("Attempts of worker nodes waiting for a worker, by tenant (all queues).")
                   .Register(registry)),
      connected_(prometheus::BuildGauge()
                     .Name("orch_workers_connected")
                     .Help("Workers connected through WorkerService.Connect, by tenant.")
                     .Register(registry)),
      running_(prometheus::BuildGauge()
                   .Name("orch_worker_assignments_running")
                   .Help("Assignments outstanding on connected workers, by tenant.")
                   .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name("orch_worker_assignment_latency_seconds")
                   .Help("Time from an attempt's submission to its assignment to a worker, by tenant.")
                   .Register(registry)),
      refused_(prometheus::BuildCounter()
                   .Name("orch_worker_results_refused_total")
                   .Help("Worker reports refused and never applied (stale, unknown, mismatched, "
                         "duplicate, too large), by tenant and reason.")
                   .Register(registry)) {}

std::unique_ptr<WorkerMetrics> WorkerMetricFamilies::add_tenant(const std::string& tenant) {
  auto m = std::make_unique<WorkerMetrics>();
  const std::map<std::string, std::string> labels{{"tenant", tenant}};
  m->backlog = &backlog_.Add(labels);
  m->connected = &connected_.Add(labels);
  m->running = &running_.Add(labels);
  m->latency = &latency_.Add(labels, prometheus::Histogram::BucketBoundaries{
                                         0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300});
  for (std::size_t i = 0; i < kRefusalReasonCount; ++i) {
    m->refused[i] = &refused_.Add(
        {{"tenant", tenant}, {"reason", std::string(refusal_reason_name(static_cast<RefusalReason>(i)))}});
  }
  return m;
}

}  // namespace orch::workers
