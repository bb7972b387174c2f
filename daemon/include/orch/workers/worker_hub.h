#pragma once
/// The remote workers of one tenant and the attempts waiting for them, independent of gRPC
/// (WorkerService.Connect drives the worker side, the engine's worker leaf the attempt side).
///
/// Workers connect naming the queues they serve and their slots (assignments outstanding at
/// once). An attempt of a `worker` node is submitted to its queue (FIFO per queue) and handed
/// to a connected worker of that queue with a free slot: the one with the fewest assignments
/// outstanding, ties going to the one that waited longest for work. A worker whose slot frees
/// takes the oldest waiting attempt of its queues.
///
/// An attempt ends exactly once: with the worker's report, with `worker_lost` when its worker
/// disconnects, or when the attempt gives it up (a deadline passed, or it was cancelled from
/// above); a worker that still runs a given-up assignment is sent a Cancel, and anything it
/// reports about it later is refused (never applied) and counted.
///
/// The hub keeps no timers: the attempt reads its next deadline with next_deadline(), waits
/// for it or for its result, and calls expire() when the deadline has passed.
///
/// Thread-safety: every member may be called from any thread; one short mutex guards the hub
/// and is never held while calling a WorkerSink.

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <deque>
#include <functional>
#include <variant>
#include <vector>

#include "orch/common/duration.h"
#include "orch/engine/clock.h"
#include "orch/engine/leaf.h"
#include "orch/engine/wait_queue.h"

namespace prometheus {
class Registry;
}

namespace orch::workers {

struct WorkerMetrics;
class WorkerMetricFamilies;

/// Why the server cancels an assignment (the proto's CancelReason).
enum class CancelReason : std::uint8_t { kAborted, kDeadline, kHeartbeatTimeout };

/// Why a worker's report is refused (the proto's RefusalReason).
enum class RefusalReason : std::uint8_t {
  kUnknownAssignment,
  kMismatch,
  kCancelled,
  kAlreadyReported,
  kTooLarge,
};
inline constexpr std::size_t kRefusalReasonCount = 5;

/// "unknown_assignment", "mismatch", "cancelled", "already_reported", "too_large".
std::string_view refusal_reason_name(RefusalReason reason);

/// A queue name: 1 to 128 characters from [A-Za-z0-9._:/-]. Empty when valid, else the reason.
std::string check_queue_name(std::string_view name);
inline constexpr std::size_t kMaxQueueName = 128;

/// One attempt handed to a worker.
struct Assignment {
  std::string assignment_id;
  std::string task_id;
  std::uint32_t attempt = 1;
  std::uint64_t fencing_token = 0;
  std::string queue;
  std::string payload;
  std::optional<engine::TimePoint> deadline;  // from start_to_close
  std::optional<Duration> heartbeat_timeout;
};

struct CancelNotice {
  std::string assignment_id;
  CancelReason reason = CancelReason::kAborted;
  std::string message;
};

struct Refusal {
  std::string assignment_id;
  RefusalReason reason = RefusalReason::kUnknownAssignment;
  std::string message;
};

/// One message for a worker's stream: a batch of assignments, a cancel or a refusal.
using Outgoing = std::variant<std::vector<Assignment>, CancelNotice, Refusal>;

/// A worker's report on one assignment (a Result or an Error).
struct Report {
  std::string assignment_id;
  std::string task_id;
  std::uint32_t attempt = 0;
  std::uint64_t fencing_token = 0;
  bool succeeded = false;
  std::string output;  // the result when succeeded, else the error message
  bool retryable = true;
  std::string reason;  // the worker's short cause of an error, shown in the message
};

/// The stream of one connected worker, as the hub sees it.
class WorkerSink {
 public:
  virtual ~WorkerSink() = default;
  /// Messages are waiting in next_message().
  virtual void wake() = 0;
  /// End the stream with UNAVAILABLE and `why` (the daemon is shutting down, or the worker
  /// went silent). The stream then disconnects itself.
  virtual void close(const std::string& why) = 0;
};

/// What the engine asks of one attempt.
struct AttemptRequest {
  std::string task_id;
  std::uint32_t attempt = 1;
  std::uint64_t fencing_token = 0;
  std::string queue;
  std::string payload;
  std::optional<Duration> schedule_to_start;
  std::optional<Duration> start_to_close;
  std::optional<Duration> heartbeat;
};

/// How an attempt ended, as the hub decided it.
struct AttemptResult {
  bool succeeded = false;
  std::string output;  // the worker's result; the error message otherwise
  engine::FailureReason reason = engine::FailureReason::kWorkerError;
  bool retryable = true;
  std::string worker_id;  // the worker that ran it; empty when none took it
};

class WorkerHub {
 public:
  struct Options {
    /// Largest payload, result output or error message accepted (the tenant's
    /// max_message_bytes).
    std::uint64_t max_output_bytes = 1 << 20;
    /// Refusals waiting to be written to one worker; more are counted but not sent.
    std::size_t max_queued_refusals = 64;
    /// Given-up or reported assignment ids remembered per worker, to say why a late report is
    /// refused; older ones are refused as unknown.
    std::size_t remembered_per_worker = 4096;
    /// Workers serving one tenant at once.
    std::size_t max_workers = 10'000;
  };
  using AttemptId = std::uint64_t;

  WorkerHub(std::string tenant, Options options, WorkerMetrics* metrics = nullptr);
  ~WorkerHub();
  WorkerHub(const WorkerHub&) = delete;
  WorkerHub& operator=(const WorkerHub&) = delete;

  const std::string& tenant() const { return tenant_; }
  Options options() const;
  /// A configuration reload: the largest output accepted from now on.
  void set_max_output_bytes(std::uint64_t bytes);

  // --- the worker side (WorkerService.Connect) ---

  /// Registers a worker (queues already validated, slots >= 1); returns its id, or nullopt
  /// when the tenant has max_workers already. Waiting attempts of its queues are assigned at
  /// once (the sink is woken).
  std::optional<std::string> connect(std::string name, std::vector<std::string> queues,
                                     std::uint32_t slots, std::shared_ptr<WorkerSink> sink);
  /// The worker is gone: every assignment it still holds fails as retryable `worker_lost`.
  /// Idempotent.
  void disconnect(const std::string& worker_id);
  void set_slots(const std::string& worker_id, std::uint32_t slots);
  /// The worker is alive, and so is each listed assignment it holds.
  void heartbeat(const std::string& worker_id, const std::vector<std::string>& assignment_ids);
  /// Applies a report, or queues a refusal to the worker (and counts it).
  void report(const std::string& worker_id, Report report);
  /// Applies several reports at once (one lock, one wake of the worker's stream).
  void report(const std::string& worker_id, std::vector<Report> reports);
  /// The next message for the worker's stream (consecutive assignments come as one batch).
  std::optional<Outgoing> next_message(const std::string& worker_id);
  /// Closes every worker's stream (see WorkerSink::close).
  void close_all(const std::string& why);
  /// Closes the streams of workers silent since `before`.
  void close_silent(engine::TimePoint before, const std::string& why);

  // --- the attempt side (the engine's worker leaf) ---

  /// Queues an attempt on its queue and hands it to a worker if one has a free slot.
  AttemptId submit(AttemptRequest request);
  /// Called once with the result of an attempt submitted with it (a report, `worker_lost`, an
  /// oversized output), on the thread that ended the attempt, right after the hub's mutex is
  /// released; never when the attempt is withdrawn.
  using AttemptDone = std::function<void(AttemptResult)>;
  /// Like submit(), but the result goes to `done` instead of take_result() (the attempt is
  /// forgotten as it ends). For attempts with no deadline: schedule_to_start, start_to_close
  /// and heartbeat must be unset, since nothing calls expire() for it.
  AttemptId submit(AttemptRequest request, AttemptDone done);
  /// Gives an attempt up (cancelled from above) as abandon() does. True when it was still
  /// outstanding, so its `done` will never be called; false when it had ended already.
  bool withdraw(AttemptId id, const std::string& message);
  /// When the attempt must be looked at again (a deadline); nullopt when it has none left to
  /// wait for (or it already ended).
  std::optional<engine::TimePoint> next_deadline(AttemptId id) const;
  /// The attempt's result once it has one (the attempt is then forgotten).
  std::optional<AttemptResult> take_result(AttemptId id);
  /// Gives the attempt up if one of its deadlines has passed at `now` (cancelling it on its
  /// worker) and returns the failure; nullopt when none has passed.
  std::optional<AttemptResult> expire(AttemptId id, engine::TimePoint now);
  /// The attempt was cancelled from above: forgotten, and cancelled on its worker if one has it.
  void abandon(AttemptId id, const std::string& message);

  /// Completes (with no error) once the attempt has a result; cancellable (operation_aborted).
  template <typename CompletionToken>
  auto async_wait(AttemptId id, boost::asio::any_io_executor executor, CompletionToken&& token) {
    engine::WaitQueue* queue = waiters_of(id);
    return engine::async_park(
        mutex_, queue,
        [this, id]() -> std::optional<boost::system::error_code> {
          if (ready_locked(id)) return boost::system::error_code{};
          return std::nullopt;
        },
        [this, id]() -> engine::WaitQueue* { return waiters_locked(id); }, std::move(executor),
        std::forward<CompletionToken>(token));
  }

  // --- observation ---

  std::size_t backlog() const;    // attempts waiting for a worker
  std::size_t connected() const;  // workers connected
  std::size_t running() const;    // assignments outstanding on workers
  std::uint64_t refused(RefusalReason reason) const;

 private:
  struct Attempt;
  struct Worker;

  engine::WaitQueue* waiters_of(AttemptId id);
  bool ready_locked(AttemptId id) const;
  engine::WaitQueue* waiters_locked(AttemptId id);

  // What to wake once the mutex is released.
  struct Wakes {
    std::vector<std::shared_ptr<WorkerSink>> sinks;  // streams with messages waiting
    std::vector<engine::WaitQueue::Waiter> waiters;  // attempts to look at again
    std::vector<std::pair<AttemptDone, AttemptResult>> done;  // attempts with a callback
    void add(const std::shared_ptr<WorkerSink>& sink) {
      if (sinks.empty() || sinks.back() != sink) sinks.push_back(sink);
    }
  };
  static void wake_all(Wakes& wakes);
  void place_locked(AttemptId id, Attempt& attempt, Wakes& wakes);
  void fill_locked(Worker& worker, Wakes& wakes);
  void assign_locked(AttemptId id, Attempt& attempt, Worker& worker, Wakes& wakes);
  void unqueue_locked(AttemptId id, const Attempt& attempt);
  void cancel_running_locked(AttemptId id, Attempt& attempt, CancelReason reason,
                             const std::string& message, Wakes& wakes);
  void finish_locked(AttemptId id, Attempt& attempt, AttemptResult result, Wakes& wakes);
  void report_locked(Worker& worker, Report report, Wakes& wakes);
  void remember_locked(Worker& worker, AttemptId id, RefusalReason why);
  void refuse_locked(Worker& worker, const std::string& assignment_id, RefusalReason reason,
                     std::string message, Wakes& wakes);
  void update_gauges_locked();
  std::string describe_locked(const std::string& worker_id) const;

  const std::string tenant_;
  Options options_;  // guarded by mutex_
  WorkerMetrics* metrics_;

  mutable std::mutex mutex_;
  AttemptId last_attempt_ = 0;
  std::uint64_t last_worker_ = 0;
  std::uint64_t assign_clock_ = 0;  // orders assignments, for fairness
  std::map<AttemptId, std::unique_ptr<Attempt>> attempts_;
  std::map<std::string, std::deque<AttemptId>, std::less<>> queues_;  // waiting, FIFO
  std::map<std::string, std::unique_ptr<Worker>, std::less<>> workers_;
  std::size_t backlog_ = 0;
  std::size_t running_ = 0;
  std::array<std::uint64_t, kRefusalReasonCount> refused_{};
};

/// Every tenant's hub, made at start-up; plus the worker metrics families.
class WorkerHubs {
 public:
  /// Builds the worker metric families on `registry` (null: no metrics).
  explicit WorkerHubs(prometheus::Registry* registry = nullptr);
  ~WorkerHubs();
  WorkerHubs(const WorkerHubs&) = delete;
  WorkerHubs& operator=(const WorkerHubs&) = delete;

  /// Adds a tenant's hub; for a tenant that has one already (a configuration reload), only
  /// its max_output_bytes changes: connected workers and waiting attempts stay.
  WorkerHub& add_tenant(const std::string& tenant, WorkerHub::Options options);
  WorkerHub* find(std::string_view tenant) const;
  void close_all(const std::string& why);
  /// Closes the streams of workers silent since `before`, in every tenant.
  void close_silent(engine::TimePoint before, const std::string& why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::workers
