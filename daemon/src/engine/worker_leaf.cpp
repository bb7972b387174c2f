#include "worker_leaf.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "orch/engine/engine.h"
#include "orch/workers/worker_hub.h"
#include "task_record.h"

namespace orch::engine {
namespace {

namespace asio = boost::asio;
using asio::experimental::make_parallel_group;
using asio::experimental::wait_for_one;

asio::awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

AttemptOutcome outcome_of(workers::AttemptResult result) {
  AttemptOutcome out;
  out.output = WorkerOutput{result.succeeded ? std::move(result.output) : std::string{},
                            std::move(result.worker_id)};
  if (result.succeeded) {
    out.state = State::kSucceeded;
    return out;
  }
  out.state = State::kFailed;
  out.error = std::move(result.output);
  out.reason = result.reason;
  out.retryable = result.retryable;
  return out;
}

}  // namespace

asio::awaitable<AttemptOutcome> worker_attempt(const Node& node, RunContext& ctx,
                                               const AttemptInfo& attempt) {
  const auto* spec = std::get_if<WorkerSpec>(&node.work);
  workers::WorkerHubs* hubs = ctx.engine.workers();
  workers::WorkerHub* hub = hubs ? hubs->find(ctx.record.tenant.settings.name) : nullptr;
  if (!spec || !hub) {
    AttemptOutcome out;
    out.error = "workers are not available in this daemon";
    out.reason = FailureReason::kInternal;
    co_return out;
  }
  auto executor = co_await asio::this_coro::executor;
  const workers::WorkerHub::AttemptId id = hub->submit(workers::AttemptRequest{
      attempt.task_id, attempt.number, attempt.fencing_token, spec->queue, spec->payload,
      spec->schedule_to_start, spec->start_to_close, spec->heartbeat});

  for (;;) {
    if (const auto deadline = hub->next_deadline(id)) {
      Timer timer(executor);
      timer.expires_at(*deadline);
      auto wait = hub->async_wait(id, executor, asio::deferred);
      auto tick = timer.async_wait(asio::deferred);
      co_await make_parallel_group(std::move(wait), std::move(tick))
          .async_wait(wait_for_one(asio::cancellation_type::terminal), asio::use_awaitable);
    } else {
      // Nothing to time (the common case): no timer, no group. The hub wakes the wait when
      // the attempt gains a deadline (a worker took it and it has start_to_close or heartbeat).
      co_await hub->async_wait(id, executor, asio::as_tuple(asio::use_awaitable));
    }
    if (co_await cancelled()) {
      // Abort, a parent's timeout, a lost select, shutdown: the worker is told to stop.
      hub->abandon(id, ctx.record.cancel_reason().empty() ? std::string("the node was cancelled")
                                                          : ctx.record.cancel_reason());
      AttemptOutcome out;
      out.state = State::kCancelled;
      co_return out;
    }
    if (auto result = hub->take_result(id)) co_return outcome_of(std::move(*result));
    if (auto failure = hub->expire(id, Clock::now())) co_return outcome_of(std::move(*failure));
  }
}

}  // namespace orch::engine
