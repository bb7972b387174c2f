#include "orch/mutexes/mutex_metrics.h"

#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace orch::mutexes {
namespace {

constexpr std::array<const char*, kLockFailureCount> kLockFailureValues = {"timeout", "busy",
                                                                           "cancelled", "quota"};

/// Lock waits: mostly none, up to minutes behind a long critical section.
const prometheus::Histogram::BucketBoundaries kWaitBuckets = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300,
};

}  // namespace

MutexMetrics::MutexMetrics(prometheus::Registry& registry)
    : mutexes_(prometheus::BuildGauge()
                   .Name("orch_mutexes")
                   .Help("Named mutexes the tenant has (held, waited for, or holding a value).")
                   .Register(registry)),
      holders_(prometheus::BuildGauge()
                   .Name("orch_mutex_holders")
                   .Help("Named mutexes currently held, by tenant.")
                   .Register(registry)),
      waiters_(prometheus::BuildGauge()
                   .Name("orch_mutex_waiters")
                   .Help("Lock calls currently waiting for a named mutex, by tenant.")
                   .Register(registry)),
      wait_(prometheus::BuildHistogram()
                .Name("orch_mutex_wait_seconds")
                .Help("Time from a Lock call to the acquisition of the mutex, by tenant.")
                .Register(registry)),
      acquisitions_(prometheus::BuildCounter()
                        .Name("orch_mutex_acquisitions_total")
                        .Help("Named mutex acquisitions, by tenant.")
                        .Register(registry)),
      lease_expiries_(prometheus::BuildCounter()
                          .Name("orch_mutex_lease_expiries_total")
                          .Help("Named mutex holds ended by their lease rather than by Unlock.")
                          .Register(registry)),
      stale_guards_(prometheus::BuildCounter()
                        .Name("orch_mutex_stale_guards_total")
                        .Help("Unlock and Refresh calls refused because their guard no longer "
                              "holds the mutex, by tenant and call.")
                        .Register(registry)),
      lock_failures_(prometheus::BuildCounter()
                         .Name("orch_mutex_lock_failures_total")
                         .Help("Lock calls that did not acquire, by tenant and reason (timeout, "
                               "busy, cancelled, quota).")
                         .Register(registry)) {}

MutexMetrics::~MutexMetrics() = default;

TenantMutexMetrics& MutexMetrics::add_tenant(const std::string& tenant) {
  std::lock_guard lock(mutex_);
  if (auto it = tenants_.find(tenant); it != tenants_.end()) return *it->second;
  const prometheus::Labels labels{{"tenant", tenant}};
  auto handles = std::make_unique<TenantMutexMetrics>(TenantMutexMetrics{
      mutexes_.Add(labels), holders_.Add(labels), waiters_.Add(labels),
      wait_.Add(labels, kWaitBuckets), acquisitions_.Add(labels), lease_expiries_.Add(labels),
      stale_guards_.Add({{"tenant", tenant}, {"call", "unlock"}}),
      stale_guards_.Add({{"tenant", tenant}, {"call", "refresh"}})});
  for (std::size_t i = 0; i < kLockFailureCount; ++i) {
    handles->lock_failures[i] =
        &lock_failures_.Add({{"tenant", tenant}, {"reason", kLockFailureValues[i]}});
  }
  return *tenants_.emplace(tenant, std::move(handles)).first->second;
}

}  // namespace orch::mutexes
