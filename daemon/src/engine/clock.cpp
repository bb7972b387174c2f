#include "orch/engine/clock.h"

#include <atomic>

namespace orch::engine {
namespace {

std::atomic<bool> g_manual{false};
std::atomic<Clock::rep> g_manual_now{0};

// The wall clock and this clock, read once together, to turn one into the other.
struct Anchor {
  std::chrono::system_clock::time_point wall = std::chrono::system_clock::now();
  std::chrono::steady_clock::time_point steady = std::chrono::steady_clock::now();
};
const Anchor& anchor() {
  static const Anchor a;
  return a;
}

}  // namespace

Clock::time_point Clock::now() noexcept {
  if (g_manual.load(std::memory_order_acquire)) {
    return time_point(duration(g_manual_now.load(std::memory_order_acquire)));
  }
  return time_point(std::chrono::duration_cast<duration>(
      std::chrono::steady_clock::now().time_since_epoch()));
}

void Clock::use_manual(time_point start) {
  g_manual_now.store(start.time_since_epoch().count(), std::memory_order_release);
  g_manual.store(true, std::memory_order_release);
}

void Clock::advance(duration d) { g_manual_now.fetch_add(d.count(), std::memory_order_acq_rel); }

void Clock::use_real() { g_manual.store(false, std::memory_order_release); }

bool Clock::is_manual() noexcept { return g_manual.load(std::memory_order_acquire); }

std::chrono::system_clock::time_point Clock::to_system(time_point t) noexcept {
  const auto& a = anchor();
  if (is_manual()) return a.wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                       t.time_since_epoch());
  const auto since = t.time_since_epoch() - a.steady.time_since_epoch();
  return a.wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(since);
}

Clock::duration ClockWaitTraits::to_wait_duration(const Clock::duration& d) {
  // A manual clock moves without the kernel knowing: have the reactor look at the timers on
  // every turn, so a test's advance() followed by poll() fires exactly what is due.
  if (Clock::is_manual()) return Clock::duration::zero();
  return d;
}

Clock::duration ClockWaitTraits::to_wait_duration(const Clock::time_point& t) {
  return to_wait_duration(t - Clock::now());
}

}  // namespace orch::engine
