#pragma once
// Engine internals: the send and recv leaves, which move one message through one of the
// tenant's named channels (channels/channel_registry.h). They hold no permit of the tenant's
// semaphore: waiting on a channel is not work.

#include <boost/asio/awaitable.hpp>

#include "run_node.h"

namespace orch::engine {

/// Puts the node's payload into its channel. An MPSC channel that is full makes it wait
/// (backpressure) until there is room; a cancelled send has sent nothing. SUCCEEDED with
/// SendOutput; FAILED when the channel is missing, deleted or closed.
boost::asio::awaitable<NodeResult> run_send(const Node& node, RunContext& ctx);

/// Takes one message from an MPSC channel (or reads a WATCH channel's current value). The
/// message is committed only when the node succeeds; a recv cancelled at any point (a lost
/// select, a timeout, an abort) gives it back to the front of the queue. FAILED when the
/// channel is missing, closed and drained, or a broadcast channel.
boost::asio::awaitable<NodeResult> run_recv(const Node& node, RunContext& ctx);

}  // namespace orch::engine
