// TaskService: proto in, engine call, proto out. Nothing here knows how tasks run.
#include <boost/asio/this_coro.hpp>

#include "orch/engine/engine.h"
#include "orch/metrics/metrics.h"
#include "orch/rpc/convert.h"
#include "orch/rpc/status.h"
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

asio::awaitable<grpc::Status> spawn(CallContext call, const v1::SpawnRequest& request,
                                    v1::SpawnResponse& response) {
  auto args = spawn_args_from_proto(request, policy(call));
  if (!args) co_return refuse_spawn(call, args.error());
  auto outcome = call.engine.spawn(call.tenant.name, std::move(*args));
  if (!outcome) co_return to_status(outcome.error());
  response.set_id(outcome->id);
  response.set_existing(outcome->existing);
  co_return grpc::Status::OK;
}

asio::awaitable<grpc::Status> spawn_batch(CallContext call, const v1::SpawnBatchRequest& request,
                                          v1::SpawnBatchResponse& response) {
  if (request.tasks().empty()) {
    co_return to_status(engine::make_error(engine::ErrorCode::kInvalidArgument, "tasks: must not be empty"));
  }
  if (static_cast<std::uint32_t>(request.tasks_size()) > call.limits.max_batch) {
    co_return to_status(engine::make_error(
        engine::ErrorCode::kInvalidArgument,
        "tasks: more than " + std::to_string(call.limits.max_batch) + " tasks (limits.max_batch)"));
  }
  std::vector<engine::SpawnArgs> batch;
  batch.reserve(static_cast<std::size_t>(request.tasks_size()));
  for (int i = 0; i < request.tasks_size(); ++i) {
    auto args = spawn_args_from_proto(request.tasks(i), policy(call), "tasks[" + std::to_string(i) + "]");
    if (!args) co_return refuse_spawn(call, args.error());
    batch.push_back(std::move(*args));
  }
  auto outcomes = call.engine.spawn_batch(call.tenant.name, std::move(batch));
  if (!outcomes) co_return to_status(outcomes.error());
  for (const auto& outcome : *outcomes) response.add_ids(outcome.id);
  co_return grpc::Status::OK;
}

asio::awaitable<grpc::Status> get(CallContext call, const v1::GetTaskRequest& request, v1::TaskInfo& response) {
  auto task = call.engine.get(call.tenant.name, request.id());
  if (!task) co_return to_status(task.error());
  task_to_proto(*task, response);
  co_return grpc::Status::OK;
}

asio::awaitable<grpc::Status> list(CallContext call, const v1::ListTasksRequest& request,
                                   v1::ListTasksResponse& response) {
  engine::ListQuery query;
  query.state = state_from_proto(request.state());
  query.labels = engine::Labels(request.labels().begin(), request.labels().end());
  query.page_size = request.page_size();
  query.page_token = request.page_token();
  auto page = call.engine.list(call.tenant.name, query);
  if (!page) co_return to_status(page.error());
  for (const auto& task : page->tasks) task_to_proto(task, *response.add_tasks());
  response.set_next_page_token(page->next_page_token);
  co_return grpc::Status::OK;
}

asio::awaitable<grpc::Status> join(CallContext call, const v1::JoinRequest& request, v1::JoinResponse& response) {
  auto ids = ids_from_proto(request.ids(), call);
  if (!ids) co_return to_status(ids.error());
  auto timeout = timeout_from_proto(request.timeout(), request.has_timeout(), "timeout", call.limits.max_duration);
  if (!timeout) co_return to_status(timeout.error());
  auto tasks = co_await call.engine.join(call.tenant.name, std::move(*ids),
                                         engine::JoinOptions{request.fail_fast(), request.abort_remaining(), *timeout});
  if (!tasks) co_return to_status(tasks.error());
  for (const auto& task : *tasks) task_to_proto(task, *response.add_tasks());
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

asio::awaitable<grpc::Status> abort(CallContext call, const v1::AbortRequest& request, v1::AbortResponse& response) {
  auto ids = ids_from_proto(request.ids(), call);
  if (!ids) co_return to_status(ids.error());
  auto aborted = call.engine.abort(call.tenant.name, *ids);
  if (!aborted) co_return to_status(aborted.error());
  for (const auto& id : *aborted) response.add_aborted(id);
  co_return grpc::Status::OK;
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

}  // namespace

grpc::ServerUnaryReactor* TaskServiceImpl::Spawn(grpc::CallbackServerContext* ctx, const v1::SpawnRequest* request,
                                                 v1::SpawnResponse* response) {
  return UnaryCall<v1::SpawnRequest, v1::SpawnResponse>::start(base_, "TaskService/Spawn", ctx, request, response, spawn);
}

grpc::ServerUnaryReactor* TaskServiceImpl::SpawnBatch(grpc::CallbackServerContext* ctx,
                                                      const v1::SpawnBatchRequest* request,
                                                      v1::SpawnBatchResponse* response) {
  return UnaryCall<v1::SpawnBatchRequest, v1::SpawnBatchResponse>::start(base_, "TaskService/SpawnBatch", ctx,
                                                                         request, response, spawn_batch);
}

grpc::ServerUnaryReactor* TaskServiceImpl::Get(grpc::CallbackServerContext* ctx, const v1::GetTaskRequest* request,
                                               v1::TaskInfo* response) {
  return UnaryCall<v1::GetTaskRequest, v1::TaskInfo>::start(base_, "TaskService/Get", ctx, request, response, get);
}

grpc::ServerUnaryReactor* TaskServiceImpl::List(grpc::CallbackServerContext* ctx, const v1::ListTasksRequest* request,
                                                v1::ListTasksResponse* response) {
  return UnaryCall<v1::ListTasksRequest, v1::ListTasksResponse>::start(base_, "TaskService/List", ctx, request,
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
  return UnaryCall<v1::AbortRequest, v1::AbortResponse>::start(base_, "TaskService/Abort", ctx, request, response,
                                                               abort);
}

grpc::ServerWriteReactor<v1::TaskEvent>* TaskServiceImpl::Watch(grpc::CallbackServerContext* ctx,
                                                                const v1::WatchRequest* request) {
  return WatchStream::start(base_, "TaskService/Watch", ctx, request, watch);
}

}  // namespace orch::rpc
