#include "orch/engine/engine.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>
#include <deque>
#include <set>
#include <span>

#include "bare_worker.h"
#include "engine_metrics.h"
#include "orch/engine/task_id.h"
#include "orch/workers/worker_hub.h"
#include "run_node.h"
#include "task_record.h"

namespace orch::engine {

namespace asio = boost::asio;
using asio::experimental::make_parallel_group;
using asio::experimental::wait_for_one;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr Duration kForever = std::chrono::hours(24 * 365 * 100);

Error not_found(std::string_view id) {
  return make_error(ErrorCode::kNotFound, "task " + std::string(id) + " not found");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Watches
// ---------------------------------------------------------------------------------------------

/// Finds a live watch by id; the engine's registry, guarded by the engine's mutex. A watch's
/// cancellation hook may outlive the watch, so it holds an id, never a pointer to it.
class WatchRegistry {
 public:
  std::uint64_t add(const std::shared_ptr<WatchImpl>& watch) {
    std::erase_if(watches_, [](const auto& entry) { return entry.second.expired(); });
    watches_.emplace(++last_id_, watch);
    return last_id_;
  }
  std::shared_ptr<WatchImpl> find(std::uint64_t id) const {
    auto it = watches_.find(id);
    return it == watches_.end() ? nullptr : it->second.lock();
  }

 private:
  std::map<std::uint64_t, std::weak_ptr<WatchImpl>> watches_;
  std::uint64_t last_id_ = 0;
};

class WatchImpl final : public TaskWatch {
 public:
  WatchImpl(std::mutex& mutex, WatchRegistry& registry, std::set<std::string> ids)
      : mutex_(mutex), registry_(registry), ids_(ids), remaining_(std::move(ids)) {}

  void set_id(std::uint64_t id) { id_ = id; }
  WaitQueue& reader() { return reader_; }

  asio::awaitable<Result<std::optional<TaskSnapshot>>> next() override {
    auto executor = co_await asio::this_coro::executor;
    auto [ec] = co_await async_park(
        mutex_, &reader_,
        [this]() -> std::optional<boost::system::error_code> {
          if (!events_.empty() || ended_ || overflowed_) return boost::system::error_code{};
          return std::nullopt;
        },
        [registry = &registry_, id = id_]() -> WaitQueue* {
          auto watch = registry->find(id);
          return watch ? &watch->reader() : nullptr;
        },
        executor, kAwait);
    if (ec) co_return make_error(ErrorCode::kCancelled, "watch cancelled");
    std::lock_guard lock(mutex_);
    if (overflowed_) {
      co_return make_error(ErrorCode::kResourceExhausted,
                           "watch fell more than " + std::to_string(kMaxBacklog) +
                               " events behind; reconnect and read current states with Get");
    }
    if (!events_.empty()) {
      TaskSnapshot event = std::move(events_.front());
      events_.pop_front();
      co_return std::optional<TaskSnapshot>(std::move(event));
    }
    co_return std::optional<TaskSnapshot>();
  }

  /// Whether this watch wants events of `id`. Called with the engine's mutex held.
  bool wants(const std::string& id) const { return ids_.empty() || ids_.contains(id); }

  /// Queues one event. Called with the engine's mutex held.
  void push_locked(TaskSnapshot event) {
    if (ended_ || overflowed_) return;
    if (events_.size() >= kMaxBacklog) {
      overflowed_ = true;
    } else {
      if (is_terminal(event.state)) remaining_.erase(event.id);
      events_.push_back(std::move(event));
      if (!ids_.empty() && remaining_.empty()) ended_ = true;
    }
    wake_locked();
  }

  /// Ends the stream once queued events are read. Called with the engine's mutex held.
  void end_locked() {
    ended_ = true;
    wake_locked();
  }

 private:
  void wake_locked() {
    if (auto w = reader_.pop_front()) WaitQueue::complete(std::move(*w), {});
  }

  std::mutex& mutex_;
  WatchRegistry& registry_;
  std::uint64_t id_ = 0;
  const std::set<std::string> ids_;
  std::set<std::string> remaining_;
  std::deque<TaskSnapshot> events_;
  bool ended_ = false;
  bool overflowed_ = false;
  WaitQueue reader_;
};

// ---------------------------------------------------------------------------------------------
// Waiting for groups of tasks
// ---------------------------------------------------------------------------------------------

struct GroupWait;

/// One task's entry in a waiting group, linked into that task's observer list. Guarded by the
/// engine's mutex.
struct TerminalLink {
  TerminalLink* prev = nullptr;
  TerminalLink* next = nullptr;
  TaskRecord* record = nullptr;  // null once unlinked
  GroupWait* group = nullptr;
  std::size_t index = 0;
};

/// A join's or select's wait: done when every task ended (kAll), one did not succeed
/// (kFailFast, or all ended), or the first ended (kFirst). Lives in the waiting coroutine's
/// frame; its destructor unlinks what is still linked. Guarded by the engine's mutex.
struct GroupWait {
  enum class Mode { kAll, kFailFast, kFirst };

  GroupWait(std::mutex& mutex, Mode mode, std::size_t count)
      : mutex(mutex), mode(mode), remaining(count), links(count) {}
  GroupWait(const GroupWait&) = delete;
  GroupWait& operator=(const GroupWait&) = delete;
  ~GroupWait() {
    std::lock_guard lock(mutex);
    for (auto& link : links) unlink_locked(link);
  }

  void link_locked(std::size_t index, TaskRecord& record) {
    TerminalLink& link = links[index];
    link.record = &record;
    link.group = this;
    link.index = index;
    link.prev = nullptr;
    link.next = record.observers;
    if (record.observers) record.observers->prev = &link;
    record.observers = &link;
  }

  static void unlink_locked(TerminalLink& link) {
    if (!link.record) return;
    if (link.prev) {
      link.prev->next = link.next;
    } else {
      link.record->observers = link.next;
    }
    if (link.next) link.next->prev = link.prev;
    link.prev = link.next = nullptr;
    link.record = nullptr;
  }

  void on_terminal_locked(std::size_t index, State state, std::vector<WaitQueue::Waiter>& wake) {
    if (done) return;
    if (!first) first = index;
    --remaining;
    if (remaining == 0 || mode == Mode::kFirst ||
        (mode == Mode::kFailFast && state != State::kSucceeded)) {
      done = true;
      for (auto& w : waiter.take_all()) wake.push_back(std::move(w));
    }
  }

  std::mutex& mutex;
  const Mode mode;
  std::size_t remaining;
  std::optional<std::size_t> first;
  bool done = false;
  WaitQueue waiter;
  std::vector<TerminalLink> links;
};

// ---------------------------------------------------------------------------------------------
// Engine state
// ---------------------------------------------------------------------------------------------

struct Engine::Impl {
  // The tasks one spawn or grant starts: most often one, kept inline.
  using TaskList = boost::container::small_vector<TaskPtr, 4>;

  Impl(Engine& engine, asio::any_io_executor executor, EngineOptions options,
       metrics::Metrics* metrics)
      : engine(engine), executor(std::move(executor)), options(options), metrics(metrics) {}

  Engine& engine;
  asio::any_io_executor executor;
  EngineOptions options;
  metrics::Metrics* metrics;
  channels::ChannelRegistry* channels = nullptr;
  TaskIdGenerator ids;

  mutable std::mutex mutex;
  std::map<std::string, std::unique_ptr<TenantState>, std::less<>> tenants;
  bool accepting = true;
  std::uint64_t live = 0;
  WaitQueue idle_waiters;  // completed when no task is live
  std::deque<TaskPtr> retained;  // terminal tasks in finish order
  WatchRegistry watches;

  // --- lookups (mutex held) ---

  TenantState* find_tenant_locked(std::string_view name) const {
    auto it = tenants.find(name);
    return it == tenants.end() ? nullptr : it->second.get();
  }

  Result<TenantState*> tenant_locked(std::string_view name) const {
    if (TenantState* t = find_tenant_locked(name)) return t;
    return make_error(ErrorCode::kInternal, "unknown tenant " + std::string(name));
  }

  TaskPtr find_task_locked(TenantState& tenant, std::string_view id) {
    const auto value = TaskIdGenerator::decode(id);
    return value ? TaskPtr(tenant.tasks.find(*value)) : nullptr;
  }

  TaskSnapshot snapshot_locked(const TaskRecord& r,
                               SnapshotDetail detail = SnapshotDetail::kFull) const {
    TaskSnapshot s;
    s.id = r.id_text();
    s.state = r.state;
    s.created = r.created;
    if (r.started != TimePoint{}) s.started = r.started;
    if (r.end) s.finished = r.end->finished;
    if (detail == SnapshotDetail::kState) {
      // No copy of the result tree, and no Node made for a bare sleep's spec.
      if (r.end && r.state != State::kSucceeded) {
        const NodeResult& full = r.end->result;
        NodeResult& brief = s.result.emplace();
        brief.kind = full.kind;
        brief.state = full.state;
        brief.error = full.error;
        brief.started = full.started;
        brief.finished = full.finished;
      }
      return s;
    }
    s.name = r.name();
    s.labels = r.labels();
    if (r.end) s.result = r.end->result;
    s.idempotency_key = r.idempotency_key();
    s.spec = r.spec_node();
    return s;
  }

  // Drops results older than the retention period.
  void sweep_locked(TimePoint now) {
    while (!retained.empty() && retained.front()->finished() + options.retention <= now) {
      TaskPtr record = std::move(retained.front());
      retained.pop_front();
      TenantState& tenant = record->tenant;
      tenant.tasks.erase(record->id);
      const std::string& key = record->idempotency_key();
      if (!key.empty()) {
        auto it = tenant.idempotency.find(key);
        if (it != tenant.idempotency.end() && it->second == record->id) tenant.idempotency.erase(it);
      }
    }
  }

  // The one place where a task's state changes: counters, timestamps, events and waiters.
  void transition_locked(TaskRecord& record, State next, std::vector<WaitQueue::Waiter>& wake) {
    TenantState& tenant = record.tenant;
    const State previous = record.state;
    const TimePoint now = Clock::now();
    if (previous == State::kPending) --tenant.pending;
    if (previous == State::kRunning) --tenant.running;
    record.state = next;
    if (next == State::kRunning) {
      ++tenant.running;
      record.started = now;
    }
    if (is_terminal(next)) {
      record.end->finished = now;  // finish_locked made `end`
      --tenant.live;
      --live;
      notify_observers_locked(record, wake);
      if (live == 0) {
        for (auto& w : idle_waiters.take_all()) wake.push_back(std::move(w));
      }
    }
    publish_locked(record);
  }

  void publish_locked(const TaskRecord& record) {
    auto& watches = record.tenant.watches;
    if (watches.empty()) return;
    std::erase_if(watches, [](const auto& w) { return w.expired(); });
    const std::string id = record.id_text();
    for (auto& weak : watches) {
      auto watch = weak.lock();
      if (watch && watch->wants(id)) watch->push_locked(snapshot_locked(record));
    }
  }

  Result<TaskRecord*> admit_locked(TenantState& tenant, SpawnArgs& args, SpawnOutcome& outcome,
                                   TimePoint now) {
    if (!args.idempotency_key.empty()) {
      auto it = tenant.idempotency.find(args.idempotency_key);
      if (it != tenant.idempotency.end()) {
        outcome = SpawnOutcome{TaskIdGenerator::encode(it->second), true};
        return nullptr;
      }
    }
    TaskPtr record(new TaskRecord(ids.next_value(), tenant, std::move(args)));
    record->created = now;
    TaskRecord* raw = record.get();
    tenant.tasks.append(std::move(record));
    if (!raw->idempotency_key().empty()) tenant.idempotency.emplace(raw->idempotency_key(), raw->id);
    ++tenant.live;
    ++tenant.pending;
    ++live;
    count_spawned(tenant, raw->kind);
    publish_locked(*raw);
    outcome = SpawnOutcome{raw->id_text(), false};
    return raw;
  }

  Error queue_full(const TenantState& tenant) const {
    const auto& s = tenant.settings;
    const std::uint32_t queued = tenant.live > s.max_concurrency ? tenant.live - s.max_concurrency : 0;
    return make_error(ErrorCode::kResourceExhausted,
                      "tenant " + s.name + " has " + std::to_string(queued) +
                          " tasks queued (max_queued=" + std::to_string(s.max_queued) + ")");
  }

  bool has_room_locked(const TenantState& tenant, std::uint64_t more) const {
    const auto& s = tenant.settings;
    return tenant.live + more <=
           static_cast<std::uint64_t>(s.max_concurrency) + static_cast<std::uint64_t>(s.max_queued);
  }

  // Spawns `batch` under one lock, outcomes[i] for batch[i]; the error refuses the whole batch
  // (unknown tenant, shutting down, no room for it).
  std::optional<Error> spawn_all(std::string_view tenant_name, std::span<SpawnArgs> batch,
                                 std::span<SpawnOutcome> outcomes) {
    TaskList granted;
    TaskList started;
    {
      std::lock_guard lock(mutex);
      auto tenant = tenant_locked(tenant_name);
      if (!tenant) return tenant.error();
      TenantState& t = **tenant;
      if (!accepting) {
        count_rejected(t, "unavailable");
        return make_error(ErrorCode::kUnavailable,
                          "orchestrd is shutting down and accepts no new tasks");
      }
      const TimePoint now = Clock::now();
      sweep_locked(now);
      // Tasks whose idempotency key already exists (or repeats within the batch) take no room.
      std::uint64_t fresh = 0;
      std::set<std::string_view> keys;
      for (const auto& args : batch) {
        const auto& key = args.idempotency_key;
        if (key.empty() || (!t.idempotency.contains(key) && keys.insert(key).second)) ++fresh;
      }
      if (!has_room_locked(t, fresh)) {
        count_rejected(t, "quota");
        return queue_full(t);
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        auto admitted = admit_locked(t, batch[i], outcomes[i], now);
        if (admitted && *admitted) place_locked(t, **admitted, granted, started);
      }
    }
    if (!granted.empty()) launch(granted);
    for (auto& record : started) start(std::move(record));
    return std::nullopt;
  }

  // --- running tasks ---

  // Admitted tasks under one lock: a root that needs a permit takes one now or queues as a
  // small entry of the tenant's semaphore (`granted` gets those holding one); any other root
  // starts its coroutine at once (`started`).
  void place_locked(TenantState& tenant, TaskRecord& record, TaskList& granted,
                    TaskList& started) {
    if (holds_permit(record.kind)) {
      if (tenant.semaphore.acquire_or_queue(record)) granted.emplace_back(&record);
      return;
    }
    record.run = std::make_unique<RunState>();
    record.run->strand.emplace(asio::make_strand(executor));
    started.emplace_back(&record);
  }

  // The semaphore's grant handler: `request` (a queued task) now holds one permit.
  static void on_granted(void* context, PermitRequest& request) {
    auto* impl = static_cast<Impl*>(context);
    TaskPtr record(static_cast<TaskRecord*>(&request));
    asio::post(impl->executor, [impl, record = std::move(record)]() mutable {
      TaskList one;
      one.push_back(std::move(record));
      impl->launch(one);
    });
  }

  // Starts tasks that hold their first permit: a root sleep as a bare timer, any other leaf as
  // a coroutine that finds the permit already granted.
  void launch(TaskList& granted) {
    std::vector<WaitQueue::Waiter> wake;
    TaskList coroutines;
    TaskList bare_workers;
    {
      std::lock_guard lock(mutex);
      const TimePoint now = Clock::now();
      for (TaskPtr& record : granted) {
        if (record->run && !record->run->cancel_reason.empty()) {
          // Aborted while its grant was on its way: it ends before its first step.
          NodeResult r;
          r.kind = record->kind;
          r.state = State::kCancelled;
          r.finished = now;
          finish_locked(*record, std::move(r), wake);
          record->tenant.semaphore.release();  // its grant's permit, after the terminal state
          record->run.reset();
          continue;
        }
        observe_permit_wait(record->tenant, now - record->created);
        transition_locked(*record, State::kRunning, wake);
        if (record->bare_sleep() && record->sleep_for <= Duration::zero()) {
          // Due as it starts: it ends here, on the calling thread, with no timer, no RunState
          // and no post; states, events, metrics and waiters as for any sleep.
          end_sleep_locked(*record, false, wake);
          record->tenant.semaphore.release();  // its grant's permit, after the terminal state
          continue;
        }
        if (!record->run) record->run = std::make_unique<RunState>();
        RunState& run = *record->run;
        run.root_permit.emplace(record->tenant.semaphore);
        if (record->bare_sleep()) {
          run.timer.emplace(executor);
          run.timer->expires_after(record->sleep_for);
          run.timer->async_wait([this, r = record](boost::system::error_code ec) {
            sleep_done(*r, ec);
          });
        } else if (auto* hub = bare_worker_hub(*record, options.workers)) {
          run.hub = hub;
          bare_workers.push_back(std::move(record));
        } else {
          run.strand.emplace(asio::make_strand(executor));
          run.granted = true;
          coroutines.push_back(std::move(record));
        }
      }
    }
    for (auto& record : bare_workers) start_bare_worker(record);
    for (auto& record : coroutines) start(std::move(record));
    for (auto& w : wake) WaitQueue::deliver(std::move(w), {});
  }

  // A root sleep's timer fired (or was cancelled by an abort or shutdown).
  void sleep_done(TaskRecord& record, boost::system::error_code ec) {
    std::vector<WaitQueue::Waiter> wake;
    {
      std::lock_guard lock(mutex);
      end_sleep_locked(record, static_cast<bool>(ec), wake);
    }
    for (auto& w : wake) WaitQueue::deliver(std::move(w), {});
  }

  // A running root sleep ends (its root permit already taken by the caller, to return after
  // unlocking). Drops its RunState: for a timer, called inside the timer's own completion,
  // where nothing else refers to it.
  void end_sleep_locked(TaskRecord& record, bool cancelled, std::vector<WaitQueue::Waiter>& wake) {
    NodeResult r;
    r.kind = NodeKind::kSleep;
    r.started = record.started;
    r.state = cancelled ? State::kCancelled : State::kSucceeded;
    r.finished = Clock::now();
    finish_locked(record, std::move(r), wake);
    record.run.reset();  // with it the root permit, if it holds one (see finish_locked)
  }

  // A root worker without a coroutine (bare_worker.h): its attempt goes to the hub, whose
  // callback ends the task on the thread that applied the worker's report.
  void start_bare_worker(const TaskPtr& record) {
    workers::WorkerHub* hub = record->run->hub;
    const auto id = hub->submit(bare_worker_attempt(*record),
                                [this, r = record.get()](workers::AttemptResult result) {
                                  // The task table holds the record until it is terminal.
                                  bare_worker_done(*r, bare_worker_result(*r, std::move(result)));
                                });
    std::string aborted;
    {
      std::lock_guard lock(mutex);
      if (is_terminal(record->state)) return;  // the worker was quicker than this thread
      record->run->attempt = id;
      aborted = record->run->cancel_reason;  // an abort that came before the id
    }
    if (!aborted.empty()) withdraw_bare_worker(*record, hub, id, aborted);
  }

  void withdraw_bare_worker(TaskRecord& record, workers::WorkerHub* hub, std::uint64_t attempt,
                            const std::string& reason) {
    if (hub->withdraw(attempt, reason)) bare_worker_done(record, bare_worker_cancelled(record));
  }

  // Ends a bare worker task, once: the hub gives its attempt either to the callback or to
  // withdraw(). Waiters that allow it run here, on this thread.
  void bare_worker_done(TaskRecord& record, NodeResult result) {
    std::vector<WaitQueue::Waiter> wake;
    {
      std::lock_guard lock(mutex);
      finish_locked(record, std::move(result), wake);
      record.run.reset();  // with it the root permit (see finish_locked)
    }
    for (auto& w : wake) WaitQueue::deliver(std::move(w), {});
  }

  void start(TaskPtr record) {
    // Hook the cancellation slot on the strand, where aborts emit: an abort that arrives
    // before this runs leaves cancel_reason set, which run_task reads first.
    auto strand = *record->run->strand;
    asio::post(strand, [this, record = std::move(record)]() mutable {
      auto slot = record->run->cancel.slot();
      auto strand = *record->run->strand;
      asio::co_spawn(strand, run_task(record),
                     asio::bind_cancellation_slot(
                         slot, [this, record](std::exception_ptr e, NodeResult result) mutable {
                           finish(*record, e, std::move(result));
                         }));
    });
  }

  asio::awaitable<NodeResult> run_task(TaskPtr record) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (!record->cancel_reason().empty()) {
      // Aborted before its first step.
      NodeResult r;
      r.kind = record->kind;
      r.state = State::kCancelled;
      r.finished = Clock::now();
      co_return r;
    }
    RunContext ctx{engine, *record};
    co_return co_await run_node(*record->spec, ctx);
  }

  // Stores the result and publishes the terminal state. The caller then returns the root permit
  // under the same lock (resetting it, or the RunState holding it): an observer that sees the
  // task terminal also sees its permit free, and none sees the next task RUNNING while this one
  // still is (the permit's next holder starts from a post, after this lock).
  void finish_locked(TaskRecord& record, NodeResult result, std::vector<WaitQueue::Waiter>& wake) {
    if (record.run && !record.run->cancel_reason.empty()) {
      explain_cancellation(result, record.run->cancel_reason);
    }
    const State outcome = result.state;
    const TimePoint began = record.started != TimePoint{} ? record.started : record.created;
    record.end = std::make_unique<TaskEnd>();
    record.end->result = std::move(result);
    transition_locked(record, outcome, wake);
    count_finished(record.tenant, metrics, record.kind, outcome, Clock::now() - began);
    retained.emplace_back(&record);
  }

  // A coroutine task ended (on its strand, which owns cancel_reason and the root permit).
  void finish(TaskRecord& record, std::exception_ptr e, NodeResult result) {
    if (e) {
      result = NodeResult{};
      result.kind = record.kind;
      result.state = State::kFailed;
      result.error = "internal error while running the task";
      result.finished = Clock::now();
    }
    std::vector<WaitQueue::Waiter> wake;
    {
      std::lock_guard lock(mutex);
      finish_locked(record, std::move(result), wake);
      if (record.run) record.run->root_permit.reset();  // after the terminal state (finish_locked)
    }
    for (auto& w : wake) WaitQueue::deliver(std::move(w), {});
  }

  void request_cancel(const TaskPtr& record, const std::string& reason) {
    std::vector<WaitQueue::Waiter> wake;
    std::optional<asio::strand<asio::any_io_executor>> strand;
    workers::WorkerHub* hub = nullptr;
    std::uint64_t attempt = 0;
    std::string hub_reason;
    {
      std::lock_guard lock(mutex);
      if (is_terminal(record->state)) return;
      if (!record->run) {
        if (record->tenant.semaphore.cancel(*record)) {
          // Still queued: it leaves the queue and ends now, holding nothing.
          NodeResult r;
          r.kind = record->kind;
          r.state = State::kCancelled;
          r.finished = Clock::now();
          explain_cancellation(r, reason);
          finish_locked(*record, std::move(r), wake);
        } else {
          // Granted, its start on its way: launch() reads the reason first.
          record->run = std::make_unique<RunState>();
          record->run->cancel_reason = reason;
        }
      } else if (record->run->timer) {
        if (record->run->cancel_reason.empty()) record->run->cancel_reason = reason;
        record->run->timer->cancel();
      } else if (record->run->strand) {
        strand = *record->run->strand;
      } else if (record->run->hub) {
        // A bare worker: withdrawn from its hub below; before it has an attempt id, its
        // starter withdraws it.
        if (record->run->cancel_reason.empty()) record->run->cancel_reason = reason;
        if (record->run->attempt != 0) {
          hub = record->run->hub;
          attempt = record->run->attempt;
          hub_reason = record->run->cancel_reason;
        }
      } else if (record->run->cancel_reason.empty()) {
        record->run->cancel_reason = reason;
      }
    }
    if (strand) {
      asio::post(*strand, [record, reason] {
        if (record->run->cancel_reason.empty()) record->run->cancel_reason = reason;
        record->run->cancel.emit(asio::cancellation_type::terminal);
      });
    }
    if (hub) withdraw_bare_worker(*record, hub, attempt, hub_reason);
    for (auto& w : wake) WaitQueue::complete(std::move(w), {});
  }

  // --- waiting for tasks ---

  // Joins and selects wait on a group: one link per task in that task's observer list, one
  // parked coroutine for the whole group (no coroutine per task).
  void notify_observers_locked(TaskRecord& record, std::vector<WaitQueue::Waiter>& wake) {
    TerminalLink* link = std::exchange(record.observers, nullptr);
    while (link) {
      TerminalLink* next = link->next;
      link->record = nullptr;
      link->prev = link->next = nullptr;
      link->group->on_terminal_locked(link->index, record.state, wake);
      link = next;
    }
  }

  // Waits until the group's condition holds; returns the index of the first task to end (in
  // completion order; tasks already terminal count in request order).
  asio::awaitable<std::optional<std::size_t>> wait_group(const std::vector<TaskPtr>& records,
                                                         GroupWait::Mode mode) {
    auto executor = co_await asio::this_coro::executor;
    GroupWait group(mutex, mode, records.size());
    {
      std::vector<WaitQueue::Waiter> none;  // nobody parked yet
      std::lock_guard lock(mutex);
      for (std::size_t i = 0; i < records.size(); ++i) {
        TaskRecord& r = *records[i];
        if (is_terminal(r.state)) {
          group.on_terminal_locked(i, r.state, none);
        } else {
          group.link_locked(i, r);
        }
      }
    }
    GroupWait* g = &group;
    co_await async_park(
        mutex, &g->waiter,
        [g]() -> std::optional<boost::system::error_code> {
          if (g->done) return boost::system::error_code{};
          return std::nullopt;
        },
        [g]() -> WaitQueue* { return &g->waiter; }, executor, kAwait);
    co_return group.first;
  }

  // Runs `wait` against a deadline. Returns true when the deadline passed first.
  asio::awaitable<bool> wait_with_deadline(asio::awaitable<void> wait,
                                           std::optional<Duration> timeout) {
    auto executor = co_await asio::this_coro::executor;
    Timer deadline(executor);
    deadline.expires_after(timeout.value_or(kForever));
    auto [order, exception, timer_ec] =
        co_await make_parallel_group(asio::co_spawn(executor, std::move(wait), asio::deferred),
                                     deadline.async_wait(asio::deferred))
            .async_wait(wait_for_one(asio::cancellation_type::terminal), asio::use_awaitable);
    if (exception) std::rethrow_exception(exception);
    co_return order[0] == 1 && !timer_ec;
  }

  Result<std::vector<TaskPtr>> find_all(std::string_view tenant_name,
                                        const std::vector<std::string>& ids) {
    if (ids.empty()) return make_error(ErrorCode::kInvalidArgument, "ids: must name at least one task");
    std::lock_guard lock(mutex);
    auto tenant = tenant_locked(tenant_name);
    if (!tenant) return tenant.error();
    sweep_locked(Clock::now());
    std::vector<TaskPtr> records;
    records.reserve(ids.size());
    for (const auto& id : ids) {
      auto record = find_task_locked(**tenant, id);
      if (!record) return not_found(id);
      records.push_back(std::move(record));
    }
    return records;
  }

  std::vector<TaskSnapshot> snapshots(const std::vector<TaskPtr>& records,
                                      SnapshotDetail detail = SnapshotDetail::kFull) {
    std::lock_guard lock(mutex);
    std::vector<TaskSnapshot> out;
    out.reserve(records.size());
    for (const auto& r : records) out.push_back(snapshot_locked(*r, detail));
    return out;
  }

  void abort_unfinished(const std::vector<TaskPtr>& records, const std::string& reason) {
    for (const auto& r : records) request_cancel(r, reason);
  }
};

// ---------------------------------------------------------------------------------------------
// Public interface
// ---------------------------------------------------------------------------------------------

Engine::Engine(asio::any_io_executor executor, EngineOptions options, metrics::Metrics* metrics)
    : impl_(std::make_unique<Impl>(*this, std::move(executor), options, metrics)) {}

Engine::~Engine() = default;

void Engine::add_tenant(const TenantSettings& settings) {
  TenantState* existing = nullptr;
  {
    std::lock_guard lock(impl_->mutex);
    if (auto it = impl_->tenants.find(settings.name); it != impl_->tenants.end()) {
      existing = it->second.get();
      existing->settings.max_concurrency = settings.max_concurrency;
      existing->settings.max_queued = settings.max_queued;
      {
        std::lock_guard http_lock(existing->http_mutex);
        existing->settings.http = settings.http;
      }
    } else {
      auto state = std::make_unique<TenantState>(settings);
      state->semaphore.set_grant_handler(&Impl::on_granted, impl_.get());
      if (impl_->metrics) attach_metrics(*state, *impl_->metrics);
      impl_->tenants[settings.name] = std::move(state);
      return;
    }
  }
  // Outside the engine's mutex: a larger limit hands permits to queued tasks, which resume.
  existing->semaphore.set_limit(settings.max_concurrency);
  set_permits_limit(*existing, settings.max_concurrency);
}

Result<SpawnOutcome> Engine::spawn(std::string_view tenant_name, SpawnArgs args) {
  SpawnOutcome outcome;
  if (auto error = impl_->spawn_all(tenant_name, {&args, 1}, {&outcome, 1})) {
    return std::move(*error);
  }
  return outcome;
}

Result<std::vector<SpawnOutcome>> Engine::spawn_batch(std::string_view tenant_name,
                                                      std::vector<SpawnArgs> batch) {
  std::vector<SpawnOutcome> outcomes(batch.size());
  if (auto error = impl_->spawn_all(tenant_name, batch, outcomes)) return std::move(*error);
  return outcomes;
}

Result<TaskSnapshot> Engine::get(std::string_view tenant_name, std::string_view id) const {
  std::lock_guard lock(impl_->mutex);
  auto tenant = impl_->tenant_locked(tenant_name);
  if (!tenant) return tenant.error();
  impl_->sweep_locked(Clock::now());
  auto record = impl_->find_task_locked(**tenant, id);
  if (!record) return not_found(id);
  return impl_->snapshot_locked(*record);
}

Result<ListPage> Engine::list(std::string_view tenant_name, const ListQuery& query) const {
  std::lock_guard lock(impl_->mutex);
  auto tenant = impl_->tenant_locked(tenant_name);
  if (!tenant) return tenant.error();
  impl_->sweep_locked(Clock::now());
  const auto& slots = (*tenant)->tasks.slots();
  const std::uint32_t page_size = std::clamp<std::uint32_t>(query.page_size ? query.page_size : 100, 1, 1000);
  auto matches = [&query](const TaskRecord& r) {
    if (query.state && r.state != *query.state) return false;
    for (const auto& [k, v] : query.labels) {
      auto it = r.labels().find(k);
      if (it == r.labels().end() || it->second != v) return false;
    }
    return true;
  };
  ListPage page;
  // Newest first: walk ids downward from just below the page token (compared as text, as
  // clients see ids; the text of ids sorts like their values).
  auto it = slots.end();
  if (!query.page_token.empty()) {
    it = std::lower_bound(slots.begin(), slots.end(), query.page_token,
                          [](const TaskTable::Slot& slot, const std::string& token) {
                            return TaskIdGenerator::encode(slot.id) < token;
                          });
  }
  while (it != slots.begin()) {
    --it;
    if (!it->record || !matches(*it->record)) continue;
    if (page.tasks.size() == page_size) {
      page.next_page_token = page.tasks.back().id;
      break;
    }
    page.tasks.push_back(impl_->snapshot_locked(*it->record));
  }
  return page;
}

Result<std::vector<std::string>> Engine::abort(std::string_view tenant_name,
                                               const std::vector<std::string>& ids,
                                               const std::string& reason) {
  auto records = impl_->find_all(tenant_name, ids);
  if (!records) return records.error();
  std::vector<std::string> aborted;
  {
    std::lock_guard lock(impl_->mutex);
    for (const auto& r : *records) {
      if (!is_terminal(r->state)) aborted.push_back(r->id_text());
    }
  }
  impl_->abort_unfinished(*records, reason);
  return aborted;
}

Result<TenantUsage> Engine::usage(std::string_view tenant_name) const {
  std::lock_guard lock(impl_->mutex);
  auto tenant = impl_->tenant_locked(tenant_name);
  if (!tenant) return tenant.error();
  const TenantState& t = **tenant;
  return TenantUsage{t.semaphore.in_use(), t.semaphore.waiting(), t.live,
                     static_cast<std::uint32_t>(t.tasks.size())};
}

asio::awaitable<Result<std::vector<TaskSnapshot>>> Engine::join(std::string tenant,
                                                                std::vector<std::string> ids,
                                                                JoinOptions options) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto records = impl_->find_all(tenant, ids);
  if (!records) co_return records.error();
  auto wait = [](Impl& impl, const std::vector<TaskPtr>& records,
                 bool fail_fast) -> asio::awaitable<void> {
    co_await impl.wait_group(records, fail_fast ? GroupWait::Mode::kFailFast : GroupWait::Mode::kAll);
  };
  const bool timed_out =
      co_await impl_->wait_with_deadline(wait(*impl_, *records, options.fail_fast), options.timeout);
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    co_return make_error(ErrorCode::kCancelled, "join cancelled by the caller");
  }
  if (options.abort_remaining) {
    impl_->abort_unfinished(*records, timed_out ? "cancelled: a join's timeout passed (abort_remaining)"
                                                : "cancelled: another task of a fail_fast join did not succeed (abort_remaining)");
  }
  auto snapshots = impl_->snapshots(*records, options.detail);
  if (timed_out && !options.answer_on_timeout) {
    const auto unfinished = std::count_if(snapshots.begin(), snapshots.end(),
                                          [](const auto& s) { return !is_terminal(s.state); });
    co_return make_error(ErrorCode::kDeadlineExceeded,
                         "join timed out after " + format_duration(*options.timeout) + " with " +
                             std::to_string(unfinished) + " of " + std::to_string(snapshots.size()) +
                             " tasks unfinished");
  }
  co_return snapshots;
}

asio::awaitable<Result<SelectOutcome>> Engine::select(std::string tenant,
                                                      std::vector<std::string> ids,
                                                      bool abort_losers,
                                                      std::optional<Duration> timeout) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto records = impl_->find_all(tenant, ids);
  if (!records) co_return records.error();
  std::optional<std::size_t> first;
  auto wait = [](Impl& impl, const std::vector<TaskPtr>& records,
                 std::optional<std::size_t>& first) -> asio::awaitable<void> {
    first = co_await impl.wait_group(records, GroupWait::Mode::kFirst);
  };
  const bool timed_out =
      co_await impl_->wait_with_deadline(wait(*impl_, *records, first), timeout);
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    co_return make_error(ErrorCode::kCancelled, "select cancelled by the caller");
  }
  if (timed_out) {
    co_return make_error(ErrorCode::kDeadlineExceeded,
                         "select timed out after " + format_duration(*timeout) +
                             " with none of " + std::to_string(ids.size()) + " tasks finished");
  }
  // Among tasks already terminal when the select began, the first in request order wins.
  auto snapshots = impl_->snapshots(*records);
  std::size_t winner = first.value_or(0);
  for (std::size_t i = 0; i < winner; ++i) {
    if (is_terminal(snapshots[i].state) && snapshots[i].finished <= snapshots[winner].finished) {
      winner = i;
      break;
    }
  }
  if (abort_losers) {
    std::vector<TaskPtr> losers;
    for (std::size_t i = 0; i < records->size(); ++i) {
      if (i != winner) losers.push_back((*records)[i]);
    }
    impl_->abort_unfinished(losers, "cancelled: lost a select to task " + ids[winner]);
  }
  co_return SelectOutcome{static_cast<std::uint32_t>(winner), std::move(snapshots[winner])};
}

Result<TerminalWait> Engine::on_terminal(std::string_view tenant_name, std::string_view id,
                                         TerminalCallback done,
                                         std::optional<asio::any_io_executor> executor,
                                         TerminalDelivery delivery, SnapshotDetail detail) {
  std::unique_lock lock(impl_->mutex);
  auto tenant = impl_->tenant_locked(tenant_name);
  if (!tenant) return tenant.error();
  impl_->sweep_locked(Clock::now());
  auto record = impl_->find_task_locked(**tenant, id);
  if (!record) return not_found(id);
  const bool terminal = is_terminal(record->state);
  if (terminal && delivery == TerminalDelivery::kInline) {
    TaskSnapshot snapshot = impl_->snapshot_locked(*record, detail);
    lock.unlock();
    done(std::move(snapshot));
    return TerminalWait{};
  }
  auto run_on = executor ? std::move(*executor) : impl_->executor;
  // A one-task group whose only waiter is the callback. The callback owns the group until it
  // runs or is cancelled (so a caller may drop the TerminalWait), and takes the snapshot when it
  // runs, after the task's terminal state is set.
  std::shared_ptr<GroupWait> group;
  if (!terminal) group = std::make_shared<GroupWait>(impl_->mutex, GroupWait::Mode::kFirst, 1);
  WaitQueue::Handler handler(
      [impl = impl_.get(), record, group, detail, done = std::move(done)](boost::system::error_code) {
        TaskSnapshot snapshot;
        {
          std::lock_guard lock(impl->mutex);
          snapshot = impl->snapshot_locked(*record, detail);
        }
        done(std::move(snapshot));
      });
  if (terminal) {
    lock.unlock();
    WaitQueue::complete(WaitQueue::Waiter{0, std::move(handler), std::move(run_on)}, {});
    return TerminalWait{};
  }
  group->link_locked(0, *record);
  const std::uint64_t waiter = group->waiter.push(std::move(handler), std::move(run_on),
                                                     delivery == TerminalDelivery::kInline);
  return TerminalWait{std::move(group), waiter};
}

bool Engine::cancel_on_terminal(const TerminalWait& wait) {
  auto* group = static_cast<GroupWait*>(wait.group.get());
  if (!group || wait.waiter == 0) return false;
  std::optional<WaitQueue::Waiter> removed;
  {
    std::lock_guard lock(impl_->mutex);
    if (!group->done) {
      GroupWait::unlink_locked(group->links[0]);
      removed = group->waiter.remove(wait.waiter);
    }
  }
  // Destroyed here, outside the mutex, without running (the group with it, once unreferenced).
  return removed.has_value();
}

Result<std::shared_ptr<TaskWatch>> Engine::watch(std::string_view tenant_name,
                                                 const std::vector<std::string>& ids) {
  std::lock_guard lock(impl_->mutex);
  auto tenant = impl_->tenant_locked(tenant_name);
  if (!tenant) return tenant.error();
  impl_->sweep_locked(Clock::now());
  std::vector<TaskPtr> records;
  for (const auto& id : ids) {
    auto record = impl_->find_task_locked(**tenant, id);
    if (!record) return not_found(id);
    records.push_back(std::move(record));
  }
  auto watch = std::make_shared<WatchImpl>(impl_->mutex, impl_->watches,
                                           std::set<std::string>(ids.begin(), ids.end()));
  watch->set_id(impl_->watches.add(watch));
  for (const auto& r : records) watch->push_locked(impl_->snapshot_locked(*r));
  if (!impl_->accepting && ids.empty()) watch->end_locked();
  (*tenant)->watches.push_back(watch);
  return std::shared_ptr<TaskWatch>(watch);
}

void Engine::stop_accepting() {
  std::lock_guard lock(impl_->mutex);
  impl_->accepting = false;
}

bool Engine::accepting() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepting;
}

asio::awaitable<void> Engine::drain(Duration grace) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto wait_idle = [](Impl& impl) -> asio::awaitable<void> {
    auto executor = co_await asio::this_coro::executor;
    co_await async_park(
        impl.mutex, &impl.idle_waiters,
        [&impl]() -> std::optional<boost::system::error_code> {
          if (impl.live == 0) return boost::system::error_code{};
          return std::nullopt;
        },
        [&impl]() -> WaitQueue* { return &impl.idle_waiters; }, executor, kAwait);
  };
  if (co_await impl_->wait_with_deadline(wait_idle(*impl_), grace)) {
    std::vector<TaskPtr> unfinished;
    {
      std::lock_guard lock(impl_->mutex);
      for (auto& [name, tenant] : impl_->tenants) {
        for (const auto& slot : tenant->tasks.slots()) {
          if (slot.record && !is_terminal(slot.record->state)) unfinished.push_back(slot.record);
        }
      }
    }
    impl_->abort_unfinished(unfinished, "cancelled: orchestrd is shutting down");
    // Cancellation reaches every node promptly; the bound only guards against a bug.
    co_await impl_->wait_with_deadline(wait_idle(*impl_), std::chrono::seconds(10));
  }
  std::lock_guard lock(impl_->mutex);
  for (auto& [name, tenant] : impl_->tenants) {
    for (auto& weak : tenant->watches) {
      if (auto watch = weak.lock()) watch->end_locked();
    }
  }
}

void Engine::update_gauges() const {
  std::lock_guard lock(impl_->mutex);
  for (const auto& [name, tenant] : impl_->tenants) update_tenant_gauges(*tenant);
}

void Engine::mark_running(TaskRecord& record) {
  std::vector<WaitQueue::Waiter> wake;
  std::lock_guard lock(impl_->mutex);
  if (record.state == State::kPending) impl_->transition_locked(record, State::kRunning, wake);
}

TenantState& Engine::tenant_state(TaskRecord& record) { return record.tenant; }

workers::WorkerHubs* Engine::workers() const { return impl_->options.workers; }

void Engine::set_channels(channels::ChannelRegistry* registry) { impl_->channels = registry; }

channels::ChannelRegistry* Engine::channels() const { return impl_->channels; }

}  // namespace orch::engine
