#include "leaf_runner.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

#include "engine_metrics.h"
#include "orch/engine/engine.h"
#include "task_record.h"

namespace orch::engine {
namespace {

namespace asio = boost::asio;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

asio::awaitable<bool> cancelled() {
  auto state = co_await asio::this_coro::cancellation_state;
  co_return state.cancelled() != asio::cancellation_type::none;
}

NodeResult finish(NodeResult r, State state, std::string error = {}) {
  r.state = state;
  r.error = std::move(error);
  r.finished = Clock::now();
  return r;
}

bool retryable(const RetryPolicy& policy, FailureReason reason) {
  if (reason == FailureReason::kInternal) return false;
  const auto& never = policy.non_retryable_errors;
  return std::find(never.begin(), never.end(), reason) == never.end();
}

}  // namespace

asio::awaitable<std::optional<Permit>> acquire_permit(RunContext& ctx) {
  RunState& run = *ctx.record.run;
  if (run.granted) {
    // A task started lazily: its first permit was granted before its coroutine existed, and
    // the task already shows RUNNING.
    run.granted = false;
    std::optional<Permit> permit(std::move(*run.root_permit));
    run.root_permit.reset();
    if (co_await cancelled()) co_return std::nullopt;
    co_return permit;
  }
  auto executor = co_await asio::this_coro::executor;
  TenantState& tenant = ctx.engine.tenant_state(ctx.record);
  const TimePoint queued_at = Clock::now();
  auto [ec] = co_await tenant.semaphore.async_acquire(executor, kAwait);
  if (ec) co_return std::nullopt;
  Permit permit(tenant.semaphore);
  observe_permit_wait(tenant, Clock::now() - queued_at);
  ctx.engine.mark_running(ctx.record);
  // The grant may have raced with a cancellation that found nothing left to cancel.
  if (co_await cancelled()) co_return std::nullopt;
  co_return std::optional<Permit>(std::move(permit));
}

void keep_if_root(const Node& node, RunContext& ctx, std::optional<Permit>& permit) {
  if (&node != ctx.record.spec.get() || !permit) return;
  ctx.record.run->root_permit.emplace(std::move(*permit));
  permit.reset();
}

std::uint64_t next_fencing_token() {
  static std::atomic<std::uint64_t> last{static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count())};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

Duration backoff_before(const RetryPolicy& policy, std::uint32_t next) {
  const double factor = std::pow(std::max(policy.multiplier, 1.0), static_cast<double>(next) - 2.0);
  const double nanos = static_cast<double>(policy.initial_backoff.count()) * factor;
  if (!std::isfinite(nanos) || nanos >= static_cast<double>(policy.max_backoff.count())) {
    return policy.max_backoff;
  }
  return Duration(static_cast<Duration::rep>(nanos));
}

asio::awaitable<NodeResult> run_attempts(const Node& node, RunContext& ctx, AttemptFn attempt) {
  NodeResult r;
  r.kind = node.kind;
  auto executor = co_await asio::this_coro::executor;
  TenantState& tenant = ctx.engine.tenant_state(ctx.record);
  const std::uint32_t max_attempts = std::max<std::uint32_t>(node.retry.max_attempts, 1);
  const std::string task_id = ctx.record.id_text();

  for (std::uint32_t number = 1;; ++number) {
    std::optional<Permit> permit = co_await acquire_permit(ctx);
    if (!permit) co_return finish(std::move(r), State::kCancelled);
    if (!r.started) r.started = Clock::now();

    const AttemptInfo info{task_id, number, next_fencing_token()};
    r.attempts = number;
    r.fencing_token = info.fencing_token;
    count_attempt(tenant, node.kind, number > 1);
    AttemptOutcome outcome = co_await attempt(node, ctx, info);
    r.output = std::move(outcome.output);

    if (outcome.state == State::kSucceeded) {
      keep_if_root(node, ctx, permit);
      co_return finish(std::move(r), State::kSucceeded);
    }
    if (outcome.state == State::kCancelled || co_await cancelled()) {
      co_return finish(std::move(r), State::kCancelled, std::move(outcome.error));
    }
    count_attempt_failure(tenant, node.kind, outcome.reason);
    r.last_attempt_error = outcome.error;
    const bool last = number >= max_attempts || !outcome.retryable ||
                      !retryable(node.retry, outcome.reason);
    if (last) {
      keep_if_root(node, ctx, permit);
      std::string error = std::move(outcome.error);
      if (max_attempts > 1) {
        error = "attempt " + std::to_string(number) + " of " + std::to_string(max_attempts) +
                ": " + error;
      }
      co_return finish(std::move(r), outcome.state, std::move(error));
    }

    // Back off without holding a permit: a failing dependency must not starve the tenant.
    permit.reset();
    Timer backoff(executor);
    backoff.expires_after(backoff_before(node.retry, number + 1));
    auto [ec] = co_await backoff.async_wait(kAwait);
    if (ec || co_await cancelled()) co_return finish(std::move(r), State::kCancelled);
  }
}

}  // namespace orch::engine
