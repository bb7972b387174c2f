#pragma once
/// The named mutexes' Prometheus metrics, per tenant (never per mutex name, so the label set is
/// bounded by the tenants of the configuration):
///
///   orch_mutexes{tenant}                        gauge: mutexes the tenant has (max_mutexes)
///   orch_mutex_holders{tenant}                  gauge: mutexes held right now
///   orch_mutex_waiters{tenant}                  gauge: Lock calls waiting right now
///   orch_mutex_wait_seconds{tenant}             histogram: Lock call to acquisition
///   orch_mutex_acquisitions_total{tenant}       counter
///   orch_mutex_lease_expiries_total{tenant}     counter: holds ended by their lease
///   orch_mutex_stale_guards_total{tenant,call}  counter: Unlock/Refresh refused for a stale
///                                               guard (call=unlock|refresh)
///   orch_mutex_lock_failures_total{tenant,reason}
///                                               counter: Lock calls that did not acquire
///                                               (reason=timeout|busy|cancelled|quota)
///
/// Families are built once on a registry (at start-up); a tenant's handles once per tenant.
///
/// Thread-safety: handles may be used from any thread; add_tenant() takes a short mutex.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace prometheus {
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace orch::mutexes {

/// The `reason` label of a Lock call that did not acquire.
enum class LockFailure : std::uint8_t {
  kTimeout,    // wait_timeout passed
  kBusy,       // no_wait and the mutex was held
  kCancelled,  // the caller went away while waiting
  kQuota,      // max_mutexes or max_mutex_waiters was full
};
inline constexpr std::size_t kLockFailureCount = 4;

/// One tenant's handles; references stay valid for the owning MutexMetrics' lifetime.
struct TenantMutexMetrics {
  prometheus::Gauge& mutexes;
  prometheus::Gauge& holders;
  prometheus::Gauge& waiters;
  prometheus::Histogram& wait;
  prometheus::Counter& acquisitions;
  prometheus::Counter& lease_expiries;
  prometheus::Counter& stale_unlocks;
  prometheus::Counter& stale_refreshes;
  std::array<prometheus::Counter*, kLockFailureCount> lock_failures{};

  prometheus::Counter& lock_failure(LockFailure reason) const noexcept {
    return *lock_failures[static_cast<std::size_t>(reason)];
  }
};

class MutexMetrics {
 public:
  /// Registers the families on `registry`, which must outlive this object.
  explicit MutexMetrics(prometheus::Registry& registry);
  ~MutexMetrics();
  MutexMetrics(const MutexMetrics&) = delete;
  MutexMetrics& operator=(const MutexMetrics&) = delete;

  /// The tenant's handles, built on the first call for `tenant` (idempotent).
  TenantMutexMetrics& add_tenant(const std::string& tenant);

 private:
  prometheus::Family<prometheus::Gauge>& mutexes_;
  prometheus::Family<prometheus::Gauge>& holders_;
  prometheus::Family<prometheus::Gauge>& waiters_;
  prometheus::Family<prometheus::Histogram>& wait_;
  prometheus::Family<prometheus::Counter>& acquisitions_;
  prometheus::Family<prometheus::Counter>& lease_expiries_;
  prometheus::Family<prometheus::Counter>& stale_guards_;
  prometheus::Family<prometheus::Counter>& lock_failures_;

  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<TenantMutexMetrics>> tenants_;
};

}  // namespace orch::mutexes
