#pragma once
/// Builders for task specs, so C++ callers write trees tersely:
///
///   using namespace std::chrono_literals;
///   namespace oc = orch::client;
///   auto spec = oc::select({oc::timeout(2s, oc::sleep(5s)), oc::sleep(1s)});
///
/// Thread-safety: pure functions.

#include <google/protobuf/duration.pb.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orch/common/duration.h"
#include "orch/v1/tasks.pb.h"

namespace orch::client {

/// A timer leaf: SUCCEEDED after `d`.
orch::v1::TaskSpec sleep(Duration d);
/// One HTTP/1.1 request; set headers, body, timeouts and the rest on the result's http().
orch::v1::TaskSpec http(const std::string& method, const std::string& url);
/// Puts `payload` into the tenant's channel `channel` (waits while an mpsc channel is full).
orch::v1::TaskSpec send(std::string channel, std::string payload);
/// Takes one message from the tenant's channel `channel` (cancel-safe).
orch::v1::TaskSpec recv(std::string channel);
/// Runs all children concurrently; with `fail_fast` the first failure cancels the rest.
orch::v1::TaskSpec join(std::vector<orch::v1::TaskSpec> children, bool fail_fast = false);
/// Runs the children concurrently; the first to finish wins, the others are cancelled.
orch::v1::TaskSpec select(std::vector<orch::v1::TaskSpec> children);
/// `child`'s result if it ends within `d`, otherwise TIMED_OUT.
orch::v1::TaskSpec timeout(Duration d, orch::v1::TaskSpec child);
/// Runs the children in order, stopping at the first that does not succeed.
orch::v1::TaskSpec sequence(std::vector<orch::v1::TaskSpec> children);

/// What an exec leaf runs beside its argv; every field may stay at its default.
struct ExecOptions {
  std::vector<std::pair<std::string, std::string>> env;  // added to the child's environment
  std::string cwd;                                       // absolute; empty: "/"
  std::string stdin_data;                                // bytes on the child's stdin
  std::uint64_t max_output_bytes = 0;                    // per stream; 0: the daemon's limit
  std::optional<Duration> kill_grace;                    // unset: the daemon's default
};
/// Runs `argv` (argv[0]: an absolute path on the daemon's host, in the tenant's
/// exec_allowlist) without a shell; SUCCEEDED when it exits 0.
orch::v1::TaskSpec exec(std::vector<std::string> argv, const ExecOptions& options = {});

/// A retry policy: up to `max_attempts` attempts, waiting min(initial_backoff *
/// multiplier^(n-1), max_backoff) before attempt n+1; `non_retryable` names failure reasons
/// ("exit_code", "signal", "spawn", ...) that end the node at once.
orch::v1::RetryPolicy retry_policy(std::uint32_t max_attempts, Duration initial_backoff,
                                   Duration max_backoff = std::chrono::seconds(60),
                                   double multiplier = 2.0,
                                   std::vector<std::string> non_retryable = {});
/// `spec` (a work leaf: http, exec, worker) with `policy`.
orch::v1::TaskSpec with_retry(orch::v1::TaskSpec spec, orch::v1::RetryPolicy policy);

/// Work for a remote worker serving `queue` (WorkerService); `payload` is handed to it as is.
orch::v1::TaskSpec worker(const std::string& queue, const std::string& payload = {});

/// Duration conversions to and from google.protobuf.Duration (exact, nanosecond precision).
google::protobuf::Duration to_proto(Duration d);
Duration from_proto(const google::protobuf::Duration& d);

}  // namespace orch::client
