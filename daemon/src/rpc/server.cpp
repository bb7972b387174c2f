#include "orch/rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "orch/metrics/metrics.h"
#include "orch/tenants/tenant_registry.h"
#include "orch/v1/schedules.grpc.pb.h"
#include "orch/v1/workers.grpc.pb.h"
#include "channel_service.h"
#include "mutex_service.h"
#include "schedule_service.h"
#include "services.h"
#include "worker_service.h"

namespace orch::rpc {

namespace {

constexpr const char* kMethods[] = {
    "TaskService/Spawn", "TaskService/SpawnBatch", "TaskService/Get",   "TaskService/List",
    "TaskService/Join",  "TaskService/Select",     "TaskService/Abort", "TaskService/Watch",
    "TenantService/WhoAmI",
    "ScheduleService/CreateInterval", "ScheduleService/Get", "ScheduleService/List",
    "ScheduleService/Pause", "ScheduleService/Resume", "ScheduleService/Delete",
    "ScheduleService/Ticks",
    "MutexService/Lock", "MutexService/Unlock", "MutexService/Refresh", "MutexService/Get",
    "ChannelService/Create", "ChannelService/Send", "ChannelService/Recv", "ChannelService/Ack",
    "ChannelService/Subscribe", "ChannelService/Close", "ChannelService/Delete",
    "ChannelService/Get", "ChannelService/List",
    "WorkerService/Connect",
};

}  // namespace

engine::Result<std::shared_ptr<const config::TenantConfig>> ServiceBase::authenticate(
    grpc::CallbackServerContext* ctx) const {
  std::optional<std::string_view> authorization;
  const auto& metadata = ctx->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  return tenants.authenticate(authorization);
}

void ServiceBase::observe(const char* method, const grpc::Status& status,
                          std::chrono::steady_clock::time_point started) const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (metrics) metrics->observe_rpc(method, status.error_code(), seconds);
  if (status.error_code() == grpc::StatusCode::INTERNAL) {
    spdlog::error("{} failed: {}", method, status.error_message());
  } else if (!status.ok()) {
    spdlog::debug("{} -> {}: {}", method, metrics::grpc_code_name(status.error_code()), status.error_message());
  }
}

struct RpcServer::Impl {
  explicit Impl(ServerDeps deps)
      : base{deps.engine,   deps.tenants, deps.limits, deps.metrics,
             deps.executor, nullptr,      nullptr,     deps.channels, &slots},
        tasks(base),
        tenants(base),
        schedules(base),
        channels(base),
        mutexes(base),
        workers(base, deps.workers) {}

  CallSlots slots;  // before `base`, which points at it
  ServiceBase base;
  TaskServiceImpl tasks;
  TenantServiceImpl tenants;
  ScheduleServiceImpl schedules;
  ChannelServiceImpl channels;
  MutexServiceImpl mutexes;
  WorkerServiceImpl workers;
  std::unique_ptr<grpc::Server> server;
};

RpcServer::RpcServer(ServerDeps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {
  if (impl_->base.metrics) {
    for (const char* method : kMethods) impl_->base.metrics->add_rpc_method(method);
  }
}

RpcServer::~RpcServer() = default;

std::uint16_t RpcServer::start(const std::string& listen) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  // Larger requests are refused by gRPC (RESOURCE_EXHAUSTED) before they are parsed; the value
  // is read once, so a reload cannot change it.
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(impl_->base.limits.get()->max_grpc_message_bytes));
  // A second daemon on the same port must fail to start, not share the port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&impl_->tasks);
  builder.RegisterService(&impl_->tenants);
  builder.RegisterService(&impl_->schedules);
  builder.RegisterService(&impl_->channels);
  builder.RegisterService(&impl_->mutexes);
  builder.RegisterService(&impl_->workers);
  impl_->server = builder.BuildAndStart();
  if (impl_->server) impl_->workers.start_sweeper();
  if (!impl_->server || port == 0) {
    throw std::runtime_error("listen: cannot serve gRPC on " + listen +
                             " (address in use, not local, or malformed)");
  }
  return static_cast<std::uint16_t>(port);
}

void RpcServer::set_not_serving() {
  // No new work: schedules stop firing too (their tasks drain with the others).
  impl_->schedules.stop();
  if (impl_->server) impl_->server->GetHealthCheckService()->Shutdown();
}

void RpcServer::apply(const std::vector<config::TenantConfig>& tenants,
                      const config::Limits& limits) {
  impl_->mutexes.apply(tenants, limits);
}

void RpcServer::shutdown(std::chrono::milliseconds deadline) {
  if (!impl_->server) return;
  // Lock calls waiting for a mutex end now (UNAVAILABLE) rather than at the deadline.
  impl_->mutexes.stop();
  impl_->workers.close_all();
  impl_->server->Shutdown(std::chrono::system_clock::now() + deadline);
  impl_->server->Wait();
}

}  // namespace orch::rpc
