#include "run_node.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "channel_nodes.h"
#include "leaf_runner.h"
#include "worker_leaf.h"
#include "orch/engine/engine.h"
#include "task_record.h"
#include "work/exec_attempt.h"
#include "work/http_attempt.h"

namespace orch::engine {
namespace {

namespace asio = boost::asio;
using asio::experimental::make_parallel_group;
using asio::experimental::wait_for_all;
using asio::experimental::wait_for_one;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// Reads whether this coroutine has been asked to stop.
asio::awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

NodeResult begin(const Node& node) {
  NodeResult r;
  r.kind = node.kind;
  r.started = Clock::now();
  return r;
}

NodeResult finish(NodeResult r, State state, std::string error = {}) {
  r.state = state;
  r.error = std::move(error);
  r.finished = Clock::now();
  return r;
}

// A child's result when its coroutine escaped with an exception: a bug, reported as a failure
// of that child rather than a crash of the daemon.
NodeResult from_exception(const Node& node, const std::exception_ptr& e) {
  std::string what = "internal error";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    what += ": ";
    what += ex.what();
  } catch (...) {
  }
  return finish(begin(node), State::kFailed, std::move(what));
}

std::string describe_child(std::size_t index, const NodeResult& child) {
  std::string text = "child " + std::to_string(index) + " (" + std::string(kind_name(child.kind)) +
                     ") " + std::string(state_name(child.state));
  if (!child.error.empty()) text += ": " + child.error;
  return text;
}

// A fail_fast join's condition: the first child that does not succeed cancels its siblings.
struct CancelOnFailure {
  asio::cancellation_type_t operator()(const std::exception_ptr& e, const NodeResult& r) const {
    return (e || r.state != State::kSucceeded) ? asio::cancellation_type::terminal
                                               : asio::cancellation_type::none;
  }
};

// Starts every child concurrently on this strand; completes when `condition` and the children
// say so. Results come back in child order (exceptions already turned into failures).
template <typename Condition>
asio::awaitable<std::pair<std::vector<std::size_t>, std::vector<NodeResult>>> run_children(
    const Node& node, RunContext& ctx, Condition condition) {
  auto executor = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(executor, run_node(node.children.front(), ctx), asio::deferred));
  std::vector<Op> ops;
  ops.reserve(node.children.size());
  for (const Node& child : node.children) {
    ops.push_back(asio::co_spawn(executor, run_node(child, ctx), asio::deferred));
  }
  auto [order, exceptions, results] =
      co_await make_parallel_group(std::move(ops)).async_wait(condition, asio::use_awaitable);
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (exceptions[i]) results[i] = from_exception(node.children[i], exceptions[i]);
  }
  co_return std::pair{std::move(order), std::move(results)};
}

asio::awaitable<NodeResult> run_sleep(const Node& node, RunContext& ctx) {
  NodeResult r;
  r.kind = node.kind;
  auto executor = co_await asio::this_coro::executor;
  std::optional<Permit> permit = co_await acquire_permit(ctx);
  if (!permit) co_return finish(std::move(r), State::kCancelled);
  keep_if_root(node, ctx, permit);

  r.started = Clock::now();
  Timer timer(executor);
  timer.expires_after(node.duration);
  auto [wait_ec] = co_await timer.async_wait(kAwait);
  co_return finish(std::move(r), wait_ec ? State::kCancelled : State::kSucceeded);
}

asio::awaitable<NodeResult> run_join(const Node& node, RunContext& ctx) {
  NodeResult r = begin(node);
  // (No co_await inside ?: — GCC 12 miscompiles it.)
  std::pair<std::vector<std::size_t>, std::vector<NodeResult>> group;
  if (node.fail_fast) {
    group = co_await run_children(node, ctx, CancelOnFailure{});
  } else {
    group = co_await run_children(node, ctx, wait_for_all());
  }
  auto& [order, results] = group;
  if (co_await cancelled()) {
    r.children = std::move(results);
    co_return finish(std::move(r), State::kCancelled);
  }
  // The join's outcome is the first child, in completion order, that did not succeed.
  State state = State::kSucceeded;
  std::string error;
  for (std::size_t index : order) {
    if (results[index].state != State::kSucceeded) {
      state = results[index].state;
      error = describe_child(index, results[index]);
      if (node.fail_fast) {
        for (auto& sibling : results) {
          explain_cancellation(sibling, "cancelled: child " + std::to_string(index) +
                                            " of a fail_fast join did not succeed");
        }
      }
      break;
    }
  }
  r.children = std::move(results);
  co_return finish(std::move(r), state, std::move(error));
}

asio::awaitable<NodeResult> run_select(const Node& node, RunContext& ctx) {
  NodeResult r = begin(node);
  auto [order, results] = co_await run_children(node, ctx, wait_for_one(asio::cancellation_type::terminal));
  if (co_await cancelled()) {
    // Cancelled from above: nobody won, and whoever cancelled explains it.
    r.children = std::move(results);
    co_return finish(std::move(r), State::kCancelled);
  }
  const auto winner = static_cast<std::uint32_t>(order.front());
  for (auto& loser : results) {
    explain_cancellation(loser, "cancelled: lost the select to child " + std::to_string(winner));
  }
  const State state = results[winner].state;
  std::string error = state == State::kSucceeded ? std::string{} : describe_child(winner, results[winner]);
  r.winner = winner;
  r.children = std::move(results);
  co_return finish(std::move(r), state, std::move(error));
}

asio::awaitable<NodeResult> run_timeout(const Node& node, RunContext& ctx) {
  NodeResult r = begin(node);
  auto executor = co_await asio::this_coro::executor;
  Timer deadline(executor);
  deadline.expires_after(node.duration);
  auto [order, exception, child, timer_ec] =
      co_await make_parallel_group(
          asio::co_spawn(executor, run_node(node.children.front(), ctx), asio::deferred),
          deadline.async_wait(asio::deferred))
          .async_wait(wait_for_one(asio::cancellation_type::terminal), asio::use_awaitable);
  if (exception) child = from_exception(node.children.front(), exception);
  const bool deadline_won = order[0] == 1 && !timer_ec;
  if (deadline_won) {
    const std::string reason = "deadline of " + format_duration(node.duration) + " passed";
    explain_cancellation(child, "cancelled: " + reason);
    r.children.push_back(std::move(child));
    co_return finish(std::move(r), State::kTimedOut, reason);
  }
  const State state = child.state;
  std::string error = child.error;
  r.children.push_back(std::move(child));
  co_return finish(std::move(r), state, std::move(error));
}

asio::awaitable<NodeResult> run_sequence(const Node& node, RunContext& ctx) {
  NodeResult r = begin(node);
  for (std::size_t i = 0; i < node.children.size(); ++i) {
    if (co_await cancelled()) co_return finish(std::move(r), State::kCancelled);
    NodeResult child = co_await run_node(node.children[i], ctx);
    const State state = child.state;
    r.children.push_back(std::move(child));
    if (state != State::kSucceeded) {
      std::string error = "step " + describe_child(i, r.children.back()).substr(6);
      co_return finish(std::move(r), state, std::move(error));
    }
  }
  co_return finish(std::move(r), State::kSucceeded);
}

}  // namespace

namespace {

// A kind this build cannot run. Validation refuses such kinds; reaching here is a bug.
asio::awaitable<NodeResult> run_unavailable(const Node& node) {
  co_return finish(begin(node), State::kFailed,
                   "node kind '" + std::string(kind_name(node.kind)) + "' is not available");
}

// The coroutine that runs `node`'s kind. Not a coroutine itself: run_node awaits the one it
// returns, so run_node's frame holds one awaitable and one NodeResult whatever the kind (a
// co_await per switch case gave every case its own slots, about 4 KiB per task).
asio::awaitable<NodeResult> run_kind(const Node& node, RunContext& ctx) {
  switch (node.kind) {
    case NodeKind::kSleep:
      return run_sleep(node, ctx);
    case NodeKind::kJoin:
      return run_join(node, ctx);
    case NodeKind::kSelect:
      return run_select(node, ctx);
    case NodeKind::kTimeout:
      return run_timeout(node, ctx);
    case NodeKind::kSequence:
      return run_sequence(node, ctx);
    case NodeKind::kExec:
      return run_attempts(node, ctx, &work::exec_attempt);
    case NodeKind::kWorker:
      return run_attempts(node, ctx, &worker_attempt);
    case NodeKind::kHttp:
      return run_attempts(node, ctx, &work::http_attempt);
    case NodeKind::kSend:
      return run_send(node, ctx);
    case NodeKind::kRecv:
      return run_recv(node, ctx);
    default:
      return run_unavailable(node);
  }
}

}  // namespace

asio::awaitable<NodeResult> run_node(const Node& node, RunContext& ctx) {
  // Cancellation is read explicitly (and turned into a CANCELLED result), never thrown.
  co_await asio::this_coro::throw_if_cancelled(false);
  NodeResult result = co_await run_kind(node, ctx);
  // A node cancelled from above says nothing itself: whoever cancelled it (abort, timeout, a
  // won select, shutdown) explains it, on this node and every descendant.
  if (result.state == State::kCancelled && co_await cancelled()) result.error.clear();
  co_return result;
}

}  // namespace orch::engine
