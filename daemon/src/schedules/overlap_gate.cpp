#include "orch/schedules/overlap_gate.h"

#include <stdexcept>

namespace orch::schedules {

TickAction OverlapGate::on_tick() {
  if (running_ == 0 || policy_ == OverlapPolicy::kAllow) {
    ++running_;
    return TickAction::kSpawn;
  }
  switch (policy_) {
    case OverlapPolicy::kAllow:  // handled above
    case OverlapPolicy::kSkip:
      ++ticks_skipped_;
      return TickAction::kSkip;
    case OverlapPolicy::kBufferOne:
      if (buffered_) {
        ++ticks_skipped_;
        return TickAction::kSkip;
      }
      buffered_ = true;
      return TickAction::kBuffer;
    case OverlapPolicy::kCancelPrevious:
      if (buffered_) {
        ++ticks_skipped_;
        return TickAction::kReplaceBuffered;
      }
      buffered_ = true;
      return TickAction::kCancelRunningAndBuffer;
  }
  throw std::logic_error("overlap gate: unknown policy");
}

FinishAction OverlapGate::on_task_finished() {
  if (running_ == 0) {
    throw std::logic_error("overlap gate: a task finished but none was running");
  }
  --running_;
  if (running_ > 0 || !buffered_) return FinishAction::kNone;
  buffered_ = false;
  ++running_;
  return FinishAction::kSpawnBuffered;
}

bool OverlapGate::drop_buffered() {
  if (!buffered_) return false;
  buffered_ = false;
  ++ticks_skipped_;
  return true;
}

}  // namespace orch::schedules
