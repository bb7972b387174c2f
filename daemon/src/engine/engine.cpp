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
#include <deque>
#include <set>

#include "engine_metrics.h"
#include "orch/engine/task_id.h"
#include "run_node.h"
#include "task_record.h"

namespace orch::engine {

namespace asio = boost::asio;
using asio::experimental::make_parallel_group;
using asio::experimental::wait_for_all;
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
// Engine state
// ---------------------------------------------------------------------------------------------

struct Engine::Impl {
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
  std::deque<std::shared_ptr<TaskRecord>> retained;  // terminal tasks in finish order
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

  std::shared_ptr<TaskRecord> find_task_locked(TenantState& tenant, std::string_view id) {
    auto it = tenant.tasks.find(std::string(id));
    return it == tenant.tasks.end() ? nullptr : it->second;
  }

  TaskSnapshot snapshot_locked(const TaskRecord& r) const {
    return TaskSnapshot{r.id,      r.name,    r.labels,   r.state,   r.result,
                        r.idempotency_key, r.created, r.started, r.finished, r.spec};
  }

  // Drops results older than the retention period.
  void sweep_locked(TimePoint now) {
    while (!retained.empty() && *retained.front()->finished + options.retention <= now) {
      auto record = std::move(retained.front());
      retained.pop_front();
      TenantState& tenant = record->tenant;
      tenant.tasks.erase(record->id);
      if (!record->idempotency_key.empty()) {
        auto it = tenant.idempotency.find(record->idempotency_key);
        if (it != tenant.idempotency.end() && it->second == record->id) tenant.idempotency.erase(it);
      }
    }
  }

  // The one place where a task's state changes: counters, timestamps, events and waiters.
  void transition_locked(TaskRecord& record, State next, std::deque<WaitQueue::Waiter>& wake) {
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
      record.finished = now;
      --tenant.live;
      --live;
      for (auto& w : record.terminal_waiters.take_all()) wake.push_back(std::move(w));
      if (live == 0) {
        for (auto& w : idle_waiters.take_all()) wake.push_back(std::move(w));
      }
    }
    publish_locked(record);
  }

  void publish_locked(const TaskRecord& record) {
    auto& watches = record.tenant.watches;
    std::erase_if(watches, [](const auto& w) { return w.expired(); });
    for (auto& weak : watches) {
      auto watch = weak.lock();
      if (watch && watch->wants(record.id)) watch->push_locked(snapshot_locked(record));
    }
  }

  Result<TaskRecord*> admit_locked(TenantState& tenant, SpawnArgs& args, SpawnOutcome& outcome) {
    if (!args.idempotency_key.empty()) {
      auto it = tenant.idempotency.find(args.idempotency_key);
      if (it != tenant.idempotency.end()) {
        outcome = SpawnOutcome{it->second, true};
        return nullptr;
      }
    }
    const auto root_kind = args.spec.kind;
    const std::string key = args.idempotency_key;
    auto record = std::make_shared<TaskRecord>(ids.next(), tenant, std::move(args),
                                               asio::make_strand(executor));
    record->created = Clock::now();
    TaskRecord* raw = record.get();
    tenant.tasks.emplace(record->id, record);
    if (!key.empty()) tenant.idempotency.emplace(key, record->id);
    ++tenant.live;
    ++tenant.pending;
    ++live;
    count_spawned(tenant, root_kind);
    publish_locked(*raw);
    outcome = SpawnOutcome{raw->id, false};
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

  // --- running tasks ---

  void start(std::shared_ptr<TaskRecord> record) {
    // Hook the cancellation slot on the strand, where aborts emit: an abort that arrives
    // before this runs leaves cancel_reason set, which run_task reads first.
    auto strand = record->strand;
    asio::post(strand, [this, record = std::move(record)]() mutable {
      auto slot = record->cancel.slot();
      auto strand = record->strand;
      asio::co_spawn(strand, run_task(record),
                     asio::bind_cancellation_slot(
                         slot, [this, record](std::exception_ptr e, NodeResult result) mutable {
                           finish(*record, e, std::move(result));
                         }));
    });
  }

  asio::awaitable<NodeResult> run_task(std::shared_ptr<TaskRecord> record) {
    co_await asio::this_coro::throw_if_cancelled(false);
    if (!record->cancel_reason.empty()) {
      // Aborted before its first step.
      NodeResult r;
      r.kind = record->spec->kind;
      r.state = State::kCancelled;
      r.finished = Clock::now();
      co_return r;
    }
    RunContext ctx{engine, *record};
    co_return co_await run_node(*record->spec, ctx);
  }

  void finish(TaskRecord& record, std::exception_ptr e, NodeResult result) {
    if (e) {
      result = NodeResult{};
      result.kind = record.spec->kind;
      result.state = State::kFailed;
      result.error = "internal error while running the task";
      result.finished = Clock::now();
    }
    // The strand owns cancel_reason; this handler runs on it.
    if (!record.cancel_reason.empty()) explain_cancellation(result, record.cancel_reason);
    std::deque<WaitQueue::Waiter> wake;
    {
      std::lock_guard lock(mutex);
      const State outcome = result.state;
      const TimePoint began = record.started.value_or(record.created);
      record.result = std::move(result);
      transition_locked(record, outcome, wake);
      count_finished(record.tenant, metrics, record.spec->kind, outcome, Clock::now() - began);
      retained.push_back(record.tenant.tasks.at(record.id));
    }
    record.root_permit.reset();
    for (auto& w : wake) WaitQueue::complete(std::move(w), {});
  }

  void request_cancel(const std::shared_ptr<TaskRecord>& record, std::string reason) {
    asio::post(record->strand, [record, reason = std::move(reason)] {
      if (record->cancel_reason.empty()) record->cancel_reason = reason;
      record->cancel.emit(asio::cancellation_type::terminal);
    });
  }

  // --- waiting for tasks ---

  // The frame's `record` keeps the task alive while it waits; the parallel group that runs this
  // wait (and holds its cancellation hook) ends before the frame does.
  asio::awaitable<State> wait_terminal(std::shared_ptr<TaskRecord> record) {
    auto executor = co_await asio::this_coro::executor;
    TaskRecord* r = record.get();
    co_await async_park(
        mutex, &r->terminal_waiters,
        [r]() -> std::optional<boost::system::error_code> {
          if (is_terminal(r->state)) return boost::system::error_code{};
          return std::nullopt;
        },
        [r]() -> WaitQueue* { return &r->terminal_waiters; }, executor, kAwait);
    std::lock_guard lock(mutex);
    co_return record->state;
  }

  template <typename Condition>
  asio::awaitable<std::vector<std::size_t>> wait_group(
      const std::vector<std::shared_ptr<TaskRecord>>& records, Condition condition) {
    auto executor = co_await asio::this_coro::executor;
    using Op = decltype(asio::co_spawn(executor, wait_terminal(records.front()), asio::deferred));
    std::vector<Op> ops;
    ops.reserve(records.size());
    for (const auto& r : records) ops.push_back(asio::co_spawn(executor, wait_terminal(r), asio::deferred));
    auto [order, exceptions, states] =
        co_await make_parallel_group(std::move(ops)).async_wait(condition, asio::use_awaitable);
    co_return order;
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

  Result<std::vector<std::shared_ptr<TaskRecord>>> find_all(std::string_view tenant_name,
                                                            const std::vector<std::string>& ids) {
    if (ids.empty()) return make_error(ErrorCode::kInvalidArgument, "ids: must name at least one task");
    std::lock_guard lock(mutex);
    auto tenant = tenant_locked(tenant_name);
    if (!tenant) return tenant.error();
    sweep_locked(Clock::now());
    std::vector<std::shared_ptr<TaskRecord>> records;
    records.reserve(ids.size());
    for (const auto& id : ids) {
      auto record = find_task_locked(**tenant, id);
      if (!record) return not_found(id);
      records.push_back(std::move(record));
    }
    return records;
  }

  std::vector<TaskSnapshot> snapshots(const std::vector<std::shared_ptr<TaskRecord>>& records) {
    std::lock_guard lock(mutex);
    std::vector<TaskSnapshot> out;
    out.reserve(records.size());
    for (const auto& r : records) out.push_back(snapshot_locked(*r));
    return out;
  }

  void abort_unfinished(const std::vector<std::shared_ptr<TaskRecord>>& records,
                        const std::string& reason) {
    std::vector<std::shared_ptr<TaskRecord>> running;
    {
      std::lock_guard lock(mutex);
      for (const auto& r : records) {
        if (!is_terminal(r->state)) running.push_back(r);
      }
    }
    for (const auto& r : running) request_cancel(r, reason);
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
  std::vector<SpawnArgs> batch;
  batch.push_back(std::move(args));
  auto outcomes = spawn_batch(tenant_name, std::move(batch));
  if (!outcomes) return outcomes.error();
  return std::move(outcomes->front());
}

Result<std::vector<SpawnOutcome>> Engine::spawn_batch(std::string_view tenant_name,
                                                      std::vector<SpawnArgs> batch) {
  std::vector<SpawnOutcome> outcomes(batch.size());
  std::vector<std::shared_ptr<TaskRecord>> started;
  {
    std::lock_guard lock(impl_->mutex);
    auto tenant = impl_->tenant_locked(tenant_name);
    if (!tenant) return tenant.error();
    TenantState& t = **tenant;
    if (!impl_->accepting) {
      count_rejected(t, "unavailable");
      return make_error(ErrorCode::kUnavailable,
                        "orchestrd is shutting down and accepts no new tasks");
    }
    impl_->sweep_locked(Clock::now());
    // Tasks whose idempotency key already exists (or repeats within the batch) take no room.
    std::uint64_t fresh = 0;
    std::set<std::string_view> keys;
    for (const auto& args : batch) {
      const auto& key = args.idempotency_key;
      if (key.empty() || (!t.idempotency.contains(key) && keys.insert(key).second)) ++fresh;
    }
    if (!impl_->has_room_locked(t, fresh)) {
      count_rejected(t, "quota");
      return impl_->queue_full(t);
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto admitted = impl_->admit_locked(t, batch[i], outcomes[i]);
      if (admitted && *admitted) started.push_back(t.tasks.at(outcomes[i].id));
    }
  }
  for (auto& record : started) impl_->start(std::move(record));
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
  const auto& tasks = (*tenant)->tasks;
  const std::uint32_t page_size = std::clamp<std::uint32_t>(query.page_size ? query.page_size : 100, 1, 1000);
  auto matches = [&query](const TaskRecord& r) {
    if (query.state && r.state != *query.state) return false;
    for (const auto& [k, v] : query.labels) {
      auto it = r.labels.find(k);
      if (it == r.labels.end() || it->second != v) return false;
    }
    return true;
  };
  ListPage page;
  // Newest first: walk ids downward from just below the page token.
  auto it = query.page_token.empty() ? tasks.end() : tasks.lower_bound(query.page_token);
  while (it != tasks.begin()) {
    --it;
    if (!matches(*it->second)) continue;
    if (page.tasks.size() == page_size) {
      page.next_page_token = page.tasks.back().id;
      break;
    }
    page.tasks.push_back(impl_->snapshot_locked(*it->second));
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
      if (!is_terminal(r->state)) aborted.push_back(r->id);
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
  auto wait = [](Impl& impl, const std::vector<std::shared_ptr<TaskRecord>>& records,
                 bool fail_fast) -> asio::awaitable<void> {
    if (fail_fast) {
      co_await impl.wait_group(records, [](const std::exception_ptr&, State s) {
        return s == State::kSucceeded ? asio::cancellation_type::none
                                      : asio::cancellation_type::terminal;
      });
    } else {
      co_await impl.wait_group(records, wait_for_all());
    }
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
  auto snapshots = impl_->snapshots(*records);
  if (timed_out) {
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
  std::vector<std::size_t> order;
  auto wait = [](Impl& impl, const std::vector<std::shared_ptr<TaskRecord>>& records,
                 std::vector<std::size_t>& order) -> asio::awaitable<void> {
    order = co_await impl.wait_group(records, wait_for_one(asio::cancellation_type::terminal));
  };
  const bool timed_out =
      co_await impl_->wait_with_deadline(wait(*impl_, *records, order), timeout);
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
  std::size_t winner = order.front();
  for (std::size_t i = 0; i < winner; ++i) {
    if (is_terminal(snapshots[i].state) && snapshots[i].finished <= snapshots[winner].finished) {
      winner = i;
      break;
    }
  }
  if (abort_losers) {
    std::vector<std::shared_ptr<TaskRecord>> losers;
    for (std::size_t i = 0; i < records->size(); ++i) {
      if (i != winner) losers.push_back((*records)[i]);
    }
    impl_->abort_unfinished(losers, "cancelled: lost a select to task " + ids[winner]);
  }
  co_return SelectOutcome{static_cast<std::uint32_t>(winner), std::move(snapshots[winner])};
}

bool Engine::when_terminal(std::string_view tenant_name, std::string_view id,
                           const asio::any_io_executor& executor,
                           std::function<void(TaskSnapshot)> done) {
  std::shared_ptr<TaskRecord> record;
  {
    std::lock_guard lock(impl_->mutex);
    TenantState* tenant = impl_->find_tenant_locked(tenant_name);
    if (tenant) record = impl_->find_task_locked(*tenant, id);
  }
  if (!record) return false;
  // The handler holds the record: it stays valid for the wait, which nothing cancels.
  TaskRecord* r = record.get();
  async_park(
      impl_->mutex, &r->terminal_waiters,
      [r]() -> std::optional<boost::system::error_code> {
        if (is_terminal(r->state)) return boost::system::error_code{};
        return std::nullopt;
      },
      [r]() -> WaitQueue* { return &r->terminal_waiters; }, executor,
      [impl = impl_.get(), record = std::move(record), done = std::move(done)](boost::system::error_code) {
        done(impl->snapshots({record}).front());
      });
  return true;
}

Result<std::shared_ptr<TaskWatch>> Engine::watch(std::string_view tenant_name,
                                                 const std::vector<std::string>& ids) {
  std::lock_guard lock(impl_->mutex);
  auto tenant = impl_->tenant_locked(tenant_name);
  if (!tenant) return tenant.error();
  impl_->sweep_locked(Clock::now());
  std::vector<std::shared_ptr<TaskRecord>> records;
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
    std::vector<std::shared_ptr<TaskRecord>> unfinished;
    {
      std::lock_guard lock(impl_->mutex);
      for (auto& [name, tenant] : impl_->tenants) {
        for (auto& [id, record] : tenant->tasks) {
          if (!is_terminal(record->state)) unfinished.push_back(record);
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
  std::deque<WaitQueue::Waiter> wake;
  std::lock_guard lock(impl_->mutex);
  if (record.state == State::kPending) impl_->transition_locked(record, State::kRunning, wake);
}

TenantState& Engine::tenant_state(TaskRecord& record) { return record.tenant; }

workers::WorkerHubs* Engine::workers() const { return impl_->options.workers; }

void Engine::set_channels(channels::ChannelRegistry* registry) { impl_->channels = registry; }

channels::ChannelRegistry* Engine::channels() const { return impl_->channels; }

}  // namespace orch::engine
