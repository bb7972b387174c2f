#include "orch/schedules/interval_timeline.h"

#include <limits>
#include <stdexcept>
#include <utility>

namespace orch::schedules {
namespace {

using engine::TimePoint;

// Time arithmetic saturates at the end of time instead of overflowing (Tokio: `far_future`):
// a deadline there never comes due. Durations here are never negative.
TimePoint add_saturated(TimePoint t, Duration d) {
  if (t > TimePoint::max() - d) return TimePoint::max();
  return t + d;
}

Duration times_saturated(std::uint64_t n, Duration period) {
  const auto limit = static_cast<std::uint64_t>(Duration::max().count() / period.count());
  if (n > limit) return Duration::max();
  return period * static_cast<Duration::rep>(n);
}

// How many periods it takes to cover `d` (> 0), rounded up.
std::uint64_t periods_to_cover(Duration d, Duration period) {
  return static_cast<std::uint64_t>(d / period + (d % period != Duration::zero() ? 1 : 0));
}

void check(const IntervalOptions& options) {
  if (options.period <= Duration::zero()) {
    throw std::invalid_argument("interval: the period must be positive");
  }
  if (options.catchup_window && *options.catchup_window <= Duration::zero()) {
    throw std::invalid_argument("interval: a catch-up window must be positive (nullopt: none)");
  }
  if (options.max_ticks && *options.max_ticks == 0) {
    throw std::invalid_argument("interval: max_ticks must be at least 1 (nullopt: no limit)");
  }
  if (options.leeway < Duration::zero()) {
    throw std::invalid_argument("interval: the leeway must not be negative");
  }
}

}  // namespace

IntervalTimeline::IntervalTimeline(const IntervalOptions& options)
    : options_(options), deadline_(options.start) {
  check(options_);
}

std::optional<TimePoint> IntervalTimeline::next_deadline() const {
  if (state_ != State::kActive) return std::nullopt;
  return deadline_;
}

std::optional<FiredTick> IntervalTimeline::fire(TimePoint now) {
  if (state_ != State::kActive || now < deadline_) return std::nullopt;
  const Duration period = options_.period;

  if (const auto& window = options_.catchup_window; window && now - deadline_ > *window) {
    const Duration lateness = now - deadline_;
    if (options_.missed_tick_behavior == MissedTickBehavior::kBurst ||
        lateness <= options_.leeway) {
      // Each dropped tick is followed by the next one of the same timeline (BURST, or a tick
      // that is not late), so one step reaches the first tick inside the window.
      const std::uint64_t dropped = periods_to_cover(lateness - *window, period);
      count_missed(dropped);
      deadline_ = add_saturated(deadline_, times_saturated(dropped, period));
      if (deadline_ > now) return std::nullopt;
    } else {
      // A late DELAY or SKIP tick moves the deadline past `now`: nothing fires this time.
      count_missed(1);
      deadline_ = next_after_late(deadline_, now);
      return std::nullopt;
    }
  }

  const TimePoint scheduled = deadline_;
  deadline_ = now - scheduled > options_.leeway ? next_after_late(scheduled, now)
                                                : add_saturated(scheduled, period);
  ++ticks_fired_;
  last_fired_at_ = now;
  FiredTick tick{ticks_fired_, scheduled, std::exchange(missed_since_fired_, 0)};
  if (options_.max_ticks && ticks_fired_ >= *options_.max_ticks) state_ = State::kFinished;
  return tick;
}

void IntervalTimeline::pause() {
  if (state_ == State::kActive) state_ = State::kPaused;
}

void IntervalTimeline::resume(TimePoint now) {
  if (state_ != State::kPaused) return;
  state_ = State::kActive;
  const bool missed = miss_overdue(now) > 0;
  if (missed && options_.missed_tick_behavior == MissedTickBehavior::kDelay) {
    deadline_ = add_saturated(now, options_.period);
  }
}

void IntervalTimeline::reset(TimePoint now) {
  if (state_ == State::kFinished) return;
  miss_overdue(now);
  deadline_ = add_saturated(now, options_.period);
}

void IntervalTimeline::finish() { state_ = State::kFinished; }

TimePoint IntervalTimeline::next_after_late(TimePoint due, TimePoint now) {
  const Duration period = options_.period;
  switch (options_.missed_tick_behavior) {
    case MissedTickBehavior::kBurst:
      return add_saturated(due, period);
    case MissedTickBehavior::kDelay:
      return add_saturated(now, period);
    case MissedTickBehavior::kSkip: {
      const Duration lateness = now - due;
      // The instants due + k * period with 0 < k <= lateness / period have passed unfired.
      count_missed(static_cast<std::uint64_t>(lateness / period));
      return add_saturated(now, period - lateness % period);
    }
  }
  throw std::logic_error("interval: unknown missed-tick behaviour");
}

std::uint64_t IntervalTimeline::miss_overdue(TimePoint now) {
  if (deadline_ >= now) return 0;
  const std::uint64_t missed = periods_to_cover(now - deadline_, options_.period);
  count_missed(missed);
  deadline_ = add_saturated(deadline_, times_saturated(missed, options_.period));
  return missed;
}

void IntervalTimeline::count_missed(std::uint64_t n) {
  ticks_missed_ += n;
  missed_since_fired_ += n;
}

}  // namespace orch::schedules
