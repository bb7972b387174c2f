#pragma once
/// orch::client::TaskRunner: spawn-and-wait over one TaskService.RunStream.
///
/// Any number of threads call run() (blocking) or start() (a callback) at once; their tasks
/// share one stream. Spawns that are ready together leave in one message, answers come back
/// in the order the tasks end, several per message, and each caller gets its own task's
/// outcome. This is the cheapest way to run many small tasks and wait for each: one stream
/// message per batch instead of a Spawn and a Join per task.
///
/// A refused item (a bad spec, a full quota, more than limits.max_batch tasks in flight on the
/// stream) is answered with its code and message; the stream goes on. When the stream itself
/// breaks, every call in flight and every later one gets the stream's status.
///
/// Thread-safety: every member may be called from any thread. start()'s callback runs on a
/// gRPC thread: keep it short and never call close() or the destructor from it.

#include <functional>
#include <memory>

#include "orch/client/client.h"

namespace orch::client {

class TaskRunner {
 public:
  using Outcome = orch::v1::RunStreamResponse::Outcome;
  /// The stream's status (OK unless the stream broke) and the item's answer (its `code` says
  /// whether the task ran: 0, it did and `state`/`result` hold how it ended).
  using Done = std::function<void(const grpc::Status&, Outcome)>;

  /// Opens the stream on `client`'s channel (with its token). `client` must outlive the runner.
  explicit TaskRunner(Client& client);
  /// close(): waits for the answers in flight (cancel() first not to).
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  /// Spawns `request` and blocks until its answer. Returns the stream's status: when not OK the
  /// task's fate is unknown (the daemon aborts what a broken stream spawned).
  grpc::Status run(const orch::v1::SpawnRequest& request, Outcome& outcome);
  /// Spawns `request`; `done` is called once with its answer (or the stream's error).
  void start(const orch::v1::SpawnRequest& request, Done done);
  /// Stops sending, waits for the answers in flight, and returns the stream's final status.
  /// Later run()/start() calls fail with FAILED_PRECONDITION. Idempotent.
  grpc::Status close();

  /// Ends the stream at once: the daemon aborts the tasks in flight, and their callers get
  /// CANCELLED. close() or the destructor then returns without waiting for them.
  void cancel();

  /// Calls waiting for their answer now.
  std::size_t in_flight() const;

 private:
  class Reactor;
  std::unique_ptr<Reactor> reactor_;
};

}  // namespace orch::client
