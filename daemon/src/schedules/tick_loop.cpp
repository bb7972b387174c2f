#include "orch/schedules/tick_loop.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace orch::schedules {

namespace asio = boost::asio;

asio::awaitable<TickLoopEnd> run_ticks(IntervalTimeline& timeline, TickSink& sink) {
  // Cancellation is an outcome here, not an exception (this applies to the caller's frame too).
  co_await asio::this_coro::throw_if_cancelled(false);
  engine::Timer timer(co_await asio::this_coro::executor);
  while (auto deadline = timeline.next_deadline()) {
    // A cancellation that came during a send has been spent: check it before sleeping again.
    if ((co_await asio::this_coro::cancellation_state).cancelled() !=
        asio::cancellation_type::none) {
      co_return TickLoopEnd::kCancelled;
    }
    // Sleep until the next tick is due; a deadline already past completes at once.
    timer.expires_at(*deadline);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return TickLoopEnd::kCancelled;
    // We may have woken late (a slow sink, a loaded daemon): fire() applies the behaviour.
    const auto now = engine::Clock::now();
    auto tick = timeline.fire(now);
    if (!tick) continue;
    if (!co_await sink.send(*tick, engine::Clock::now())) co_return TickLoopEnd::kReceiverGone;
  }
  co_return TickLoopEnd::kFinished;
}

}  // namespace orch::schedules
