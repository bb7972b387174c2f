#include "orch/client/client.h"

#include <absl/base/internal/sysinfo.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace orch::client {
namespace {

std::shared_ptr<grpc::Channel> make_channel(const ClientOptions& options) {
  if (!options.tls) {
    return grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls->ca_pem;
  ssl.pem_cert_chain = options.tls->cert_pem;
  ssl.pem_private_key = options.tls->key_pem;
  grpc::ChannelArguments arguments;
  if (!options.tls->server_name.empty()) {
    arguments.SetSslTargetNameOverride(options.tls->server_name);
  }
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl), arguments);
}

}  // namespace

std::string read_pem_file(const std::string& path) {
  const auto cannot_read = [&](int error) {
    throw std::runtime_error("cannot read " + path + ": " + std::generic_category().message(error));
  };
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) cannot_read(errno);
  std::string text;
  std::array<char, 8192> buffer;
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    text.append(buffer.data(), n);
  }
  if (std::ferror(file.get())) cannot_read(errno);
  if (text.find("-----BEGIN ") == std::string::npos) {
    throw std::runtime_error(path + " holds no PEM block");
  }
  return text;
}

void prepare_client_process() { absl::base_internal::NominalCPUFrequency(); }

Client::Client(ClientOptions options) : Client(make_channel(options), options) {}

Client::Client(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      tasks_(orch::v1::TaskService::NewStub(channel_)),
      tenants_(orch::v1::TenantService::NewStub(channel_)),
      schedules_(orch::v1::ScheduleService::NewStub(channel_)),
      mutexes_(orch::v1::MutexService::NewStub(channel_)),
      channels_(orch::v1::ChannelService::NewStub(channel_)),
      workers_(orch::v1::WorkerService::NewStub(channel_)) {
  prepare_client_process();  // before the first call: channels connect lazily
}

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

grpc::Status Client::run(const orch::v1::RunRequest& request, orch::v1::RunResponse& response,
                         Deadline deadline) {
  return tasks_->Run(context(deadline).get(), request, &response);
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
