#pragma once
// Work internals: one attempt of an http node, run by engine::run_attempts.

#include <boost/asio/awaitable.hpp>

#include "engine/leaf_runner.h"

namespace orch::work {

/// Sends the node's request (following redirects when asked) and reads the response, its body
/// cut at max_response_bytes. Completes with kSucceeded, or kFailed with the reason (status,
/// dns, connect, tls, timeout, protocol, denied) and a message that names it; the response,
/// when one came, is the output either way. Every request carries X-Orch-Task-Id,
/// X-Orch-Attempt and X-Orch-Fencing-Token.
/// Cancellation (terminal, through the coroutine's slot): closes the connection at once and
/// completes with kCancelled.
boost::asio::awaitable<engine::AttemptOutcome> http_attempt(const engine::Node& node,
                                                            engine::RunContext& ctx,
                                                            const engine::AttemptInfo& attempt);

}  // namespace orch::work
