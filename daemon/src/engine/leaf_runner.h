#pragma once
// Engine internals: what every leaf that does work shares — waiting for a permit of the tenant's
// semaphore, and for http, exec and worker the attempts, retries with backoff and fencing tokens.
// Each kind supplies one function that makes one attempt.

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "orch/engine/tenant_semaphore.h"
#include "run_node.h"

namespace orch::engine {

/// Waits for one permit of the task's tenant, then marks the task running. nullopt when the
/// node was cancelled first (nothing held then).
boost::asio::awaitable<std::optional<Permit>> acquire_permit(RunContext& ctx);

/// When the task is this one leaf, moves its permit to the task, which returns it once the
/// terminal state is published, so no observer sees the next task RUNNING while this one
/// still is. Otherwise leaves it with the caller, who returns it when the leaf ends.
void keep_if_root(const Node& node, RunContext& ctx, std::optional<Permit>& permit);

/// What the side effect of an attempt is told, so a downstream service can drop a stale
/// duplicate: headers X-Orch-Task-Id / X-Orch-Attempt / X-Orch-Fencing-Token on http, env
/// ORCH_TASK_ID / ORCH_ATTEMPT / ORCH_FENCING_TOKEN on exec, fields on worker assignments.
struct AttemptInfo {
  const std::string& task_id;
  std::uint32_t number = 1;         // from 1
  std::uint64_t fencing_token = 0;  // grows with every attempt the daemon starts
};

struct AttemptOutcome {
  State state = State::kFailed;  // kSucceeded, kFailed, or kCancelled when cancelled from above
  std::string error;             // for a person: what went wrong, e.g. "connect: refused"
  FailureReason reason = FailureReason::kInternal;
  LeafOutput output;             // kept on the node's result whether or not it succeeded
  bool retryable = true;         // false: the node fails now, whatever its RetryPolicy says
};

/// One attempt. Runs on the task's strand holding a permit; must finish promptly as kCancelled
/// when its cancellation slot fires, having stopped its side effect.
using AttemptFn = boost::asio::awaitable<AttemptOutcome> (*)(const Node& node, RunContext& ctx,
                                                             const AttemptInfo& attempt);

/// Runs attempts of `node` until one succeeds, a failure is non-retryable, or `node.retry`'s
/// attempts are spent, sleeping the backoff between attempts without holding a permit.
boost::asio::awaitable<NodeResult> run_attempts(const Node& node, RunContext& ctx, AttemptFn attempt);

/// The next fencing token: strictly greater than every earlier one of this process, and seeded
/// from the wall clock so a restarted daemon continues above its predecessor's tokens.
std::uint64_t next_fencing_token();

/// The wait before attempt `next` (2, 3, ...): min(initial * multiplier^(next-2), max).
Duration backoff_before(const RetryPolicy& policy, std::uint32_t next);

}  // namespace orch::engine
