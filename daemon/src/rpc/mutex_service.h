#pragma once
// RPC internals: MutexService. It owns the daemon's MutexRegistry (one per daemon, tenants and
// quotas from the configuration) and the mutex metrics.

#include <memory>

#include "call.h"
#include "orch/mutexes/mutex_metrics.h"
#include "orch/mutexes/mutex_registry.h"
#include "orch/v1/mutex.grpc.pb.h"

namespace orch::rpc {

class MutexServiceImpl final : public v1::MutexService::CallbackService {
 public:
  explicit MutexServiceImpl(ServiceBase base);

  /// Ends every waiting Lock with UNAVAILABLE; later calls are UNAVAILABLE.
  void stop() { registry_.stop(); }
  /// A configuration reload: adds new tenants, replaces the limits of the others.
  void apply(const std::vector<config::TenantConfig>& tenants, const config::Limits& limits);

  grpc::ServerUnaryReactor* Lock(grpc::CallbackServerContext* ctx, const v1::LockRequest* request,
                                 v1::LockResponse* response) override;
  grpc::ServerUnaryReactor* Unlock(grpc::CallbackServerContext* ctx,
                                   const v1::UnlockRequest* request,
                                   v1::UnlockResponse* response) override;
  grpc::ServerUnaryReactor* Refresh(grpc::CallbackServerContext* ctx,
                                    const v1::RefreshRequest* request,
                                    v1::RefreshResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const v1::GetMutexRequest* request,
                                v1::MutexInfo* response) override;

 private:
  ServiceBase base_;
  std::unique_ptr<mutexes::MutexMetrics> metrics_;  // null without daemon metrics
  mutexes::MutexRegistry registry_;
};

}  // namespace orch::rpc
