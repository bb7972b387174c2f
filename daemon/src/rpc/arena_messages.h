#pragma once
// RPC internals: messages on protobuf arenas whose first block lives inside their holder.
//
// ArenaMessages: a unary call's request and response on one arena per call.
// ArenaMessage: one message of a stream, renewed for each read or write.
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

namespace orch::rpc {

inline google::protobuf::ArenaOptions arena_options(char* block, std::size_t size) {
  google::protobuf::ArenaOptions o;
  o.initial_block = block;
  o.initial_block_size = size;
  return o;
}

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

/// One message of a stream reactor, read into or built for one write at a time. A message kept
/// on the heap and reused loses its sub-messages at each parse or Clear (a proto3 message field
/// or a oneof is deleted, not cleared): a task's spec, a worker's report or an assignment cost
/// their allocations per message. Here they are bumps of the arena's pointer, and renew(),
/// called once gRPC is done with the message, drops them all at once.
template <typename Message, std::size_t kFirstBlock = 4096>
class ArenaMessage {
 public:
  ArenaMessage()
      : arena_(arena_options(block_, kFirstBlock)),
        message_(google::protobuf::Arena::CreateMessage<Message>(&arena_)) {}
  ArenaMessage(const ArenaMessage&) = delete;
  ArenaMessage& operator=(const ArenaMessage&) = delete;

  Message& operator*() { return *message_; }
  Message* operator->() { return message_; }
  Message* get() { return message_; }

  /// An empty message; what the previous one held is freed (blocks past the first included).
  void renew() {
    arena_.Reset();
    message_ = google::protobuf::Arena::CreateMessage<Message>(&arena_);
  }

 private:
  alignas(std::max_align_t) char block_[kFirstBlock];  // before arena_, which uses it
  google::protobuf::Arena arena_;
  Message* message_;
};

}  // namespace orch::rpc
