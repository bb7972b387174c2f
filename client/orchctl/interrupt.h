#pragma once
/// Ends a streaming call cleanly on Ctrl-C (SIGINT) or SIGTERM.

#include <grpcpp/client_context.h>

#include <atomic>
#include <thread>

namespace orchctl {

/// While alive, SIGINT and SIGTERM call `ctx.TryCancel()` instead of killing the process, so
/// the stream's Read() returns false and the command can finish its output. The signal
/// handler only writes to a pipe; a helper thread does the cancelling. One instance at a time.
class CancelOnInterrupt {
 public:
  explicit CancelOnInterrupt(grpc::ClientContext& ctx);
  ~CancelOnInterrupt();
  CancelOnInterrupt(const CancelOnInterrupt&) = delete;
  CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;

  /// True once a signal has cancelled the call.
  bool interrupted() const { return interrupted_.load(); }

 private:
  grpc::ClientContext& ctx_;
  std::atomic<bool> interrupted_{false};
  int pipe_[2] = {-1, -1};
  std::thread waiter_;
};

}  // namespace orchctl
