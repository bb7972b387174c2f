#pragma once
// Engine internals: one attempt of a `worker` node, handed to a remote worker through the
// tenant's WorkerHub.

#include "leaf_runner.h"

namespace orch::engine {

/// Submits the attempt to its queue and waits for a worker's report, a deadline
/// (schedule_to_start, start_to_close, heartbeat) or a cancellation, which cancels the
/// assignment on the worker.
boost::asio::awaitable<AttemptOutcome> worker_attempt(const Node& node, RunContext& ctx,
                                                      const AttemptInfo& attempt);

}  // namespace orch::engine
