#pragma once
// RPC internals: ChannelService over the daemon's ChannelRegistry (runtime/daemon.cpp owns it,
// so that task nodes can share it).

#include "call.h"
#include "orch/v1/channels.grpc.pb.h"

namespace orch::rpc {

class ChannelServiceImpl final : public v1::ChannelService::CallbackService {
 public:
  explicit ChannelServiceImpl(ServiceBase base) : base_(std::move(base)) {}

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const v1::CreateChannelRequest* request,
                                   v1::ChannelInfo* response) override;
  grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* ctx, const v1::SendRequest* request,
                                 v1::SendResponse* response) override;
  grpc::ServerUnaryReactor* Recv(grpc::CallbackServerContext* ctx, const v1::RecvRequest* request,
                                 v1::RecvResponse* response) override;
  grpc::ServerUnaryReactor* Ack(grpc::CallbackServerContext* ctx, const v1::AckRequest* request,
                                v1::AckResponse* response) override;
  grpc::ServerWriteReactor<v1::ChannelEvent>* Subscribe(
      grpc::CallbackServerContext* ctx, const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* ctx,
                                  const v1::CloseChannelRequest* request,
                                  v1::ChannelInfo* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const v1::DeleteChannelRequest* request,
                                   v1::DeleteChannelResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const v1::GetChannelRequest* request,
                                v1::ChannelInfo* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* ctx,
                                 const v1::ListChannelsRequest* request,
                                 v1::ListChannelsResponse* response) override;

 private:
  ServiceBase base_;
};

}  // namespace orch::rpc
