#pragma once
// RPC internals: ScheduleService. It owns the daemon's ScheduleRegistry; stop() ends every
// schedule's driver (step 1 of the shutdown: no new work).

#include "call.h"
#include "orch/schedules/schedule_registry.h"
#include "orch/v1/schedules.grpc.pb.h"

namespace orch::rpc {

class ScheduleServiceImpl final : public v1::ScheduleService::CallbackService {
 public:
  explicit ScheduleServiceImpl(ServiceBase base)
      : base_(std::move(base)), registry_(base_.executor, base_.engine, base_.metrics) {
    base_.schedules = &registry_;
  }

  /// No tick fires from now on; tasks already spawned keep running.
  void stop() { registry_.stop(); }

  grpc::ServerUnaryReactor* CreateInterval(grpc::CallbackServerContext* ctx,
                                           const v1::CreateIntervalRequest* request,
                                           v1::ScheduleInfo* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const v1::GetScheduleRequest* request,
                                v1::ScheduleInfo* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const v1::ListSchedulesRequest* request,
                                 v1::ListSchedulesResponse* response) override;
  grpc::ServerUnaryReactor* Pause(grpc::CallbackServerContext* ctx,
                                  const v1::PauseScheduleRequest* request,
                                  v1::ScheduleInfo* response) override;
  grpc::ServerUnaryReactor* Resume(grpc::CallbackServerContext* ctx,
                                   const v1::ResumeScheduleRequest* request,
                                   v1::ScheduleInfo* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const v1::DeleteScheduleRequest* request,
                                   v1::DeleteScheduleResponse* response) override;
  grpc::ServerWriteReactor<v1::Tick>* Ticks(grpc::CallbackServerContext* ctx,
                                            const v1::TicksRequest* request) override;

 private:
  ServiceBase base_;
  schedules::ScheduleRegistry registry_;
};

}  // namespace orch::rpc
