#pragma once
/// orch::client::Client: a thin, synchronous C++ client of orchestrd's gRPC API.
///
/// It owns one channel and one stub per service. Every call carries the tenant's bearer token
/// (when one is set) and an optional deadline. Errors are returned as `grpc::Status`, never
/// thrown; a task's own failure is not an error: it is the `state` of the returned TaskInfo.
///
/// Thread-safety: after construction every member is safe to call from several threads at
/// once (gRPC channels and stubs are thread-safe); each call uses its own ClientContext.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "orch/client/specs.h"
#include "orch/v1/mutex.grpc.pb.h"
#include "orch/v1/channels.grpc.pb.h"
#include "orch/v1/schedules.grpc.pb.h"
#include "orch/v1/tasks.grpc.pb.h"
#include "orch/v1/tenants.grpc.pb.h"
#include "orch/v1/workers.grpc.pb.h"

namespace orch::client {

/// TLS of the connection to orchestrd; the texts are PEM (read_pem_file reads one).
struct ClientTls {
  /// CAs the server's certificate must chain to; empty: the system's CAs.
  std::string ca_pem = {};
  /// mTLS: the client's certificate chain and its private key; both or neither.
  std::string cert_pem = {};
  std::string key_pem = {};
  /// Verify the server's certificate for this name instead of the host of `address`.
  std::string server_name = {};
};

struct ClientOptions {
  /// `host:port` of orchestrd's gRPC listener.
  std::string address = "127.0.0.1:50051";
  /// Bearer token of the tenant; empty sends no `authorization` metadata.
  std::string token;
  /// Connect with TLS; nullopt: plaintext.
  std::optional<ClientTls> tls = std::nullopt;
};

/// The contents of a PEM file, for ClientTls. Throws std::runtime_error
/// "cannot read PATH: REASON", or "PATH holds no PEM block" when it has no "-----BEGIN".
std::string read_pem_file(const std::string& path);

/// Readies this process for gRPC client connections; Client's constructors call it, and so
/// must code that opens channels of its own before their first call. Cheap after the first time.
///
/// Why: gRPC 1.51 reads `errno` after a non-blocking connect() only once it has taken a lock
/// (src/core/lib/iomgr/tcp_client_posix.cc). The first contended Abseil lock in a process
/// measures the CPU's cycle-clock frequency, and that opens a /sys file most virtual machines do
/// not have. When this falls inside a connect, the connect in progress is reported as failed
/// ("No such file or directory") and the channel backs off for a second, failing the calls
/// made meanwhile. Measuring it here, before any connect, takes the measurement out of that
/// window.
void prepare_client_process();

class Client {
 public:
  /// Connects lazily to `options.address`, over TLS when `options.tls` is set, else over a
  /// plaintext channel.
  explicit Client(ClientOptions options);
  /// Uses an existing channel (in-process servers in tests); `options.address` is ignored.
  Client(std::shared_ptr<grpc::Channel> channel, ClientOptions options);

  /// A fresh context carrying `authorization: Bearer TOKEN` when a token is set, and a deadline
  /// of now + `deadline` when one is given.
  std::unique_ptr<grpc::ClientContext> context(
      std::optional<std::chrono::milliseconds> deadline = std::nullopt) const;

  orch::v1::TaskService::Stub& tasks() { return *tasks_; }
  orch::v1::TenantService::Stub& tenants() { return *tenants_; }
  orch::v1::ScheduleService::Stub& schedules() { return *schedules_; }
  orch::v1::MutexService::Stub& mutexes() { return *mutexes_; }
  orch::v1::ChannelService::Stub& channels() { return *channels_; }
  /// WorkerService: open a worker session with `workers().Connect(ctx)` (ctx from context()).
  orch::v1::WorkerService::Stub& workers() { return *workers_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

  // Unary calls: block until the reply (or the deadline), fill `response`, return the status.
  // Join, Select and Run wait for tasks to end; their own `timeout` field bounds that wait on the
  // server, `deadline` bounds the whole call on the client.
  using Deadline = std::optional<std::chrono::milliseconds>;
  grpc::Status spawn(const orch::v1::SpawnRequest& request, orch::v1::SpawnResponse& response,
                     Deadline deadline = std::nullopt);
  grpc::Status spawn_batch(const orch::v1::SpawnBatchRequest& request,
                           orch::v1::SpawnBatchResponse& response,
                           Deadline deadline = std::nullopt);
  grpc::Status get(const orch::v1::GetTaskRequest& request, orch::v1::TaskInfo& response,
                   Deadline deadline = std::nullopt);
  grpc::Status list(const orch::v1::ListTasksRequest& request,
                    orch::v1::ListTasksResponse& response, Deadline deadline = std::nullopt);
  grpc::Status join(const orch::v1::JoinRequest& request, orch::v1::JoinResponse& response,
                    Deadline deadline = std::nullopt);
  grpc::Status select(const orch::v1::SelectRequest& request, orch::v1::SelectResponse& response,
                      Deadline deadline = std::nullopt);
  /// Spawns a task and waits until it is terminal (one round trip). Past the request's
  /// `timeout` the status is DEADLINE_EXCEEDED and the task keeps running (unless
  /// `abort_unfinished`); its id is then in the message and in the trailer `orch-task-id`.
  grpc::Status run(const orch::v1::RunRequest& request, orch::v1::RunResponse& response,
                   Deadline deadline = std::nullopt);
  grpc::Status abort(const orch::v1::AbortRequest& request, orch::v1::AbortResponse& response,
                     Deadline deadline = std::nullopt);
  grpc::Status who_am_i(orch::v1::WhoAmIResponse& response, Deadline deadline = std::nullopt);

  /// Starts a Watch stream on `ctx` (make it with context()). Read events until Read() returns
  /// false, then call Finish() for the status. `ctx.TryCancel()` from any thread ends the
  /// stream early (Finish() then returns CANCELLED). `ctx` must outlive the reader.
  std::unique_ptr<grpc::ClientReader<orch::v1::TaskEvent>> watch(
      grpc::ClientContext& ctx, const orch::v1::WatchRequest& request);

 private:
  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<orch::v1::TaskService::Stub> tasks_;
  std::unique_ptr<orch::v1::TenantService::Stub> tenants_;
  std::unique_ptr<orch::v1::ScheduleService::Stub> schedules_;
  std::unique_ptr<orch::v1::MutexService::Stub> mutexes_;
  std::unique_ptr<orch::v1::ChannelService::Stub> channels_;
  std::unique_ptr<orch::v1::WorkerService::Stub> workers_;
};

}  // namespace orch::client
