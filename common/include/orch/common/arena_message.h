#pragma once
// A protobuf message on an arena whose first block lives inside its holder, renewed for each
// use: the daemon's stream reactors and the client's TaskRunner read and write through these.
// ArenaWritePair: two of them written in turn, one filling while the other is in flight.

#include <google/protobuf/arena.h>

#include <cstddef>

namespace orch {

inline google::protobuf::ArenaOptions arena_options(char* block, std::size_t size) {
  google::protobuf::ArenaOptions o;
  o.initial_block = block;
  o.initial_block_size = size;
  return o;
}

/// One message of a gRPC stream, read into or built for one write at a time. A message kept
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

/// The messages of a stream's writes, one in flight at a time: what is queued fills one
/// message while the other is written; take() hands over the filled one and starts the next
/// empty on the arena of the one written before.
template <typename Message>
class ArenaWritePair {
 public:
  /// The message being filled.
  Message* filling() { return messages_[filling_].get(); }
  /// The filled message, to write. Call only once the previous write is done.
  Message* take() {
    Message* out = filling();
    filling_ ^= 1;
    messages_[filling_].renew();
    return out;
  }

 private:
  ArenaMessage<Message> messages_[2];
  int filling_ = 0;
};

}  // namespace orch
