#pragma once
// RPC internals: WorkerService. Each Connect stream is one worker of the caller's tenant,
// registered with the tenant's WorkerHub for as long as the stream lives.

#include "call.h"
#include "orch/v1/workers.grpc.pb.h"

namespace orch::workers {
class WorkerHubs;
}

namespace orch::rpc {

/// How often a worker must send something; three intervals of silence end its stream.
inline constexpr std::chrono::seconds kWorkerHeartbeatInterval{10};

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  WorkerServiceImpl(ServiceBase base, workers::WorkerHubs* hubs)
      : base_(std::move(base)), hubs_(hubs) {}

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::ServerMessage>* Connect(
      grpc::CallbackServerContext* ctx) override;

  /// Ends every worker stream with UNAVAILABLE (shutdown).
  void close_all();

 private:
  ServiceBase base_;
  workers::WorkerHubs* hubs_;
};

}  // namespace orch::rpc
