// TaskService: proto in, engine call, proto out. Nothing here knows how tasks run.
#include <boost/asio/this_coro.hpp>
#include <atomic>
#include <mutex>

#include "orch/engine/clock.h"
#include "orch/engine/engine.h"
#include "orch/common/duration.h"
#include "orch/metrics/metrics.h"
#include "orch/rpc/convert.h"
#include "orch/rpc/status.h"
#include "arena_messages.h"
#include "services.h"

namespace orch::rpc {
namespace {

using engine::Result;

SpecPolicy policy(const CallContext& call) { return SpecPolicy{call.limits, call.tenant}; }

// A refused spawn request: counted by reason, then mapped to its status.
grpc::Status refuse_spawn(const CallContext& call, const engine::Error& error) {
  if (call.metrics) {
    const bool permission = error.code == engine::ErrorCode::kPermissionDenied;
    call.metrics->add_tenant(call.tenant.name).rejected(permission ? "permission" : "invalid").Increment();
  }
  return to_status(error);
}

// A request's list of task ids, checked for size.
Result<std::vector<std::string>> ids_from_proto(const google::protobuf::RepeatedPtrField<std::string>& ids,
                                                const CallContext& call) {
  if (ids.empty()) return engine::make_error(engine::ErrorCode::kInvalidArgument, "ids: must name at least one task");
  if (static_cast<std::uint32_t>(ids.size()) > call.limits.max_batch) {
    return engine::make_error(engine::ErrorCode::kInvalidArgument,
                              "ids: more than " + std::to_string(call.limits.max_batch) + " ids (limits.max_batch)");
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

// A JoinRequest's options (its ids aside); `prefix` is the message's path in error messages.
Result<engine::JoinOptions> join_options_from_proto(const v1::JoinRequest& request, const CallContext& call,
                                                    std::string_view prefix) {
  const std::string path(prefix);
  auto timeout = timeout_from_proto(request.timeout(), request.has_timeout(), path + "timeout", call.limits.max_duration);
  if (!timeout) return timeout.error();
  auto view = view_from_proto(request.view(), path + "view");
  if (!view) return view.error();
  return engine::JoinOptions{request.fail_fast(), request.abort_remaining(), *timeout, *view};
}

grpc::Status spawn(CallContext call, const v1::SpawnRequest& request,
                                    v1::SpawnResponse& response) {
  auto args = spawn_args_from_proto(request, policy(call));
  if (!args) return refuse_spawn(call, args.error());
  auto outcome = call.engine.spawn(call.tenant.name, std::move(*args));
  if (!outcome) return to_status(outcome.error());
  response.set_id(outcome->id);
  response.set_existing(outcome->existing);
  return grpc::Status::OK;
}

// Validates and spawns a batch, all or none: the engine's outcomes, in request order.
grpc::Status spawn_all(const CallContext& call, const v1::SpawnBatchRequest& request,
                       std::vector<engine::SpawnOutcome>& outcomes) {
  if (request.tasks().empty()) {
    return to_status(engine::make_error(engine::ErrorCode::kInvalidArgument, "tasks: must not be empty"));
  }
  if (static_cast<std::uint32_t>(request.tasks_size()) > call.limits.max_batch) {
    return to_status(engine::make_error(
        engine::ErrorCode::kInvalidArgument,
        "tasks: more than " + std::to_string(call.limits.max_batch) + " tasks (limits.max_batch)"));
  }
  std::vector<engine::SpawnArgs> batch;
  batch.reserve(static_cast<std::size_t>(request.tasks_size()));
  const FieldPath tasks("tasks");  // an error's path starts with the item's: tasks[3].spec...
  for (int i = 0; i < request.tasks_size(); ++i) {
    auto args = spawn_args_from_proto(request.tasks(i), policy(call), FieldPath(tasks, static_cast<std::size_t>(i)));
    if (!args) return refuse_spawn(call, args.error());
    batch.push_back(std::move(*args));
  }
  auto spawned = call.engine.spawn_batch(call.tenant.name, std::move(batch));
  if (!spawned) return to_status(spawned.error());
  outcomes = std::move(*spawned);
  return grpc::Status::OK;
}

grpc::Status spawn_batch(CallContext call, const v1::SpawnBatchRequest& request,
                                          v1::SpawnBatchResponse& response) {
  std::vector<engine::SpawnOutcome> outcomes;
  if (auto status = spawn_all(call, request, outcomes); !status.ok()) return status;
  response.mutable_ids()->Reserve(static_cast<int>(outcomes.size()));
  for (const auto& outcome : outcomes) response.add_ids(outcome.id);
  return grpc::Status::OK;
}

// A SpawnBatch with `join`: the join's options are checked before anything is spawned, then
// the batch is spawned and waited for as a Join of its ids. A wait that ends early answers
// with the tasks as they are: the caller has no other way to learn their ids.
asio::awaitable<grpc::Status> spawn_batch_and_join(CallContext call, const v1::SpawnBatchRequest& request,
                                                   v1::SpawnBatchResponse& response) {
  const auto& join = request.join();
  if (!join.ids().empty()) {
    co_return to_status(engine::make_error(engine::ErrorCode::kInvalidArgument,
                                           "join.ids: must be empty: the call joins the tasks it spawns"));
  }
  auto options = join_options_from_proto(join, call, "join.");
  if (!options) co_return to_status(options.error());
  options->answer_on_timeout = true;
  std::vector<engine::SpawnOutcome> outcomes;
  if (auto status = spawn_all(call, request, outcomes); !status.ok()) co_return status;
  std::vector<std::string> ids;
  ids.reserve(outcomes.size());
  for (auto& outcome : outcomes) ids.push_back(std::move(outcome.id));
  auto tasks = co_await call.engine.join(call.tenant.name, std::move(ids), *options);
  if (!tasks) co_return to_status(tasks.error());
  response.mutable_tasks()->Reserve(static_cast<int>(tasks->size()));
  for (const auto& task : *tasks) task_to_proto(task, options->detail, *response.add_tasks());
  co_return grpc::Status::OK;
}

grpc::Status get(CallContext call, const v1::GetTaskRequest& request, v1::TaskInfo& response) {
  auto task = call.engine.get(call.tenant.name, request.id());
  if (!task) return to_status(task.error());
  task_to_proto(*task, response);
  return grpc::Status::OK;
}

grpc::Status list(CallContext call, const v1::ListTasksRequest& request,
                                   v1::ListTasksResponse& response) {
  engine::ListQuery query;
  query.state = state_from_proto(request.state());
  query.labels = engine::Labels(request.labels().begin(), request.labels().end());
  query.page_size = request.page_size();
  query.page_token = request.page_token();
  auto page = call.engine.list(call.tenant.name, query);
  if (!page) return to_status(page.error());
  for (const auto& task : page->tasks) task_to_proto(task, *response.add_tasks());
  response.set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

asio::awaitable<grpc::Status> join(CallContext call, const v1::JoinRequest& request, v1::JoinResponse& response) {
  auto ids = ids_from_proto(request.ids(), call);
  if (!ids) co_return to_status(ids.error());
  auto options = join_options_from_proto(request, call, "");
  if (!options) co_return to_status(options.error());
  auto tasks = co_await call.engine.join(call.tenant.name, std::move(*ids), *options);
  if (!tasks) co_return to_status(tasks.error());
  response.mutable_tasks()->Reserve(static_cast<int>(tasks->size()));
  for (const auto& task : *tasks) task_to_proto(task, options->detail, *response.add_tasks());
  co_return grpc::Status::OK;
}

asio::awaitable<grpc::Status> select(CallContext call, const v1::SelectRequest& request,
                                     v1::SelectResponse& response) {
  auto ids = ids_from_proto(request.ids(), call);
  if (!ids) co_return to_status(ids.error());
  auto timeout = timeout_from_proto(request.timeout(), request.has_timeout(), "timeout", call.limits.max_duration);
  if (!timeout) co_return to_status(timeout.error());
  auto outcome = co_await call.engine.select(call.tenant.name, std::move(*ids), request.abort_losers(), *timeout);
  if (!outcome) co_return to_status(outcome.error());
  response.set_winner(outcome->winner);
  task_to_proto(outcome->task, *response.mutable_task());
  co_return grpc::Status::OK;
}

grpc::Status abort(CallContext call, const v1::AbortRequest& request, v1::AbortResponse& response) {
  auto ids = ids_from_proto(request.ids(), call);
  if (!ids) return to_status(ids.error());
  auto aborted = call.engine.abort(call.tenant.name, *ids);
  if (!aborted) return to_status(aborted.error());
  for (const auto& id : *aborted) response.add_aborted(id);
  return grpc::Status::OK;
}

using WatchStream = StreamCall<v1::WatchRequest, v1::TaskEvent>;

asio::awaitable<grpc::Status> watch(CallContext call, const v1::WatchRequest& request, WatchStream& stream) {
  co_await asio::this_coro::throw_if_cancelled(false);
  if (static_cast<std::uint32_t>(request.ids_size()) > call.limits.max_batch) {
    co_return to_status(engine::make_error(engine::ErrorCode::kInvalidArgument,
                                           "ids: more than " + std::to_string(call.limits.max_batch) +
                                               " ids (limits.max_batch)"));
  }
  auto subscription = call.engine.watch(call.tenant.name,
                                        std::vector<std::string>(request.ids().begin(), request.ids().end()));
  if (!subscription) co_return to_status(subscription.error());
  for (;;) {
    // A cancel that arrived during the last (uncancellable) write is only recorded in this
    // coroutine's state: check it before waiting again.
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
      co_return grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away");
    }
    auto event = co_await (*subscription)->next();
    if (!event) co_return to_status(event.error());
    if (!*event) co_return grpc::Status::OK;
    v1::TaskEvent message;
    message.set_id((*event)->id);
    message.set_state(state_to_proto((*event)->state));
    task_to_proto(**event, *message.mutable_task());
    // The event's time is when the task entered its state.
    const auto& info = message.task();
    if (engine::is_terminal((*event)->state)) {
      *message.mutable_time() = info.finished_at();
    } else if ((*event)->state == engine::State::kRunning) {
      *message.mutable_time() = info.started_at();
    } else {
      *message.mutable_time() = info.created_at();
    }
    if (!co_await stream.write(message)) {
      co_return grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away");
    }
  }
}

// Run: spawns a task and answers once it is terminal, without a coroutine or a strand. The
// request is checked and the task spawned on gRPC's thread; the answer is sent from the engine's
// on_terminal callback, the timeout's timer, or OnCancel, whichever comes first (`answered_`).
// A task that ends before the handler returns (a `sleep` of 0, a key naming a finished task) is
// answered through the context's default reactor: no timer, no hand-off to another thread, and
// none when the call is done either (gRPC runs OnDone of an application's reactor on an executor
// thread, and that of its own default reactor inline).
// The reactor is deleted when gRPC is done with it and neither callback can still run (`refs_`).
class RunCall final : public grpc::ServerUnaryReactor {
 public:
  static constexpr const char* kMethod = "TaskService/Run";

  static grpc::ServerUnaryReactor* start(const ServiceBase& service, grpc::CallbackServerContext* ctx,
                                         const v1::RunRequest* request, v1::RunResponse* response) {
    const auto started = std::chrono::steady_clock::now();
    const auto refuse = [&](const grpc::Status& status) {
      service.observe(kMethod, status, started);
      auto* reactor = ctx->DefaultReactor();
      reactor->Finish(status);
      return reactor;
    };
    auto tenant = service.authenticate(ctx);
    if (!tenant) return refuse(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, tenant.error().message));
    const auto limits = service.limits.get();
    CallContext call{**tenant, *limits, service.engine, service.metrics};
    auto args = spawn_args_from_proto(request->task(), policy(call), "task");
    if (!args) return refuse(refuse_spawn(call, args.error()));
    auto timeout = timeout_from_proto(request->timeout(), request->has_timeout(), "timeout", limits->max_duration);
    if (!timeout) return refuse(to_status(timeout.error()));
    auto view = view_from_proto(request->view(), "view");
    if (!view) return refuse(to_status(view.error()));
    // The slot is taken before the spawn: a tenant at its limit spawns nothing.
    auto slot = service.take_slot((*tenant)->name, SlotKind::kWaiting);
    if (!slot) return refuse(to_status(slot.error()));
    auto outcome = service.engine.spawn((*tenant)->name, std::move(*args));
    if (!outcome) {
      *slot = CallSlot();  // free before the caller sees the answer
      return refuse(to_status(outcome.error()));
    }
    response->set_existing(outcome->existing);
    auto* run = new RunCall(service, started, ctx, std::move(*tenant), std::move(*slot), outcome->id,
                            *timeout, request->abort_unfinished(), *view, *response);
    return run->wait();
  }

  void OnCancel() override {
    if (!claim()) return;
    give_up("cancelled: the run's caller went away (abort_unfinished)");
    answer(grpc::Status(grpc::StatusCode::CANCELLED, "run cancelled by the caller: task " + id_ +
                                                         (abort_ ? " was aborted (abort_unfinished)"
                                                                 : " keeps running")));
  }

  void OnDone() override { release(); }

 private:
  RunCall(const ServiceBase& service, std::chrono::steady_clock::time_point started,
          grpc::CallbackServerContext* ctx, std::shared_ptr<const config::TenantConfig> tenant,
          CallSlot slot, std::string id, std::optional<Duration> timeout, bool abort,
          engine::SnapshotDetail view, v1::RunResponse& response)
      : service_(service), started_(started), ctx_(ctx), tenant_(std::move(tenant)),
        slot_(std::move(slot)), id_(std::move(id)), timeout_(timeout), abort_(abort), view_(view),
        response_(response) {}

  // Registers the callbacks and returns the reactor that answers the call. The terminal
  // callback may run before on_terminal returns (a task terminal already: inline, on this
  // thread) or on another thread; `wait_` and the timer are set under `mutex_`, and only while
  // the call is still unanswered. An answer given before this returns is sent through the
  // default reactor, and this object is never handed to gRPC.
  grpc::ServerUnaryReactor* wait() {
    refs_.fetch_add(1, std::memory_order_relaxed);
    auto registered = service_.engine.on_terminal(
        tenant_->name, id_,
        [this](engine::TaskSnapshot task) {
          on_terminal(std::move(task));
          release();
        },
        {}, engine::TerminalDelivery::kInline, view_);
    if (!registered) {
      // Swept already (retention shorter than this call took): answer with the error.
      refs_.fetch_sub(1, std::memory_order_relaxed);
      if (claim()) answer(to_status(registered.error()));
    }
    std::unique_lock lock(mutex_);
    if (early_answer_) {
      const grpc::Status status = std::move(*early_answer_);
      auto* reactor = ctx_->DefaultReactor();
      lock.unlock();
      if (registered && service_.engine.cancel_on_terminal(*registered)) release();
      release();  // the reference gRPC's OnDone would have dropped; `this` may be gone now
      reactor->Finish(status);
      return reactor;
    }
    handed_over_ = true;
    if (answered_ || !registered) {
      // Being answered on another thread right now: it finishes this reactor.
      lock.unlock();
      if (registered && service_.engine.cancel_on_terminal(*registered)) release();
      return this;
    }
    wait_ = std::move(*registered);
    if (timeout_) {
      refs_.fetch_add(1, std::memory_order_relaxed);
      timer_.emplace(service_.executor);
      timer_->expires_after(*timeout_);
      timer_->async_wait([this](boost::system::error_code ec) {
        if (!ec && claim()) {
          give_up("cancelled: a run's timeout passed (abort_unfinished)");
          answer(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                              "run timed out after " + format_duration(*timeout_) + ": task " + id_ +
                                  (abort_ ? " was aborted (abort_unfinished)" : " keeps running")));
        }
        release();
      });
    }
    return this;
  }

  void on_terminal(engine::TaskSnapshot task) {
    if (!claim()) return;
    task_to_proto(task, view_, *response_.mutable_task());
    answer(grpc::Status::OK);
  }

  // Takes the right to answer; false when another path answered first. Stops the timer.
  bool claim() {
    std::lock_guard lock(mutex_);
    if (answered_) return false;
    answered_ = true;
    if (timer_) timer_->cancel();
    return true;
  }

  // The call ends before the task: stop waiting for it and, if asked, abort it.
  void give_up(const char* reason) {
    if (service_.engine.cancel_on_terminal(wait_)) release();
    if (abort_) (void)service_.engine.abort(tenant_->name, {id_}, reason);
  }

  void answer(const grpc::Status& status) {
    if (!status.ok()) ctx_->AddTrailingMetadata("orch-task-id", id_);
    service_.observe(kMethod, status, started_);
    // The call waits no more: its slot is free before the caller sees the answer.
    slot_ = CallSlot();
    {
      std::lock_guard lock(mutex_);
      if (!handed_over_) {
        early_answer_ = status;  // wait() sends it through the default reactor
        return;
      }
    }
    Finish(status);
  }

  void release() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  const ServiceBase& service_;
  const std::chrono::steady_clock::time_point started_;
  grpc::CallbackServerContext* const ctx_;
  const std::shared_ptr<const config::TenantConfig> tenant_;
  CallSlot slot_;
  const std::string id_;
  const std::optional<Duration> timeout_;
  const bool abort_;
  const engine::SnapshotDetail view_;
  v1::RunResponse& response_;
  std::atomic<int> refs_{1};  // gRPC's (OnDone), the terminal callback's, the timer's
  std::mutex mutex_;          // guards answered_, handed_over_, early_answer_ and timer_
  bool answered_ = false;
  bool handed_over_ = false;  // wait() returned this reactor to gRPC
  std::optional<grpc::Status> early_answer_;
  std::optional<engine::Timer> timer_;
  engine::TerminalWait wait_;
};

// Run's request and answer, and SpawnBatch's and Join's (up to limits.max_batch tasks per
// message), live on one arena per call (see arena_messages.h).
ArenaMessages<v1::RunRequest, v1::RunResponse> run_messages;
ArenaMessages<v1::SpawnBatchRequest, v1::SpawnBatchResponse> spawn_batch_messages;
ArenaMessages<v1::JoinRequest, v1::JoinResponse> join_messages;

}  // namespace

TaskServiceImpl::TaskServiceImpl(ServiceBase base) : base_(std::move(base)) {
  SetMessageAllocatorFor_Run(&run_messages);
  SetMessageAllocatorFor_SpawnBatch(&spawn_batch_messages);
  SetMessageAllocatorFor_Join(&join_messages);
}

grpc::ServerUnaryReactor* TaskServiceImpl::Spawn(grpc::CallbackServerContext* ctx, const v1::SpawnRequest* request,
                                                 v1::SpawnResponse* response) {
  return InlineCall<v1::SpawnRequest, v1::SpawnResponse>::start(base_, "TaskService/Spawn", ctx, request, response, spawn);
}

grpc::ServerUnaryReactor* TaskServiceImpl::SpawnBatch(grpc::CallbackServerContext* ctx,
                                                      const v1::SpawnBatchRequest* request,
                                                      v1::SpawnBatchResponse* response) {
  if (request->has_join()) {
    return UnaryCall<v1::SpawnBatchRequest, v1::SpawnBatchResponse>::start(
        base_, "TaskService/SpawnBatch", ctx, request, response, spawn_batch_and_join, /*waits=*/true);
  }
  return InlineCall<v1::SpawnBatchRequest, v1::SpawnBatchResponse>::start(base_, "TaskService/SpawnBatch", ctx,
                                                                         request, response, spawn_batch);
}

grpc::ServerUnaryReactor* TaskServiceImpl::Get(grpc::CallbackServerContext* ctx, const v1::GetTaskRequest* request,
                                               v1::TaskInfo* response) {
  return InlineCall<v1::GetTaskRequest, v1::TaskInfo>::start(base_, "TaskService/Get", ctx, request, response, get);
}

grpc::ServerUnaryReactor* TaskServiceImpl::List(grpc::CallbackServerContext* ctx, const v1::ListTasksRequest* request,
                                                v1::ListTasksResponse* response) {
  return InlineCall<v1::ListTasksRequest, v1::ListTasksResponse>::start(base_, "TaskService/List", ctx, request,
                                                                       response, list);
}

grpc::ServerUnaryReactor* TaskServiceImpl::Join(grpc::CallbackServerContext* ctx, const v1::JoinRequest* request,
                                                v1::JoinResponse* response) {
  return UnaryCall<v1::JoinRequest, v1::JoinResponse>::start(base_, "TaskService/Join", ctx, request, response, join);
}

grpc::ServerUnaryReactor* TaskServiceImpl::Select(grpc::CallbackServerContext* ctx, const v1::SelectRequest* request,
                                                  v1::SelectResponse* response) {
  return UnaryCall<v1::SelectRequest, v1::SelectResponse>::start(base_, "TaskService/Select", ctx, request, response,
                                                                 select);
}

grpc::ServerUnaryReactor* TaskServiceImpl::Abort(grpc::CallbackServerContext* ctx, const v1::AbortRequest* request,
                                                 v1::AbortResponse* response) {
  return InlineCall<v1::AbortRequest, v1::AbortResponse>::start(base_, "TaskService/Abort", ctx, request, response,
                                                               abort);
}

grpc::ServerUnaryReactor* TaskServiceImpl::Run(grpc::CallbackServerContext* ctx, const v1::RunRequest* request,
                                               v1::RunResponse* response) {
  return RunCall::start(base_, ctx, request, response);
}

grpc::ServerWriteReactor<v1::TaskEvent>* TaskServiceImpl::Watch(grpc::CallbackServerContext* ctx,
                                                                const v1::WatchRequest* request) {
  return WatchStream::start(base_, "TaskService/Watch", ctx, request, watch);
}

}  // namespace orch::rpc
