#pragma once
// RPC internals: a gRPC message allocator that puts a unary call's request and response on one
// protobuf arena. For calls whose messages hold many small submessages and strings (a batch of
// spawn requests, a join's task list) parsing and building them is then a bump of a pointer per
// object, and the whole call's memory is freed at once when gRPC releases the call, instead of
// one malloc and one free per object.
//
// Register with the generated SetMessageAllocatorFor_<Method>; the allocator keeps no state and
// must outlive the server.

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

namespace orch::rpc {

template <typename Request, typename Response>
class ArenaMessages final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder; }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
  };
};

}  // namespace orch::rpc
