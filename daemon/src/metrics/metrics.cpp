#include "orch/metrics/metrics.h"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "metrics/process_collector.h"

#ifndef ORCH_VERSION
#define ORCH_VERSION "0.1.0"
#endif

namespace orch::metrics {
namespace {

constexpr std::array<std::string_view, kKindLabelCount> kKindValues = {
    "sleep", "http", "exec", "worker", "send", "recv", "join", "select", "timeout", "sequence",
};
constexpr std::array<std::string_view, kOutcomeLabelCount> kOutcomeValues = {
    "succeeded", "failed", "cancelled", "timed_out"};
constexpr std::array<std::string_view, kRejectLabelCount> kRejectValues = {
    "invalid", "quota", "unavailable", "permission"};
constexpr std::array<std::string_view, kExecExitLabelCount> kExecExitValues = {
    "0", "1", "2", "126", "127", "other", "signal"};
constexpr int kGrpcUnknown = 2;
constexpr std::string_view kUnknownMethod = "unknown";

/// Task run times: from a 1 ms sleep to an hour-long exec.
const prometheus::Histogram::BucketBoundaries kTaskDurationBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,  1,    2.5,
    5,     10,     30,    60,   120,   300,  600, 1200, 1800, 3600,
};
/// Permit waits: mostly none, up to minutes behind a saturated tenant.
const prometheus::Histogram::BucketBoundaries kPermitWaitBuckets = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300,
};
/// Tick lateness: 100 µs on an idle daemon up to seconds behind a stalled one.
const prometheus::Histogram::BucketBoundaries kLatenessBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10,
};
/// RPC handling: sub-millisecond unary calls to long waits and streams.
const prometheus::Histogram::BucketBoundaries kRpcDurationBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};

template <typename Enum, std::size_t N>
std::optional<Enum> parse_label(const std::array<std::string_view, N>& values,
                                std::string_view text) noexcept {
  const auto* it = std::find(values.begin(), values.end(), text);
  if (it == values.end()) return std::nullopt;
  return static_cast<Enum>(it - values.begin());
}

std::string to_string(std::string_view text) { return std::string(text); }

}  // namespace

std::string_view label_value(KindLabel kind) noexcept {
  return kKindValues[static_cast<std::size_t>(kind)];
}
std::string_view label_value(OutcomeLabel outcome) noexcept {
  return kOutcomeValues[static_cast<std::size_t>(outcome)];
}
std::string_view label_value(RejectLabel reason) noexcept {
  return kRejectValues[static_cast<std::size_t>(reason)];
}

std::string_view label_value(ExecExitLabel code) noexcept {
  return kExecExitValues[static_cast<std::size_t>(code)];
}

ExecExitLabel exec_exit_label(std::optional<int> exit_code) noexcept {
  if (!exit_code) return ExecExitLabel::kSignal;
  switch (*exit_code) {
    case 0:
      return ExecExitLabel::k0;
    case 1:
      return ExecExitLabel::k1;
    case 2:
      return ExecExitLabel::k2;
    case 126:
      return ExecExitLabel::k126;
    case 127:
      return ExecExitLabel::k127;
    default:
      return ExecExitLabel::kOther;
  }
}

std::optional<KindLabel> parse_kind_label(std::string_view text) noexcept {
  return parse_label<KindLabel>(kKindValues, text);
}
std::optional<OutcomeLabel> parse_outcome_label(std::string_view text) noexcept {
  return parse_label<OutcomeLabel>(kOutcomeValues, text);
}
std::optional<RejectLabel> parse_reject_label(std::string_view text) noexcept {
  return parse_label<RejectLabel>(kRejectValues, text);
}

std::string_view grpc_code_name(int code) noexcept { return orch::grpc_code_name(code); }

// --- TenantMetrics ---------------------------------------------------------------------------

TenantMetrics::TenantMetrics(prometheus::Gauge& running, prometheus::Gauge& pending,
                             prometheus::Gauge& in_use, prometheus::Gauge& limit,
                             prometheus::Gauge& waiting, prometheus::Histogram& wait)
    : tasks_running(running),
      tasks_pending(pending),
      permits_in_use(in_use),
      permits_limit(limit),
      permits_waiting(waiting),
      permit_wait(wait) {}

prometheus::Counter& TenantMetrics::rejected(std::string_view reason) const {
  std::optional<RejectLabel> label = parse_reject_label(reason);
  if (!label) {
    throw std::invalid_argument("orch_tasks_rejected_total: unknown reason \"" +
                                std::string(reason) +
                                "\" (expected invalid, quota, unavailable or permission)");
  }
  return rejected(*label);
}

prometheus::Counter& TenantMetrics::attempt_failures(KindLabel kind, std::string_view reason) {
  std::lock_guard lock(failures_mutex_);
  auto key = std::pair{kind, std::string(reason)};
  if (auto it = failures_.find(key); it != failures_.end()) return *it->second;
  auto& counter = failures_family_->Add(
      {{"tenant", tenant_}, {"kind", std::string(label_value(kind))}, {"reason", key.second}});
  failures_.emplace(std::move(key), &counter);
  return counter;
}

// --- ScheduleMetrics -------------------------------------------------------------------------

ScheduleMetrics::ScheduleMetrics(prometheus::Family<prometheus::Counter>& fired_family,
                                 prometheus::Family<prometheus::Counter>& missed_family,
                                 prometheus::Family<prometheus::Counter>& skipped_family,
                                 prometheus::Family<prometheus::Histogram>& lateness_family,
                                 const std::map<std::string, std::string>& labels)
    : fired(fired_family.Add(labels)),
      missed(missed_family.Add(labels)),
      skipped(skipped_family.Add(labels)),
      lateness(lateness_family.Add(labels, kLatenessBuckets)),
      fired_family_(fired_family),
      missed_family_(missed_family),
      skipped_family_(skipped_family),
      lateness_family_(lateness_family) {}

ScheduleMetrics::~ScheduleMetrics() {
  fired_family_.Remove(&fired);
  missed_family_.Remove(&missed);
  skipped_family_.Remove(&skipped);
  lateness_family_.Remove(&lateness);
}

// --- Metrics ---------------------------------------------------------------------------------

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      process_collector_(std::make_unique<ProcessCollector>()),
      tasks_running_(prometheus::BuildGauge()
                         .Name("orch_tasks_running")
                         .Help("Tasks currently running, by tenant.")
                         .Register(*registry_)),
      tasks_pending_(prometheus::BuildGauge()
                         .Name("orch_tasks_pending")
                         .Help("Tasks waiting for a concurrency permit, by tenant.")
                         .Register(*registry_)),
      permits_in_use_(prometheus::BuildGauge()
                          .Name("orch_semaphore_permits_in_use")
                          .Help("Concurrency permits currently held, by tenant.")
                          .Register(*registry_)),
      permits_limit_(prometheus::BuildGauge()
                         .Name("orch_semaphore_permits")
                         .Help("Concurrency permits of the tenant in total (its max_concurrency).")
                         .Register(*registry_)),
      permits_waiting_(prometheus::BuildGauge()
                           .Name("orch_semaphore_waiters")
                           .Help("Acquirers currently waiting for a concurrency permit, by tenant.")
                           .Register(*registry_)),
      permit_wait_(prometheus::BuildHistogram()
                       .Name("orch_semaphore_wait_seconds")
                       .Help("Time spent waiting for a concurrency permit, by tenant.")
                       .Register(*registry_)),
      spawned_(prometheus::BuildCounter()
                   .Name("orch_tasks_spawned_total")
                   .Help("Tasks spawned, by tenant and node kind.")
                   .Register(*registry_)),
      finished_(prometheus::BuildCounter()
                    .Name("orch_tasks_finished_total")
                    .Help("Tasks finished, by tenant, node kind and outcome.")
                    .Register(*registry_)),
      rejected_(prometheus::BuildCounter()
                    .Name("orch_tasks_rejected_total")
                    .Help("Task submissions refused before running, by tenant and reason "
                          "(invalid, quota, unavailable, permission).")
                    .Register(*registry_)),
      attempts_(prometheus::BuildCounter()
                    .Name("orch_task_attempts_total")
                    .Help("Attempts started by work leaves (http, exec, worker), by tenant and kind.")
                    .Register(*registry_)),
      retries_(prometheus::BuildCounter()
                   .Name("orch_task_retries_total")
                   .Help("Attempts after the first (retries), by tenant and kind.")
                   .Register(*registry_)),
      attempt_failures_(prometheus::BuildCounter()
                            .Name("orch_task_attempt_failures_total")
                            .Help("Failed attempts of work leaves, by tenant, kind and reason.")
                            .Register(*registry_)),
      exec_exits_(prometheus::BuildCounter()
                      .Name("orch_exec_exits_total")
                      .Help("Processes of exec attempts that ended, by tenant and exit code (0, 1, "
                            "2, 126, 127, other, or signal).")
                      .Register(*registry_)),
      task_duration_family_(prometheus::BuildHistogram()
                                .Name("orch_task_duration_seconds")
                                .Help("Run time of finished tasks, by node kind.")
                                .Register(*registry_)),
      schedule_fired_(prometheus::BuildCounter()
                          .Name("orch_schedule_ticks_fired_total")
                          .Help("Ticks of an interval schedule that spawned a task.")
                          .Register(*registry_)),
      schedule_missed_(prometheus::BuildCounter()
                           .Name("orch_schedule_ticks_missed_total")
                           .Help("Ticks of an interval schedule that never fired: dropped by the "
                                 "missed-tick behaviour or later than the catch-up window.")
                           .Register(*registry_)),
      schedule_skipped_(prometheus::BuildCounter()
                            .Name("orch_schedule_ticks_skipped_total")
                            .Help("Ticks of an interval schedule that fired but spawned nothing "
                                  "because of the overlap policy.")
                            .Register(*registry_)),
      schedule_lateness_(prometheus::BuildHistogram()
                             .Name("orch_schedule_tick_lateness_seconds")
                             .Help("How long after its due instant each tick of an interval "
                                   "schedule fired.")
                             .Register(*registry_)),
      rpc_requests_(prometheus::BuildCounter()
                        .Name("orch_grpc_requests_total")
                        .Help("gRPC requests handled, by method and status code.")
                        .Register(*registry_)),
      rpc_duration_(prometheus::BuildHistogram()
                        .Name("orch_grpc_request_duration_seconds")
                        .Help("Time from the start of a gRPC request to its status, by method.")
                        .Register(*registry_)),
      build_info_(prometheus::BuildGauge()
                      .Name("orch_build_info")
                      .Help("Build information of this orchestrd; the value is always 1.")
                      .Register(*registry_)) {
  for (std::size_t kind = 0; kind < kKindLabelCount; ++kind) {
    task_duration_[kind] =
        &task_duration_family_.Add({{"kind", to_string(kKindValues[kind])}}, kTaskDurationBuckets);
  }
  build_info_.Add({{"version", ORCH_VERSION}}).Set(1);
  unknown_rpc_ = make_rpc_metrics(std::string(kUnknownMethod));
}

Metrics::~Metrics() = default;

std::unique_ptr<ScheduleMetrics> Metrics::add_schedule(const std::string& tenant,
                                                      const std::string& name) {
  // Not make_unique: the constructor is private to Metrics.
  return std::unique_ptr<ScheduleMetrics>(
      new ScheduleMetrics(schedule_fired_, schedule_missed_, schedule_skipped_,
                          schedule_lateness_, {{"tenant", tenant}, {"schedule", name}}));
}

TenantMetrics& Metrics::add_tenant(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("metrics: a tenant name must not be empty");
  std::lock_guard lock(tenants_mutex_);
  if (auto it = tenants_.find(name); it != tenants_.end()) return *it->second;

  const prometheus::Labels tenant{{"tenant", name}};
  // Not make_unique: the constructor is private to Metrics.
  std::unique_ptr<TenantMetrics> handles(new TenantMetrics(
      tasks_running_.Add(tenant), tasks_pending_.Add(tenant), permits_in_use_.Add(tenant),
      permits_limit_.Add(tenant), permits_waiting_.Add(tenant),
      permit_wait_.Add(tenant, kPermitWaitBuckets)));
  for (std::size_t kind = 0; kind < kKindLabelCount; ++kind) {
    const std::string kind_value = to_string(kKindValues[kind]);
    handles->spawned_[kind] = &spawned_.Add({{"tenant", name}, {"kind", kind_value}});
    for (std::size_t outcome = 0; outcome < kOutcomeLabelCount; ++outcome) {
      handles->finished_[kind][outcome] =
          &finished_.Add({{"tenant", name},
                          {"kind", kind_value},
                          {"outcome", to_string(kOutcomeValues[outcome])}});
    }
  }
  for (std::size_t reason = 0; reason < kRejectLabelCount; ++reason) {
    handles->rejected_[reason] =
        &rejected_.Add({{"tenant", name}, {"reason", to_string(kRejectValues[reason])}});
  }
  for (KindLabel kind : {KindLabel::kHttp, KindLabel::kExec, KindLabel::kWorker}) {
    const prometheus::Labels labels{{"tenant", name}, {"kind", std::string(label_value(kind))}};
    handles->attempts_[static_cast<std::size_t>(kind)] = &attempts_.Add(labels);
    handles->retries_[static_cast<std::size_t>(kind)] = &retries_.Add(labels);
  }
  for (std::size_t code = 0; code < kExecExitLabelCount; ++code) {
    handles->exec_exits_[code] =
        &exec_exits_.Add({{"tenant", name}, {"code", to_string(kExecExitValues[code])}});
  }
  handles->tenant_ = name;
  handles->failures_family_ = &attempt_failures_;
  return *tenants_.emplace(name, std::move(handles)).first->second;
}

Metrics::RpcMetrics Metrics::make_rpc_metrics(const std::string& method) {
  RpcMetrics rpc;
  for (std::size_t code = 0; code < kGrpcCodeCount; ++code) {
    rpc.requests[code] =
        &rpc_requests_.Add({{"method", method}, {"code", to_string(orch::grpc_code_name(static_cast<int>(code)))}});
  }
  rpc.duration = &rpc_duration_.Add({{"method", method}}, kRpcDurationBuckets);
  return rpc;
}

void Metrics::add_rpc_method(const std::string& method) {
  std::unique_lock lock(rpc_mutex_);
  if (rpc_methods_.contains(method)) return;
  rpc_methods_.emplace(method, make_rpc_metrics(method));
}

void Metrics::observe_rpc(std::string_view method, int grpc_code, double seconds) {
  const RpcMetrics* rpc = &unknown_rpc_;
  {
    std::shared_lock lock(rpc_mutex_);
    if (auto it = rpc_methods_.find(method); it != rpc_methods_.end()) rpc = &it->second;
  }
  if (grpc_code < 0 || grpc_code >= static_cast<int>(kGrpcCodeCount)) grpc_code = kGrpcUnknown;
  rpc->requests[static_cast<std::size_t>(grpc_code)]->Increment();
  rpc->duration->Observe(seconds);
}

void Metrics::on_scrape(std::function<void()> hook) {
  std::lock_guard lock(scrape_mutex_);
  scrape_hooks_.push_back(std::move(hook));
}

std::string Metrics::serialize() const {
  {
    // Gauges that are cheaper to read at scrape time than to keep current on every change.
    std::lock_guard lock(scrape_mutex_);
    for (const auto& hook : scrape_hooks_) hook();
  }
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::vector<prometheus::MetricFamily> process = process_collector_->Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace orch::metrics
