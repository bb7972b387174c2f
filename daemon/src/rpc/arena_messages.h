#pragma once
// RPC internals: messages on protobuf arenas whose first block lives inside their holder.
//
// ArenaMessages: a unary call's request and response on one arena per call. (A stream's
// messages: orch/common/arena_message.h.)
//
// gRPC's default holder keeps the two messages inside the call, but every sub-message, string and
// repeated field of theirs on the heap: a Run's request (the task's spec) and answer (a TaskInfo
// with its result, spec and timestamps) cost a dozen or more allocations and as many frees, a
// SpawnBatch or a Join of a thousand tasks thousands. On an arena whose first block lives inside
// the holder each is a bump of a pointer, and freeing them is dropping the arena's blocks. Set it
// with the generated SetMessageAllocatorFor_<Method>; the allocator keeps no state and must
// outlive the server.

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <cstddef>

#include "orch/common/arena_message.h"

namespace orch::rpc {

template <typename Request, typename Response, std::size_t kFirstBlock = 2048>
class ArenaMessages final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder; }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(arena_options(block_, kFirstBlock)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    // gRPC calls this once it is done with both messages.
    void Release() override { delete this; }

   private:
    alignas(std::max_align_t) char block_[kFirstBlock];  // before arena_, which uses it
    google::protobuf::Arena arena_;
  };
};

}  // namespace orch::rpc
