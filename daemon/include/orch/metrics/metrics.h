#pragma once
/// The daemon's Prometheus metrics: one registry, every family built once at start-up, and
/// handles that make the hot path an array index (never a `Family::Add` while tasks run).
///
/// Thread-safety: every handle (`prometheus::Counter`, `Gauge`, `Histogram`) may be used from any
/// thread concurrently; counters and gauges are atomics, a histogram guards its buckets with its
/// own short mutex. `Metrics`' member functions are thread-safe as documented on each.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "orch/common/grpc_codes.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

namespace prometheus {
class Collectable;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace orch::metrics {

/// The `kind` label: a node's kind. Same order as the engine's NodeKind, so a cast converts.
enum class KindLabel : std::uint8_t {
  kSleep,
  kHttp,
  kExec,
  kWorker,
  kSend,
  kRecv,
  kJoin,
  kSelect,
  kTimeout,
  kSequence,
};
inline constexpr std::size_t kKindLabelCount = 10;

/// The `outcome` label of a finished task.
enum class OutcomeLabel : std::uint8_t {
  kSucceeded,
  kFailed,
  kCancelled,
  kTimedOut,
};
inline constexpr std::size_t kOutcomeLabelCount = 4;

/// The `reason` label of a refused task submission.
enum class RejectLabel : std::uint8_t {
  kInvalid,      // the spec did not validate
  kQuota,        // a tenant quota is full
  kUnavailable,  // the daemon is shutting down
  kPermission,   // the tenant may not use this kind or object
};
inline constexpr std::size_t kRejectLabelCount = 4;

/// The `code` label of orch_exec_exits_total: how an exec attempt's process ended. A fixed set,
/// so any exit code keeps the label set bounded.
enum class ExecExitLabel : std::uint8_t {
  k0,
  k1,
  k2,
  k126,    // found but not executable (shell convention)
  k127,    // not found (shell convention)
  kOther,  // any other exit code
  kSignal, // ended by a signal
};
inline constexpr std::size_t kExecExitLabelCount = 7;

/// The label for an exit code, or kSignal when there is none (the process died of a signal).
ExecExitLabel exec_exit_label(std::optional<int> exit_code) noexcept;

/// gRPC status codes 0 (OK) .. 16 (UNAUTHENTICATED).
using orch::kGrpcCodeCount;

/// The label values: "sleep", ..., "sequence"; "succeeded", "failed", "cancelled", "timed_out";
/// "invalid", "quota", "unavailable", "permission".
std::string_view label_value(KindLabel kind) noexcept;
std::string_view label_value(OutcomeLabel outcome) noexcept;
std::string_view label_value(RejectLabel reason) noexcept;
/// "0", "1", "2", "126", "127", "other", "signal".
std::string_view label_value(ExecExitLabel code) noexcept;

/// The inverse of `label_value`; nullopt for any other text.
std::optional<KindLabel> parse_kind_label(std::string_view text) noexcept;
std::optional<OutcomeLabel> parse_outcome_label(std::string_view text) noexcept;
std::optional<RejectLabel> parse_reject_label(std::string_view text) noexcept;

/// "OK", "CANCELLED", ..., "UNAUTHENTICATED"; "UNKNOWN" for a number outside 0..16.
std::string_view grpc_code_name(int code) noexcept;

/// Per-tenant handles, built once when the tenant is registered (every kind, outcome and reason
/// child included); references stay valid for the owning `Metrics`' lifetime.
///
/// Thread-safety: all members may be used from any thread (see the file comment).
struct TenantMetrics {
  prometheus::Gauge& tasks_running;    ///< orch_tasks_running{tenant}
  prometheus::Gauge& tasks_pending;    ///< orch_tasks_pending{tenant}: waiting for a permit
  prometheus::Gauge& permits_in_use;   ///< orch_semaphore_permits_in_use{tenant}
  prometheus::Gauge& permits_limit;    ///< orch_semaphore_permits{tenant}: max_concurrency
  prometheus::Gauge& permits_waiting;  ///< orch_semaphore_waiters{tenant}
  prometheus::Histogram& permit_wait;  ///< orch_semaphore_wait_seconds{tenant}

  /// orch_tasks_spawned_total{tenant,kind}
  prometheus::Counter& spawned(KindLabel kind) const noexcept {
    return *spawned_[static_cast<std::size_t>(kind)];
  }
  /// orch_tasks_finished_total{tenant,kind,outcome}
  prometheus::Counter& finished(KindLabel kind, OutcomeLabel outcome) const noexcept {
    return *finished_[static_cast<std::size_t>(kind)][static_cast<std::size_t>(outcome)];
  }
  /// orch_tasks_rejected_total{tenant,reason}
  prometheus::Counter& rejected(RejectLabel reason) const noexcept {
    return *rejected_[static_cast<std::size_t>(reason)];
  }
  /// The same by label value; throws std::invalid_argument for a reason outside the closed set
  /// (a programming error: reasons come from our code, never from the network).
  prometheus::Counter& rejected(std::string_view reason) const;

  /// orch_task_attempts_total{tenant,kind} and orch_task_retries_total{tenant,kind} (attempts
  /// after the first), for the work kinds http, exec and worker; nullptr for other kinds.
  prometheus::Counter* attempts(KindLabel kind) const noexcept {
    return attempts_[static_cast<std::size_t>(kind)];
  }
  prometheus::Counter* retries(KindLabel kind) const noexcept {
    return retries_[static_cast<std::size_t>(kind)];
  }
  /// orch_task_attempt_failures_total{tenant,kind,reason}. The child is made on first use
  /// (under a short mutex); `reason` comes from the engine's closed set of failure reasons, so
  /// the label set stays bounded.
  prometheus::Counter& attempt_failures(KindLabel kind, std::string_view reason);

  /// orch_exec_exits_total{tenant,code}: exec attempts whose process ended, by exit code.
  prometheus::Counter& exec_exits(ExecExitLabel code) const noexcept {
    return *exec_exits_[static_cast<std::size_t>(code)];
  }

  TenantMetrics(const TenantMetrics&) = delete;
  TenantMetrics& operator=(const TenantMetrics&) = delete;

 private:
  friend class Metrics;
  TenantMetrics(prometheus::Gauge& running, prometheus::Gauge& pending, prometheus::Gauge& in_use,
                prometheus::Gauge& limit, prometheus::Gauge& waiting, prometheus::Histogram& wait);

  std::array<prometheus::Counter*, kKindLabelCount> spawned_{};
  std::array<std::array<prometheus::Counter*, kOutcomeLabelCount>, kKindLabelCount> finished_{};
  std::array<prometheus::Counter*, kRejectLabelCount> rejected_{};
  std::array<prometheus::Counter*, kKindLabelCount> attempts_{};
  std::array<prometheus::Counter*, kKindLabelCount> retries_{};
  std::array<prometheus::Counter*, kExecExitLabelCount> exec_exits_{};

  std::string tenant_;
  prometheus::Family<prometheus::Counter>* failures_family_ = nullptr;
  std::mutex failures_mutex_;
  std::map<std::pair<KindLabel, std::string>, prometheus::Counter*, std::less<>> failures_;
};

/// One interval schedule's series, made when the schedule is created and removed by the
/// destructor, so a deleted schedule leaves nothing behind; the label set is bounded by the
/// tenants' `max_schedules`. Destroy it before a schedule of the same name may be created again.
///
/// Thread-safety: the handles as in the file comment; destruction must not race their use.
class ScheduleMetrics {
 public:
  prometheus::Counter& fired;       ///< orch_schedule_ticks_fired_total{tenant,schedule}
  prometheus::Counter& missed;      ///< orch_schedule_ticks_missed_total{tenant,schedule}
  prometheus::Counter& skipped;     ///< orch_schedule_ticks_skipped_total{tenant,schedule}
  prometheus::Histogram& lateness;  ///< orch_schedule_tick_lateness_seconds{tenant,schedule}

  ~ScheduleMetrics();
  ScheduleMetrics(const ScheduleMetrics&) = delete;
  ScheduleMetrics& operator=(const ScheduleMetrics&) = delete;

 private:
  friend class Metrics;
  ScheduleMetrics(prometheus::Family<prometheus::Counter>& fired_family,
                  prometheus::Family<prometheus::Counter>& missed_family,
                  prometheus::Family<prometheus::Counter>& skipped_family,
                  prometheus::Family<prometheus::Histogram>& lateness_family,
                  const std::map<std::string, std::string>& labels);

  prometheus::Family<prometheus::Counter>& fired_family_;
  prometheus::Family<prometheus::Counter>& missed_family_;
  prometheus::Family<prometheus::Counter>& skipped_family_;
  prometheus::Family<prometheus::Histogram>& lateness_family_;
};

/// Owns the registry and the daemon's metric families, plus the process collector
/// (`process_*` from /proc/self) and `orch_build_info{version}`.
///
/// Thread-safety: all member functions may be called concurrently from any thread. Registration
/// (`add_tenant`, `add_rpc_method`) takes a short mutex and is meant for start-up; the hot-path
/// functions (`task_duration`, `observe_rpc`, the `TenantMetrics` handles) never add children.
class Metrics {
 public:
  /// Registers all families and the process collector.
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /// Creates the tenant's children (every kind/outcome/reason). Idempotent: a second call with
  /// the same name returns the existing handles. Throws std::invalid_argument for an empty name.
  TenantMetrics& add_tenant(const std::string& name);

  /// The series of schedule `name` of `tenant` (see ScheduleMetrics).
  std::unique_ptr<ScheduleMetrics> add_schedule(const std::string& tenant, const std::string& name);

  /// orch_task_duration_seconds{kind}, buckets from 1 ms to 1 h.
  prometheus::Histogram& task_duration(KindLabel kind) const noexcept {
    return *task_duration_[static_cast<std::size_t>(kind)];
  }

  /// Registers a gRPC method, the short "Service/Method", with its
  /// orch_grpc_requests_total{method,code} children for all 17 codes and its
  /// orch_grpc_request_duration_seconds{method} histogram. Idempotent.
  void add_rpc_method(const std::string& method);

  /// Counts one finished RPC and observes its duration. A method that was never registered is
  /// counted as method="unknown" (so a bug cannot grow the label set); a code outside 0..16 as
  /// UNKNOWN. Never adds children.
  void observe_rpc(std::string_view method, int grpc_code, double seconds);

  /// Registers `hook` to run at the start of every serialize(), to refresh gauges that are read
  /// rather than kept current (e.g. per-tenant task and permit counts). Call at start-up.
  void on_scrape(std::function<void()> hook);

  /// Runs the scrape hooks, then renders everything in the registry plus the process metrics,
  /// in the Prometheus text format 0.0.4.
  std::string serialize() const;

  /// The registry, for later components to build their own families on (once, at start-up).
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  struct RpcMetrics {
    std::array<prometheus::Counter*, kGrpcCodeCount> requests{};
    prometheus::Histogram* duration = nullptr;
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };

  RpcMetrics make_rpc_metrics(const std::string& method);

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Collectable> process_collector_;

  prometheus::Family<prometheus::Gauge>& tasks_running_;
  prometheus::Family<prometheus::Gauge>& tasks_pending_;
  prometheus::Family<prometheus::Gauge>& permits_in_use_;
  prometheus::Family<prometheus::Gauge>& permits_limit_;
  prometheus::Family<prometheus::Gauge>& permits_waiting_;
  prometheus::Family<prometheus::Histogram>& permit_wait_;
  prometheus::Family<prometheus::Counter>& spawned_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Family<prometheus::Counter>& rejected_;
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& attempt_failures_;
  prometheus::Family<prometheus::Counter>& exec_exits_;
  prometheus::Family<prometheus::Histogram>& task_duration_family_;
  prometheus::Family<prometheus::Counter>& schedule_fired_;
  prometheus::Family<prometheus::Counter>& schedule_missed_;
  prometheus::Family<prometheus::Counter>& schedule_skipped_;
  prometheus::Family<prometheus::Histogram>& schedule_lateness_;
  prometheus::Family<prometheus::Counter>& rpc_requests_;
  prometheus::Family<prometheus::Histogram>& rpc_duration_;
  prometheus::Family<prometheus::Gauge>& build_info_;

  std::array<prometheus::Histogram*, kKindLabelCount> task_duration_{};

  mutable std::mutex scrape_mutex_;
  std::vector<std::function<void()>> scrape_hooks_;

  std::mutex tenants_mutex_;
  std::map<std::string, std::unique_ptr<TenantMetrics>, std::less<>> tenants_;

  // Node-based map: a found element's address stays valid after the lock is released.
  std::shared_mutex rpc_mutex_;
  std::unordered_map<std::string, RpcMetrics, StringHash, std::equal_to<>> rpc_methods_;
  RpcMetrics unknown_rpc_;
};

}  // namespace orch::metrics
