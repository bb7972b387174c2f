#include "orch/rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "orch/metrics/metrics.h"
#include "orch/tenants/tenant_registry.h"
#include "orch/tls/tls.h"
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
    "TaskService/Run",
    "TaskService/RunStream",
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

std::shared_ptr<grpc::ServerCredentials> credentials(const tls::ServerPem* pem) {
  if (pem == nullptr) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      pem->client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                             : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pem->client_ca;
  options.pem_key_cert_pairs.push_back({pem->key, pem->cert_chain});
  return grpc::SslServerCredentials(options);
}

// The common name and subject alternative names of the caller's client certificate, which gRPC
// has verified against tls.client_ca; empty without mTLS.
std::vector<std::string> client_cert_names(const grpc::CallbackServerContext& ctx) {
  std::vector<std::string> names;
  const auto auth = ctx.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return names;
  for (const char* property : {GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
    for (const auto& value : auth->FindPropertyValues(property)) {
      names.emplace_back(value.data(), value.size());
    }
  }
  return names;
}

}  // namespace

engine::Result<std::shared_ptr<const config::TenantConfig>> ServiceBase::authenticate(
    grpc::CallbackServerContext* ctx) const {
  std::optional<std::string_view> authorization;
  const auto& metadata = ctx->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  if (authorization && refuse_tokens) {
    return engine::make_error(engine::ErrorCode::kUnauthenticated,
                              "bearer tokens are refused on this plaintext listener, which is not "
                              "loopback: connect with TLS (server config tls:), or set "
                              "allow_plaintext_tokens: true in the server's config");
  }
  return tenants.authenticate(authorization, client_cert_names(*ctx));
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
             deps.executor, nullptr,      nullptr,     deps.channels, &slots,
             deps.refuse_tokens},
        tasks(base),
        tenants(base),
        schedules(base),
        channels(base),
        mutexes(base),
        workers(base, deps.workers),
        tls(deps.tls) {}

  CallSlots slots;  // before `base`, which points at it
  ServiceBase base;
  TaskServiceImpl tasks;
  TenantServiceImpl tenants;
  ScheduleServiceImpl schedules;
  ChannelServiceImpl channels;
  MutexServiceImpl mutexes;
  WorkerServiceImpl workers;
  const tls::ServerPem* tls;
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
  builder.AddListeningPort(listen, credentials(impl_->tls), &port);
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
