#pragma once
/// The engine's one clock, and the timer type built on it.
///
/// `Clock` is monotonic. In production it reads std::chrono::steady_clock. Tests may freeze it
/// with `Clock::use_manual()` and move it with `Clock::advance()`, so timing semantics are
/// checked deterministically on a loaded machine: while manual, a `Timer` fires only when the
/// test has advanced the clock past its expiry (the reactor then re-checks timers on every turn,
/// so a test drives it with `advance()` followed by `io_context::poll()`).
///
/// Thread-safety: every function may be called from any thread.

#include <boost/asio/basic_waitable_timer.hpp>
#include <chrono>

namespace orch::engine {

struct Clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<Clock, duration>;
  static constexpr bool is_steady = true;

  static time_point now() noexcept;

  /// Freezes time at `start`; it moves only through advance().
  static void use_manual(time_point start = time_point(std::chrono::hours(1)));
  /// Moves a manual clock forward.
  static void advance(duration d);
  /// Returns to the real steady clock.
  static void use_real();
  static bool is_manual() noexcept;

  /// Wall-clock time for a point of this clock (for timestamps shown to users).
  static std::chrono::system_clock::time_point to_system(time_point t) noexcept;
};

using TimePoint = Clock::time_point;

/// Makes every reactor wait zero while the clock is manual, so advanced time is noticed.
struct ClockWaitTraits {
  static Clock::duration to_wait_duration(const Clock::duration& d);
  static Clock::duration to_wait_duration(const Clock::time_point& t);
};

using Timer = boost::asio::basic_waitable_timer<Clock, ClockWaitTraits>;

}  // namespace orch::engine
