#pragma once
// RPC internals: the service classes registered with the gRPC server.

#include "call.h"
#include "orch/v1/tasks.grpc.pb.h"
#include "orch/v1/tenants.grpc.pb.h"

namespace orch::rpc {

class TaskServiceImpl final : public v1::TaskService::CallbackService {
 public:
  explicit TaskServiceImpl(ServiceBase base);  // task_service.cpp

  grpc::ServerUnaryReactor* Spawn(grpc::CallbackServerContext* ctx, const v1::SpawnRequest* request,
                                  v1::SpawnResponse* response) override;
  grpc::ServerUnaryReactor* SpawnBatch(grpc::CallbackServerContext* ctx,
                                       const v1::SpawnBatchRequest* request,
                                       v1::SpawnBatchResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetTaskRequest* request,
                                v1::TaskInfo* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const v1::ListTasksRequest* request,
                                 v1::ListTasksResponse* response) override;
  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* ctx, const v1::JoinRequest* request,
                                 v1::JoinResponse* response) override;
  grpc::ServerUnaryReactor* Select(grpc::CallbackServerContext* ctx,
                                   const v1::SelectRequest* request,
                                   v1::SelectResponse* response) override;
  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* ctx, const v1::AbortRequest* request,
                                  v1::AbortResponse* response) override;
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, const v1::RunRequest* request,
                                v1::RunResponse* response) override;
  grpc::ServerWriteReactor<v1::TaskEvent>* Watch(grpc::CallbackServerContext* ctx,
                                                 const v1::WatchRequest* request) override;
  // run_stream.cpp
  grpc::ServerBidiReactor<v1::RunStreamRequest, v1::RunStreamResponse>* RunStream(
      grpc::CallbackServerContext* ctx) override;

 private:
  ServiceBase base_;
};

class TenantServiceImpl final : public v1::TenantService::CallbackService {
 public:
  explicit TenantServiceImpl(ServiceBase base) : base_(std::move(base)) {}

  grpc::ServerUnaryReactor* WhoAmI(grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest* request,
                                   v1::WhoAmIResponse* response) override;

 private:
  ServiceBase base_;
};

}  // namespace orch::rpc
