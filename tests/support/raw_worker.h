#pragma once
/// A worker written in the test: every WorkerService message is sent and read explicitly, each
/// read bounded by the stream's client deadline.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "orch/client/client.h"

namespace orch::test {

/// Adds `a`'s result with `output` to `message`'s completions.
void add_result(orch::v1::WorkerMessage& message, const orch::v1::Assignment& a,
                const std::string& output);

class RawWorker {
 public:
  /// Connects, says hello for `queue` with `slots`, and reads the welcome.
  RawWorker(orch::client::Client& client, const std::string& queue, std::uint32_t slots = 1);
  ~RawWorker();
  RawWorker(const RawWorker&) = delete;
  RawWorker& operator=(const RawWorker&) = delete;

  /// The next message; a test failure when the stream ended.
  orch::v1::ServerMessage read();
  /// The first assignment of the next message, which must be an Assignments message.
  orch::v1::Assignment read_assignment();
  /// Reads Assignments messages until `count` assignments came; how many messages it took.
  int read_assignments(std::size_t count, std::vector<orch::v1::Assignment>& out);
  /// Reports `a` done with `output`.
  void send_result(const orch::v1::Assignment& a, const std::string& output);
  bool write(const orch::v1::WorkerMessage& message);
  /// Reads to the stream's end; its status.
  grpc::Status finish();

  std::string worker_id;

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<orch::v1::WorkerMessage, orch::v1::ServerMessage>>
      stream_;
  bool finished_ = false;
};

}  // namespace orch::test
