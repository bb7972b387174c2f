#pragma once
// Engine internals: the state kept per task and per tenant.

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "orch/engine/engine.h"
#include "orch/engine/tenant_semaphore.h"
#include "orch/engine/wait_queue.h"

namespace orch::metrics {
struct TenantMetrics;
}

namespace orch::engine {

class WatchImpl;

struct TaskRecord {
  TaskRecord(std::string id, TenantState& tenant, SpawnArgs&& args,
             boost::asio::strand<boost::asio::any_io_executor> strand)
      : id(std::move(id)),
        tenant(tenant),
        name(std::move(args.name)),
        labels(std::move(args.labels)),
        idempotency_key(std::move(args.idempotency_key)),
        spec(std::make_shared<const Node>(std::move(args.spec))),
        strand(std::move(strand)) {}

  // Fixed at spawn.
  const std::string id;
  TenantState& tenant;
  const std::string name;
  const Labels labels;
  const std::string idempotency_key;
  const std::shared_ptr<const Node> spec;

  // Guarded by the engine's mutex.
  State state = State::kPending;
  std::optional<NodeResult> result;
  TimePoint created;
  std::optional<TimePoint> started;
  std::optional<TimePoint> finished;
  WaitQueue terminal_waiters;  // completed when the task turns terminal

  // Owned by the strand.
  boost::asio::strand<boost::asio::any_io_executor> strand;
  boost::asio::cancellation_signal cancel;
  std::string cancel_reason;            // set before `cancel` is emitted
  std::optional<Permit> root_permit;  // a one-leaf task's permit, returned after it is terminal
};

struct TenantState {
  explicit TenantState(TenantSettings s) : settings(std::move(s)), semaphore(settings.max_concurrency) {}

  /// The http policy of the next attempt (a reload may replace it).
  std::shared_ptr<const work::HttpPolicy> http_policy() const {
    std::lock_guard lock(http_mutex);
    return settings.http;
  }

  TenantSettings settings;  // name fixed; the rest guarded by the engine's mutex, http as above
  mutable std::mutex http_mutex;
  TenantSemaphore semaphore;
  metrics::TenantMetrics* metrics = nullptr;

  // Guarded by the engine's mutex.
  std::map<std::string, std::shared_ptr<TaskRecord>> tasks;  // ids sort by spawn time
  std::unordered_map<std::string, std::string> idempotency;  // key -> id
  std::uint32_t live = 0;                                    // not yet terminal
  std::uint32_t pending = 0;
  std::uint32_t running = 0;
  std::vector<std::weak_ptr<WatchImpl>> watches;
};

}  // namespace orch::engine
