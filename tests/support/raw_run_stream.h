#pragma once
/// A TaskService.RunStream written in the test: every message is sent and read explicitly from
/// the test's thread, each read bounded by the stream's client deadline.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "orch/client/client.h"

namespace orch::test {

class RawRunStream {
 public:
  using Outcome = orch::v1::RunStreamResponse::Outcome;

  explicit RawRunStream(orch::client::Client& client);
  ~RawRunStream();
  RawRunStream(const RawRunStream&) = delete;
  RawRunStream& operator=(const RawRunStream&) = delete;

  /// Sends one message of (ref, request) items.
  bool send(const std::vector<std::pair<std::uint64_t, orch::v1::SpawnRequest>>& items);
  /// Sends one message of one item: `spec` under `ref`.
  bool send(std::uint64_t ref, const orch::v1::TaskSpec& spec);
  /// Reads answers until `count` have come (fewer when the stream ends).
  std::vector<Outcome> read(std::size_t count);
  /// The next answer; an empty Outcome when the stream ended first.
  Outcome next();
  void half_close();
  void cancel();
  /// Reads to the stream's end; its status.
  grpc::Status finish();

  /// What each message read so far carried: its answers and its encoded size.
  struct Message {
    std::size_t outcomes = 0;
    std::size_t bytes = 0;
  };
  const std::vector<Message>& messages() const { return messages_; }

 private:
  bool fill();  // reads one message's answers into pending_; false when the stream ended

  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<orch::v1::RunStreamRequest, orch::v1::RunStreamResponse>>
      stream_;
  std::vector<Outcome> pending_;  // read from the stream, not yet returned
  std::vector<Message> messages_;
  bool finished_ = false;
};

}  // namespace orch::test
