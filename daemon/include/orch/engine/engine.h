#pragma once
/// The task engine: spawns task trees, runs them as coroutines under each tenant's semaphore,
/// keeps their results for the retention period, and answers joins, selects and watches.
///
/// Every task runs on its own strand; its node tree is a tree of coroutines composed with
/// Asio's parallel groups, so cancellation (abort, timeout, lost select, shutdown) travels down
/// the tree through cancellation slots. Every state change of a task goes through one private
/// function (`transition_locked`), the seam for a durable store.
///
/// Thread-safety: every public member may be called from any thread. The task table is guarded
/// by one short mutex that is never held across a co_await.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "orch/engine/error.h"
#include "orch/engine/node.h"

namespace orch::metrics {
class Metrics;
}
namespace orch::workers {
class WorkerHubs;
}

namespace orch::work {
struct HttpPolicy;
}

namespace orch::channels {
class ChannelRegistry;
}

namespace orch::engine {

struct TaskRecord;
struct TenantState;
class TaskWatch;

struct EngineOptions {
  /// How long a terminal task's result stays readable.
  Duration retention = std::chrono::hours(1);
  /// Where `worker` nodes find remote workers (one hub per tenant); null: worker nodes fail.
  workers::WorkerHubs* workers = nullptr;
};

struct TenantSettings {
  std::string name;
  std::uint32_t max_concurrency = 16;
  std::uint32_t max_queued = 10'000;
  /// http nodes: the tenant's host guard, the TLS context and defaults (work/http_client.h);
  /// without one, http attempts fail.
  std::shared_ptr<const work::HttpPolicy> http{};
};

using Labels = std::map<std::string, std::string>;

struct SpawnArgs {
  Node spec;
  std::string name;
  Labels labels;
  std::string idempotency_key;
};

struct SpawnOutcome {
  std::string id;
  bool existing = false;  // the idempotency key matched a task spawned before
};

/// A consistent copy of a task as it was when read.
struct TaskSnapshot {
  std::string id;
  std::string name;
  Labels labels;
  State state = State::kPending;
  std::optional<NodeResult> result;  // set once terminal
  std::string idempotency_key;
  TimePoint created;
  std::optional<TimePoint> started;
  std::optional<TimePoint> finished;
  std::shared_ptr<const Node> spec;
};

struct ListQuery {
  std::optional<State> state;
  Labels labels;  // all must match
  std::uint32_t page_size = 100;
  std::string page_token;  // list continues below this id
};

struct ListPage {
  std::vector<TaskSnapshot> tasks;  // newest first
  std::string next_page_token;      // empty on the last page
};

/// How much of a task a snapshot copies.
enum class SnapshotDetail {
  /// Everything: name, labels, idempotency key, times, the spec and the whole result tree.
  kFull,
  /// The id, state and times; `result` only for a terminal task that did not succeed, and
  /// then only its kind, state, error and times (no children, outputs or attempts). No spec,
  /// name, labels or idempotency key.
  kState,
};

struct JoinOptions {
  bool fail_fast = false;
  bool abort_remaining = false;
  std::optional<Duration> timeout;
  SnapshotDetail detail = SnapshotDetail::kFull;  // of the tasks the join answers with
  /// A passed timeout answers with the tasks as they are, not with kDeadlineExceeded.
  bool answer_on_timeout = false;
};

struct SelectOutcome {
  std::uint32_t winner = 0;  // index into the requested ids
  TaskSnapshot task;
};

/// Called once with the task as it was when it turned terminal (see Engine::on_terminal).
using TerminalCallback = std::function<void(TaskSnapshot)>;

/// Where Engine::on_terminal calls back.
enum class TerminalDelivery {
  kPost,    // on the executor, never inside on_terminal nor on the thread that ends the task
  kInline,  // with no hand-off: for a task already terminal, at once on the calling thread
            // before on_terminal returns; otherwise on the thread that ends the task, once the
            // engine's locks are released (a root worker's report, a coroutine task's end;
            // aborts from inside the engine still post). The callback must not block.
};

/// A callback registered with Engine::on_terminal; give it to cancel_on_terminal.
struct TerminalWait {
  std::shared_ptr<void> group = {};  // opaque: the engine's wait for the task
  std::uint64_t waiter = 0;          // 0: the task was terminal, the callback is queued
};

struct TenantUsage {
  std::uint32_t permits_in_use = 0;
  std::uint32_t permits_waiting = 0;
  std::uint32_t live_tasks = 0;
  std::uint32_t stored_tasks = 0;
};

/// One subscriber's stream of task state changes, bounded: a reader that falls more than
/// kMaxBacklog events behind is ended with RESOURCE_EXHAUSTED instead of buffering forever.
class TaskWatch {
 public:
  static constexpr std::size_t kMaxBacklog = 10'000;
  virtual ~TaskWatch() = default;
  /// Completes with the next event; with nullopt once the stream is over (all watched tasks
  /// terminal, or the engine stopping); with an error when it overflowed. Cancellable: a
  /// cancelled wait takes no event with it.
  virtual boost::asio::awaitable<Result<std::optional<TaskSnapshot>>> next() = 0;
};

class Engine {
 public:
  Engine(boost::asio::any_io_executor executor, EngineOptions options,
         metrics::Metrics* metrics = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Registers a tenant (at start-up, before any request for it), or changes one registered
  /// before (a configuration reload) without touching its tasks: a larger max_concurrency
  /// starts queued tasks at once; a smaller one lets running tasks finish and grants permits
  /// again only below the new limit; max_queued applies to the next spawn and the http policy
  /// to the next attempt.
  void add_tenant(const TenantSettings& settings);

  /// Admits and starts a task. RESOURCE_EXHAUSTED when the tenant's queue is full;
  /// UNAVAILABLE once stop_accepting() was called. The spec must already be validated.
  /// A root `sleep` of duration 0 that gets its permit at once runs and ends inside this call,
  /// on the calling thread: it is terminal (SUCCEEDED) when spawn returns.
  Result<SpawnOutcome> spawn(std::string_view tenant, SpawnArgs args);
  /// All or nothing: either every task is admitted or none.
  Result<std::vector<SpawnOutcome>> spawn_batch(std::string_view tenant,
                                                std::vector<SpawnArgs> batch);

  Result<TaskSnapshot> get(std::string_view tenant, std::string_view id) const;
  Result<ListPage> list(std::string_view tenant, const ListQuery& query) const;
  /// Cancels the named tasks; returns the ids that were still running. NOT_FOUND (naming the
  /// id) when any id is unknown, and then nothing is aborted. `reason` becomes their error.
  Result<std::vector<std::string>> abort(std::string_view tenant,
                                         const std::vector<std::string>& ids,
                                         const std::string& reason = "cancelled: aborted by request");
  Result<TenantUsage> usage(std::string_view tenant) const;

  /// Waits until every task is terminal (or, with fail_fast, one did not succeed). Completes
  /// with DEADLINE_EXCEEDED past the timeout; with CANCELLED when the caller's cancellation
  /// slot fires. Neither aborts the tasks unless abort_remaining says so.
  boost::asio::awaitable<Result<std::vector<TaskSnapshot>>> join(std::string tenant,
                                                                 std::vector<std::string> ids,
                                                                 JoinOptions options);
  /// Waits until the first task is terminal; optionally aborts the others.
  boost::asio::awaitable<Result<SelectOutcome>> select(std::string tenant,
                                                       std::vector<std::string> ids,
                                                       bool abort_losers,
                                                       std::optional<Duration> timeout);
  /// Calls `done` once the task is terminal, with its snapshot then (at once when it already
  /// is). `done` runs on `executor` (the engine's when none is given), except with
  /// TerminalDelivery::kInline (see there; the caller must then hold no lock that `done` takes
  /// while it calls this). `detail`: how much of the task the snapshot holds. NOT_FOUND
  /// (naming the id) for an unknown task. The callback way to wait for one task: no coroutine,
  /// no timer. The caller may drop the TerminalWait; only cancel_on_terminal stops the call.
  Result<TerminalWait> on_terminal(std::string_view tenant, std::string_view id,
                                   TerminalCallback done,
                                   std::optional<boost::asio::any_io_executor> executor = {},
                                   TerminalDelivery delivery = TerminalDelivery::kPost,
                                   SnapshotDetail detail = SnapshotDetail::kFull);
  /// Unregisters a callback of on_terminal. True: it will never run; false: it has run, or is
  /// on its way and will run.
  bool cancel_on_terminal(const TerminalWait& wait);
  /// Subscribes to the given tasks' state changes (all the tenant's tasks when empty). The
  /// current state of each named task is the first event.
  Result<std::shared_ptr<TaskWatch>> watch(std::string_view tenant,
                                           const std::vector<std::string>& ids);

  /// From now on spawns get UNAVAILABLE.
  void stop_accepting();
  bool accepting() const;
  /// Waits up to `grace` for running tasks to end, then cancels the rest (reason: shutdown)
  /// and waits for them to settle; ends every watch. Call after stop_accepting().
  boost::asio::awaitable<void> drain(Duration grace);

  /// Refreshes the per-tenant gauges (called before each metrics scrape).
  void update_gauges() const;

  /// The tenants' named channels, used by send and recv nodes (set at start-up, before any
  /// spawn; must outlive the running tasks). Without it those nodes fail.
  void set_channels(channels::ChannelRegistry* registry);
  channels::ChannelRegistry* channels() const;

  // Called by running tasks (engine internals).
  void mark_running(TaskRecord& record);
  TenantState& tenant_state(TaskRecord& record);
  workers::WorkerHubs* workers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::engine
