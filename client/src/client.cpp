#include "orch/client/client.h"

#include <utility>

namespace orch::client {

Client::Client(ClientOptions options)
    : options_(std::move(options)),
      channel_(grpc::CreateChannel(options_.address, grpc::InsecureChannelCredentials())),
      tasks_(orch::v1::TaskService::NewStub(channel_)),
      tenants_(orch::v1::TenantService::NewStub(channel_)),
      schedules_(orch::v1::ScheduleService::NewStub(channel_)),
      mutexes_(orch::v1::MutexService::NewStub(channel_)),
      channels_(orch::v1::ChannelService::NewStub(channel_)),
      workers_(orch::v1::WorkerService::NewStub(channel_)) {}

Client::Client(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      tasks_(orch::v1::TaskService::NewStub(channel_)),
      tenants_(orch::v1::TenantService::NewStub(channel_)),
      schedules_(orch::v1::ScheduleService::NewStub(channel_)),
      mutexes_(orch::v1::MutexService::NewStub(channel_)),
      channels_(orch::v1::ChannelService::NewStub(channel_)),
      workers_(orch::v1::WorkerService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Client::context(
    std::optional<std::chrono::milliseconds> deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
  if (deadline) ctx->set_deadline(std::chrono::system_clock::now() + *deadline);
  return ctx;
}

grpc::Status Client::spawn(const orch::v1::SpawnRequest& request, orch::v1::SpawnResponse& response,
                           Deadline deadline) {
  return tasks_->Spawn(context(deadline).get(), request, &response);
}

grpc::Status Client::spawn_batch(const orch::v1::SpawnBatchRequest& request,
                                 orch::v1::SpawnBatchResponse& response, Deadline deadline) {
  return tasks_->SpawnBatch(context(deadline).get(), request, &response);
}

grpc::Status Client::get(const orch::v1::GetTaskRequest& request, orch::v1::TaskInfo& response,
                         Deadline deadline) {
  return tasks_->Get(context(deadline).get(), request, &response);
}

grpc::Status Client::list(const orch::v1::ListTasksRequest& request,
                          orch::v1::ListTasksResponse& response, Deadline deadline) {
  return tasks_->List(context(deadline).get(), request, &response);
}

grpc::Status Client::join(const orch::v1::JoinRequest& request, orch::v1::JoinResponse& response,
                          Deadline deadline) {
  return tasks_->Join(context(deadline).get(), request, &response);
}

grpc::Status Client::select(const orch::v1::SelectRequest& request,
                            orch::v1::SelectResponse& response, Deadline deadline) {
  return tasks_->Select(context(deadline).get(), request, &response);
}

grpc::Status Client::abort(const orch::v1::AbortRequest& request, orch::v1::AbortResponse& response,
                           Deadline deadline) {
  return tasks_->Abort(context(deadline).get(), request, &response);
}

grpc::Status Client::who_am_i(orch::v1::WhoAmIResponse& response, Deadline deadline) {
  return tenants_->WhoAmI(context(deadline).get(), orch::v1::WhoAmIRequest{}, &response);
}

std::unique_ptr<grpc::ClientReader<orch::v1::TaskEvent>> Client::watch(
    grpc::ClientContext& ctx, const orch::v1::WatchRequest& request) {
  return tasks_->Watch(&ctx, request);
}

}  // namespace orch::client
