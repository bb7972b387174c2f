#pragma once
/// Builders for task specs, so C++ callers write trees tersely:
///
///   using namespace std::chrono_literals;
///   namespace oc = orch::client;
///   auto spec = oc::select({oc::timeout(2s, oc::sleep(5s)), oc::sleep(1s)});
///
/// Thread-safety: pure functions.

#include <google/protobuf/duration.pb.h>

#include <string>
#include <vector>

#include "orch/common/duration.h"
#include "orch/v1/tasks.pb.h"

namespace orch::client {

/// A timer leaf: SUCCEEDED after `d`.
orch::v1::TaskSpec sleep(Duration d);
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

/// Duration conversions to and from google.protobuf.Duration (exact, nanosecond precision).
google::protobuf::Duration to_proto(Duration d);
Duration from_proto(const google::protobuf::Duration& d);

}  // namespace orch::client
