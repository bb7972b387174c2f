#pragma once
// Engine internals: a node tree run as coroutines.

#include <boost/asio/awaitable.hpp>

#include "orch/engine/node.h"

namespace orch::engine {

class Engine;
struct TaskRecord;

struct RunContext {
  Engine& engine;
  TaskRecord& record;
};

/// Runs `node` to its end and returns its result; a task's failure is a result, never an
/// exception. Cancellation (terminal, through the coroutine's slot) makes the node and every
/// descendant finish promptly as CANCELLED; composites cancel their own children as their
/// semantics say (fail_fast join, select losers, timeout).
boost::asio::awaitable<NodeResult> run_node(const Node& node, RunContext& ctx);

}  // namespace orch::engine
