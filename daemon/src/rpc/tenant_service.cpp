// TenantService: who the caller is, its limits and its usage.
#include "orch/channels/channel_registry.h"
#include "orch/engine/engine.h"
#include "orch/rpc/status.h"
#include "services.h"

namespace orch::rpc {
namespace {

grpc::Status who_am_i(CallContext call, const v1::WhoAmIRequest&, v1::WhoAmIResponse& response) {
  auto usage = call.engine.usage(call.tenant.name);
  if (!usage) return to_status(usage.error());
  const auto& t = call.tenant;
  response.set_tenant(t.name);
  auto* limits = response.mutable_limits();
  limits->set_max_concurrency(t.max_concurrency);
  limits->set_max_queued(t.max_queued);
  limits->set_max_channels(t.max_channels);
  limits->set_max_message_bytes(t.max_message_bytes);
  limits->set_max_channel_capacity(t.max_channel_capacity);
  for (const auto& kind : t.allowed_kinds) limits->add_allowed_kinds(kind);
  auto* out = response.mutable_usage();
  out->set_permits_in_use(usage->permits_in_use);
  out->set_permits_waiting(usage->permits_waiting);
  out->set_live_tasks(usage->live_tasks);
  out->set_stored_tasks(usage->stored_tasks);
  if (call.channels) out->set_channels(call.channels->count(t.name));
  return grpc::Status::OK;
}

}  // namespace

grpc::ServerUnaryReactor* TenantServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest* request,
                                                    v1::WhoAmIResponse* response) {
  return InlineCall<v1::WhoAmIRequest, v1::WhoAmIResponse>::start(base_, "TenantService/WhoAmI", ctx, request,
                                                                 response, who_am_i);
}

}  // namespace orch::rpc
