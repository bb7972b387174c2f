// MutexService: proto in, the MutexRegistry's leases on the engine Clock, proto out.
#include "mutex_service.h"

#include <google/protobuf/util/time_util.h>
#include <prometheus/registry.h>

#include <limits>

#include "orch/metrics/metrics.h"
#include "orch/rpc/status.h"
#include "orch/tenants/tenant_registry.h"

namespace orch::rpc {
namespace {

using google::protobuf::util::TimeUtil;

grpc::Status invalid(const std::string& field, const std::string& reason) {
  return to_status(engine::make_error(engine::ErrorCode::kInvalidArgument, field + ": " + reason));
}

// A proto Duration as a non-negative duration; one too long for the engine saturates (the
// registry then refuses it against its own maximum).
std::optional<Duration> duration_of(const google::protobuf::Duration& d) {
  if (d.nanos() <= -1'000'000'000 || d.nanos() >= 1'000'000'000 || d.seconds() < 0 ||
      d.nanos() < 0) {
    return std::nullopt;
  }
  constexpr std::int64_t kMaxSeconds =
      std::chrono::duration_cast<std::chrono::seconds>(Duration::max()).count() - 1;
  if (d.seconds() >= kMaxSeconds) return Duration::max();
  return std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos());
}

google::protobuf::Timestamp timestamp_of(engine::TimePoint t) {
  const auto wall = engine::Clock::to_system(t);
  return TimeUtil::NanosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count());
}

asio::awaitable<grpc::Status> lock(CallContext call, const v1::LockRequest& request,
                                   v1::LockResponse& response) {
  mutexes::LockArgs args;
  args.name = request.name();
  args.holder = request.holder();
  args.no_wait = request.no_wait();
  const auto ttl = duration_of(request.lease_ttl());
  if (!ttl) co_return invalid("lease_ttl", "must be a valid, non-negative duration");
  args.lease_ttl = *ttl;
  if (!request.no_wait()) {
    const auto wait = duration_of(request.wait_timeout());
    if (!wait) co_return invalid("wait_timeout", "must be a valid, non-negative duration");
    if (*wait > call.limits.max_duration) {
      co_return invalid("wait_timeout", "must be at most " +
                                            format_duration(call.limits.max_duration) +
                                            " (limits.max_duration)");
    }
    if (*wait != Duration::zero()) args.wait_timeout = *wait;
  }
  auto grant = co_await call.mutexes->lock(call.tenant.name, std::move(args));
  if (!grant) co_return to_status(grant.error());
  response.set_guard(std::move(grant->guard));
  response.set_fencing_token(grant->fencing_token);
  response.set_value(std::move(grant->value));
  *response.mutable_lease_expires_at() = timestamp_of(grant->lease_expires_at);
  co_return grpc::Status::OK;
}

grpc::Status unlock(CallContext call, const v1::UnlockRequest& request,
                    v1::UnlockResponse&) {
  mutexes::UnlockArgs args{request.name(), request.guard(), std::nullopt};
  if (request.set_value()) {
    args.value = request.value();
  } else if (!request.value().empty()) {
    return invalid("value", "given without set_value; set set_value to store it");
  }
  auto released = call.mutexes->unlock(call.tenant.name, args);
  if (!released) return to_status(released.error());
  return grpc::Status::OK;
}

grpc::Status refresh(CallContext call, const v1::RefreshRequest& request,
                     v1::RefreshResponse& response) {
  const auto ttl = duration_of(request.lease_ttl());
  if (!ttl) return invalid("lease_ttl", "must be a valid, non-negative duration");
  auto expires = call.mutexes->refresh(call.tenant.name,
                                       mutexes::RefreshArgs{request.name(), request.guard(), *ttl});
  if (!expires) return to_status(expires.error());
  *response.mutable_lease_expires_at() = timestamp_of(*expires);
  return grpc::Status::OK;
}

grpc::Status get(CallContext call, const v1::GetMutexRequest& request,
                 v1::MutexInfo& response) {
  auto s = call.mutexes->get(call.tenant.name, request.name());
  if (!s) return to_status(s.error());
  response.set_name(s->name);
  response.set_value(s->value);
  response.set_locked(s->holder.has_value());
  if (s->holder) {
    auto* holder = response.mutable_holder();
    holder->set_holder(s->holder->holder);
    holder->set_fencing_token(s->holder->fencing_token);
    *holder->mutable_acquired_at() = timestamp_of(s->holder->acquired_at);
    *holder->mutable_lease_expires_at() = timestamp_of(s->holder->lease_expires_at);
  }
  response.set_fencing_token(s->fencing_token);
  response.set_value_fencing_token(s->value_fencing_token);
  if (s->value_updated_at)
    *response.mutable_value_updated_at() = timestamp_of(*s->value_updated_at);
  response.set_waiters(s->waiters);
  return grpc::Status::OK;
}

mutexes::MutexOptions options_of(const config::Limits& limits) {
  mutexes::MutexOptions options;
  options.max_lease_ttl = limits.max_lease_ttl;
  return options;
}

}  // namespace

MutexServiceImpl::MutexServiceImpl(ServiceBase base)
    : base_(std::move(base)),
      metrics_(base_.metrics ? std::make_unique<mutexes::MutexMetrics>(*base_.metrics->registry())
                             : nullptr),
      registry_(base_.executor, options_of(*base_.limits.get())) {
  base_.mutexes = &registry_;
  apply(base_.tenants.tenants(), *base_.limits.get());
}

void MutexServiceImpl::apply(const std::vector<config::TenantConfig>& tenants,
                             const config::Limits& limits) {
  registry_.set_max_lease_ttl(limits.max_lease_ttl);
  for (const auto& t : tenants) {
    registry_.add_tenant(mutexes::TenantMutexLimits{
        t.name, t.max_mutexes, t.max_mutex_value_bytes, t.max_mutex_waiters,
        metrics_ ? &metrics_->add_tenant(t.name) : nullptr});
  }
}

grpc::ServerUnaryReactor* MutexServiceImpl::Lock(grpc::CallbackServerContext* ctx,
                                                 const v1::LockRequest* request,
                                                 v1::LockResponse* response) {
  return UnaryCall<v1::LockRequest, v1::LockResponse>::start(base_, "MutexService/Lock", ctx,
                                                             request, response, lock);
}

grpc::ServerUnaryReactor* MutexServiceImpl::Unlock(grpc::CallbackServerContext* ctx,
                                                   const v1::UnlockRequest* request,
                                                   v1::UnlockResponse* response) {
  return InlineCall<v1::UnlockRequest, v1::UnlockResponse>::start(base_, "MutexService/Unlock", ctx,
                                                                 request, response, unlock);
}

grpc::ServerUnaryReactor* MutexServiceImpl::Refresh(grpc::CallbackServerContext* ctx,
                                                    const v1::RefreshRequest* request,
                                                    v1::RefreshResponse* response) {
  return InlineCall<v1::RefreshRequest, v1::RefreshResponse>::start(base_, "MutexService/Refresh",
                                                                   ctx, request, response, refresh);
}

grpc::ServerUnaryReactor* MutexServiceImpl::Get(grpc::CallbackServerContext* ctx,
                                                const v1::GetMutexRequest* request,
                                                v1::MutexInfo* response) {
  return InlineCall<v1::GetMutexRequest, v1::MutexInfo>::start(base_, "MutexService/Get", ctx,
                                                              request, response, get);
}

}  // namespace orch::rpc
