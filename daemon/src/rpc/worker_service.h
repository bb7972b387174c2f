#pragma once
// RPC internals: WorkerService. Each Connect stream is one worker of the caller's tenant,
// registered with the tenant's WorkerHub for as long as the stream lives.

#include <memory>

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
  WorkerServiceImpl(ServiceBase base, workers::WorkerHubs* hubs);
  ~WorkerServiceImpl() override;

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::ServerMessage>* Connect(
      grpc::CallbackServerContext* ctx) override;

  /// Starts ending the streams of workers silent for three heartbeat intervals.
  void start_sweeper();
  /// Ends every worker stream with UNAVAILABLE (shutdown) and stops the sweeper.
  void close_all();

 private:
  struct Sweeper;
  void arm_sweeper();

  ServiceBase base_;
  workers::WorkerHubs* hubs_;
  std::unique_ptr<Sweeper> sweeper_;
};

}  // namespace orch::rpc
