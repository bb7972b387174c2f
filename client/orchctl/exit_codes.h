#pragma once
/// orchctl's exit codes and the two errors that end a command early.

#include <grpcpp/support/status.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace orchctl {

enum ExitCode : int {
  kExitOk = 0,
  /// join, select, spawn --wait: a returned task did not end SUCCEEDED.
  kExitTaskNotSucceeded = 1,
  /// The command line or a spec file is wrong; nothing was sent.
  kExitUsage = 2,
  /// An RPC failed (or another error stopped the command after it started).
  kExitRpc = 3,
};

/// A bad command line or spec file found after parsing; printed as "error: MESSAGE", exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failed RPC; printed as "CODE: message" on one line, exit 3.
class RpcError : public std::runtime_error {
 public:
  explicit RpcError(grpc::Status status)
      : std::runtime_error(status.error_message()), status_(std::move(status)) {}
  const grpc::Status& status() const { return status_; }

 private:
  grpc::Status status_;
};

}  // namespace orchctl
