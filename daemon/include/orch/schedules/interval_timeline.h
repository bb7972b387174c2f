#pragma once
/// The tick arithmetic of one interval: Tokio's `time::Interval` (`interval`, `interval_at`,
/// `MissedTickBehavior`, `reset`) plus what a server-side schedule adds to it: a catch-up
/// window, a tick limit, pause and resume.
///
/// Pure and deterministic: it never reads a clock and never waits. Every call that depends on
/// time takes `now`; a driver (a timer on the schedule's strand, or a test) decides when to call.
/// A driver's loop is a remote `loop { interval.tick().await; ... }`:
///
///   while (auto deadline = timeline.next_deadline()) {
///     co_await sleep_until(*deadline);             // may wake late: that is a missed tick
///     if (auto tick = timeline.fire(Clock::now())) handle(*tick);
///   }
///
/// Terms. The timeline is the row of instants `start, start + period, start + 2 * period, ...`
/// (restarted by DELAY after a late tick and by reset()). A tick *fires* when fire() returns it.
/// A tick is *late* when it fires more than `leeway` after the instant it was due; only a late
/// tick brings the MissedTickBehavior into play (Tokio: "now > deadline + 5 ms"). A tick is
/// *missed* when it will never fire: dropped by SKIP, outside the catch-up window, or due while
/// paused. Missed ticks are counted, never returned.
///
/// Thread-safety: not thread-safe; one owner (the schedule's strand) makes every call.

#include <chrono>
#include <cstdint>
#include <optional>

#include "orch/common/duration.h"
#include "orch/engine/clock.h"

namespace orch::schedules {

/// What an interval does after a late tick, exactly as Tokio's `MissedTickBehavior`.
///
/// Every picture: period 10 from 0, the driver cannot fire anything between 15 and 47.
/// `x@t` means "the tick due at x fires at t"; `(x)` is a missed tick.
enum class MissedTickBehavior {
  /// The next tick is one period after the late tick's *due* instant, so the missed ticks fire
  /// back to back until the timeline has caught up; every tick keeps its own due instant.
  ///
  ///   due     0    10    20    30    40    50    60
  ///   fired   0@0  10@10 20@47 30@47 40@47 50@50 60@60
  kBurst,
  /// The next tick is one period after the late tick *fired*: the timeline restarts from that
  /// instant and drifts by the delay. Gaps between ticks are never shorter than the period.
  ///
  ///   due     0    10    20          57    67
  ///   fired   0@0  10@10 20@47       57@57 67@67
  kDelay,
  /// The next tick is the first instant of the timeline strictly after the late tick fired;
  /// the ticks of the timeline passed meanwhile are missed. Ticks stay on the timeline.
  /// Tokio's rule: next = now + period - (now - due) % period.
  ///
  ///   due     0    10    20    (30)  (40)  50    60
  ///   fired   0@0  10@10 20@47             50@50 60@60
  kSkip,
};

/// Tokio's fixed tolerance: a tick that fires at most this long after it was due is not late.
inline constexpr Duration kTokioLeeway = std::chrono::milliseconds(5);

/// How to build an IntervalTimeline. The converter from the API maps "zero means none" fields
/// to nullopt; a zero here is a caller's bug and is refused.
struct IntervalOptions {
  /// The instant the first tick is due: `Clock::now()` for `tokio::time::interval`, any instant
  /// (also a past one) for `interval_at`. Ticks of a past start are late ticks like any other.
  engine::TimePoint start{};
  /// Time between two due instants; positive.
  Duration period{};
  /// The API's default is SKIP (Tokio's is BURST).
  MissedTickBehavior missed_tick_behavior = MissedTickBehavior::kSkip;
  /// A tick that the driver gets to more than this long after it was due (`now - due > window`)
  /// does not fire; it is missed, and the timeline goes on as its behaviour says, as if the
  /// dropped tick had fired at `now`. A tick exactly `window` late still fires. Positive when
  /// set; nullopt: no window (Tokio: a late tick fires however late).
  std::optional<Duration> catchup_window{};
  /// The timeline is finished once this many ticks have fired. At least 1 when set.
  std::optional<std::uint64_t> max_ticks{};
  /// How late a tick may fire without being late (see the terms above). Tokio's 5 ms by
  /// default; zero makes every tick that fires after its due instant late. Not negative.
  Duration leeway = kTokioLeeway;
};

/// One tick that fires.
struct FiredTick {
  /// 1 for the first tick that fired, then 2, 3, ... (missed ticks are not numbered).
  std::uint64_t tick_number = 0;
  /// The instant the tick was due: what Tokio's `tick()` returns. For a late tick that is the
  /// original due instant, not the moment it fired.
  engine::TimePoint scheduled{};
  /// Ticks that were missed since the previous tick fired, including those that this fire()
  /// dropped (SKIP drops the ticks passed while this one was late). The API's `Tick.missed`.
  std::uint64_t missed_before = 0;

  friend bool operator==(const FiredTick&, const FiredTick&) = default;
};

/// The timeline of one interval: when the next tick is due, and what fires when the driver
/// wakes at some instant. See the file comment for the terms used here.
class IntervalTimeline {
 public:
  enum class State {
    /// Ticks come due and fire.
    kActive,
    /// Nothing fires until resume(); ticks due meanwhile are missed.
    kPaused,
    /// `max_ticks` ticks have fired, or finish() was called: nothing fires again.
    kFinished,
  };

  /// Throws std::invalid_argument when `options` breaks a rule written on its fields.
  explicit IntervalTimeline(const IntervalOptions& options);

  /// The instant the next tick is due (possibly already past: wake at once); nullopt while
  /// paused and once finished.
  std::optional<engine::TimePoint> next_deadline() const;

  /// The driver got to the timeline at `now`. Returns the tick that fires at `now`, or nullopt
  /// when none does: not due yet (`now < next_deadline()`), paused, finished, or the due tick
  /// was dropped by the catch-up window. Then it moves the deadline on, exactly as Tokio does:
  ///
  ///   not late (now <= due + leeway):  next = due + period           (every behaviour)
  ///   late, BURST:                     next = due + period           (may still be <= now)
  ///   late, DELAY:                     next = now + period
  ///   late, SKIP:                      next = now + period - (now - due) % period
  ///
  /// Catch-up window (when set), checked first: while `now - due > window` the due tick is
  /// missed and the deadline moves on by the rule above as if that tick had fired at `now`. For
  /// BURST that drops every tick outside the window in one step, and the first tick inside it
  /// fires at once if it is due; for a late DELAY or SKIP tick the new deadline is after `now`,
  /// so nothing fires in this call.
  ///
  /// After a tick fires the deadline may still be `<= now` (BURST catching up, or a period
  /// shorter than the leeway): call again. Costs O(1) however many periods were missed.
  std::optional<FiredTick> fire(engine::TimePoint now);

  /// Stops ticks from firing. No effect unless active.
  void pause();

  /// Lets ticks fire again. The ticks of the timeline due before `now` never fire: they are
  /// missed, counted from the pending deadline on the grid `deadline + k * period`. Then the
  /// next tick is, for BURST and SKIP, the first of those instants at or after `now` (so a
  /// pause that missed nothing changes nothing); for DELAY, `now + period` when a tick was
  /// missed (the pending deadline otherwise). No effect unless paused.
  /// The API's `Resume{reset: true}` is resume(now) followed by reset(now).
  void resume(engine::TimePoint now);

  /// Tokio's `Interval::reset`: the next tick is due at `now + period` and later ones follow
  /// from there (a new timeline; SKIP keeps to it). Ticks that were due before `now` and have
  /// not fired are missed, counted as resume() counts them. Allowed while paused (the new
  /// deadline waits for resume()); no effect once finished.
  void reset(engine::TimePoint now);

  /// Ends the timeline for good (for a driver that counts its own limit, e.g. ticks that
  /// actually spawned a task).
  void finish();

  State state() const { return state_; }
  const IntervalOptions& options() const { return options_; }
  /// Ticks that fired (what `max_ticks` counts).
  std::uint64_t ticks_fired() const { return ticks_fired_; }
  /// Ticks that were missed, in total.
  std::uint64_t ticks_missed() const { return ticks_missed_; }
  /// The instant the last tick fired; nullopt before the first.
  std::optional<engine::TimePoint> last_fired_at() const { return last_fired_at_; }

 private:
  // The deadline after the tick due at `due` fired late at `now`; counts what SKIP drops.
  engine::TimePoint next_after_late(engine::TimePoint due, engine::TimePoint now);
  // Misses the grid ticks `deadline_ + k * period` before `now`; returns how many.
  std::uint64_t miss_overdue(engine::TimePoint now);
  void count_missed(std::uint64_t n);

  IntervalOptions options_;
  State state_ = State::kActive;
  engine::TimePoint deadline_;
  std::uint64_t ticks_fired_ = 0;
  std::uint64_t ticks_missed_ = 0;
  std::uint64_t missed_since_fired_ = 0;
  std::optional<engine::TimePoint> last_fired_at_;
};

}  // namespace orch::schedules
