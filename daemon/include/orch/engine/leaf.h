#pragma once
/// The parameters and outputs of leaf nodes that do work (http, exec, worker) or move messages
/// (send, recv), and the retry policy of work leaves. Plain values, like the rest of node.h.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "orch/common/duration.h"

namespace orch::engine {

using Header = std::pair<std::string, std::string>;

/// Why one attempt of a work leaf failed: a closed set, used by `non_retryable_errors`, in
/// messages and as a metrics label.
enum class FailureReason : std::uint8_t {
  kStatus,           // http: a status >= 400 not in accept_status
  kConnect,          // http: connection refused, unreachable, or connect_timeout passed
  kDns,              // http: the host did not resolve
  kTls,              // http: handshake or certificate verification failed
  kTimeout,          // http: the request's `timeout` passed
  kProtocol,         // http: a malformed response or too many redirects
  kDenied,           // http: the host is denied by the tenant's guards
  kExitCode,         // exec: exited with a non-zero code
  kSignal,           // exec: ended by a signal
  kSpawn,            // exec: could not be started
  kWorkerError,      // worker: the worker answered with an error
  kWorkerLost,       // worker: disconnected while running the attempt
  kHeartbeat,        // worker: no heartbeat within `heartbeat`
  kStartToClose,     // worker: the attempt ran longer than `start_to_close`
  kScheduleToStart,  // worker: no worker took the task within `schedule_to_start`
  kInternal,         // a bug; never retried
};
inline constexpr std::size_t kFailureReasonCount = 16;

/// "status", "connect", ..., "schedule_to_start", "internal".
std::string_view failure_reason_name(FailureReason reason);
std::optional<FailureReason> failure_reason_from_name(std::string_view name);

/// How a work leaf is retried. One attempt unless said otherwise; the wait before attempt n+1
/// is min(initial_backoff * multiplier^(n-1), max_backoff).
struct RetryPolicy {
  std::uint32_t max_attempts = 1;
  Duration initial_backoff = std::chrono::seconds(1);
  Duration max_backoff = std::chrono::seconds(60);
  double multiplier = 2.0;
  /// Failure reasons that end the node at once, whatever attempts are left.
  std::vector<FailureReason> non_retryable_errors;

  bool operator==(const RetryPolicy&) const = default;
};

struct HttpSpec {
  std::string method;
  std::string url;
  std::vector<Header> headers;
  std::string body;
  std::optional<Duration> connect_timeout;
  std::optional<Duration> timeout;
  std::uint64_t max_response_bytes = 0;  // 0: the configured default
  bool follow_redirects = false;
  std::vector<std::uint32_t> accept_status;
};

struct ExecSpec {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;
  std::string stdin_data;
  std::uint64_t max_output_bytes = 0;  // 0: the configured default
  std::optional<Duration> kill_grace;
};

struct WorkerSpec {
  std::string queue;
  std::string payload;
  std::optional<Duration> schedule_to_start;
  std::optional<Duration> start_to_close;
  std::optional<Duration> heartbeat;
};

/// send and recv: the tenant's channel, and for send the message.
struct ChannelOpSpec {
  std::string channel;
  std::string payload;
};

using WorkSpec = std::variant<std::monostate, HttpSpec, ExecSpec, WorkerSpec, ChannelOpSpec>;

struct HttpOutput {
  std::uint32_t status = 0;
  std::string reason;
  std::vector<Header> headers;
  std::string body;
  bool truncated = false;
  std::string url;
};

struct ExecOutput {
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
};

struct WorkerOutput {
  std::string result;
  std::string worker_id;
};

struct SendOutput {
  std::uint64_t receivers = 0;
};

struct RecvOutput {
  std::string payload;
  std::uint64_t sequence = 0;
};

using LeafOutput =
    std::variant<std::monostate, HttpOutput, ExecOutput, WorkerOutput, SendOutput, RecvOutput>;

}  // namespace orch::engine
