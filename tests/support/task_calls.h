#pragma once
/// Short forms of the client calls integration tests make over and over. Each one turns an
/// unexpected RPC error into a test failure (with the status) instead of a crash, and every
/// wait is bounded by a client deadline, so a daemon bug fails a test instead of hanging it.
///
/// Thread-safety: as orch::client::Client (safe from several threads).

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "orch/client/client.h"

namespace orch::test {

/// Longest wait of any blocking call below: far beyond what a test expects, well inside the
/// 120 s ctest timeout.
inline constexpr std::chrono::milliseconds kCallDeadline{30'000};

/// "CODE: message", for assertion messages.
std::string describe(const grpc::Status& status);

/// Spawns `spec` (with `name`) and returns the new id; "" plus a test failure on an RPC error.
std::string spawn_task(orch::client::Client& client, const orch::v1::TaskSpec& spec,
                       const std::string& name = {});

/// Joins the tasks and returns them in order; empty plus a test failure on an RPC error.
std::vector<orch::v1::TaskInfo> join_tasks(orch::client::Client& client,
                                           const std::vector<std::string>& ids);
/// Joins one task.
orch::v1::TaskInfo join_task(orch::client::Client& client, const std::string& id);

/// Reads one task; an empty TaskInfo plus a test failure on an RPC error.
orch::v1::TaskInfo get_task(orch::client::Client& client, const std::string& id);

/// The tenant's usage now (WhoAmI); zeros plus a test failure on an RPC error.
orch::v1::TenantUsage usage(orch::client::Client& client);

/// A Watch stream of given tasks, read on demand from the test's thread. The server sends
/// each task's current state first, then every change, and ends the stream once all are
/// terminal; finish() reads it to that end. The stream is never cancelled on the normal path
/// (cancelling a watch is a path of its own, tested by itself): only the destructor of an
/// unfinished stream, reached when a test has already failed, cancels it.
class TaskWatchStream {
 public:
  TaskWatchStream(orch::client::Client& client, const std::vector<std::string>& ids,
                  std::chrono::milliseconds deadline = kCallDeadline);
  ~TaskWatchStream();
  TaskWatchStream(const TaskWatchStream&) = delete;
  TaskWatchStream& operator=(const TaskWatchStream&) = delete;

  /// Reads events until task `id` is in `state` (true) or the stream ends (false).
  bool wait_for(const std::string& id, orch::v1::TaskState state);
  /// Reads the remaining events and returns the stream's status.
  grpc::Status finish();
  /// Every event read so far, in order.
  const std::vector<orch::v1::TaskEvent>& events() const { return events_; }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<orch::v1::TaskEvent>> reader_;
  std::vector<orch::v1::TaskEvent> events_;
  std::optional<grpc::Status> status_;
};

/// Seconds from `from` to `to`.
double seconds_between(const google::protobuf::Timestamp& from,
                       const google::protobuf::Timestamp& to);

/// Seconds since `start` on the steady clock.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace orch::test
