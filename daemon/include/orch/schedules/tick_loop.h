#pragma once
/// The driver of one interval's timeline for a Ticks stream: a remote
/// `loop { interval.tick().await; send(tick).await; }` on the engine Clock.
///
/// Protobuf-free: the RPC layer (or a test) supplies a TickSink that delivers each tick. The
/// loop waits for the sink before it takes the next tick, so a slow sink makes ticks late and
/// the timeline's MissedTickBehavior decides what fires, instead of ticks piling up in a buffer.
///
/// Thread-safety: one loop per timeline, run on one strand; the sink is called on that strand.

#include <boost/asio/awaitable.hpp>
#include <cstdint>

#include "orch/engine/clock.h"
#include "orch/schedules/interval_timeline.h"

namespace orch::schedules {

/// Where the ticks of run_ticks go: the Ticks stream's writer, or a test's recorder.
class TickSink {
 public:
  virtual ~TickSink() = default;
  /// Delivers one tick that fired at `sent_at`; completes once the receiver has taken it.
  /// Completes with false when the receiver is gone (the loop then ends).
  virtual boost::asio::awaitable<bool> send(const FiredTick& tick, engine::TimePoint sent_at) = 0;
};

/// Why run_ticks returned.
enum class TickLoopEnd {
  /// The timeline finished (its max_ticks fired).
  kFinished,
  /// The sink said the receiver is gone.
  kReceiverGone,
  /// The coroutine was cancelled (terminal cancellation while waiting for a tick).
  kCancelled,
};

/// Runs `timeline` until it finishes, the sink refuses a tick, or the coroutine is cancelled.
/// Completion: never throws for cancellation; returns kCancelled instead. Cancellation: a
/// terminal cancellation ends a wait for the next tick at once; a send in progress is not
/// interrupted (the sink decides).
boost::asio::awaitable<TickLoopEnd> run_ticks(IntervalTimeline& timeline, TickSink& sink);

}  // namespace orch::schedules
