#include "orch/engine/tenant_semaphore.h"

namespace orch::engine {

void TenantSemaphore::release() {
  std::deque<WaitQueue::Waiter> granted;
  {
    std::lock_guard lock(mutex_);
    --in_use_;
    grant_locked(granted);
  }
  for (auto& w : granted) WaitQueue::complete(std::move(w), {});
}

void TenantSemaphore::set_limit(std::uint32_t limit) {
  std::deque<WaitQueue::Waiter> granted;
  {
    std::lock_guard lock(mutex_);
    limit_ = limit;
    grant_locked(granted);
  }
  for (auto& w : granted) WaitQueue::complete(std::move(w), {});
}

void TenantSemaphore::grant_locked(std::deque<WaitQueue::Waiter>& granted) {
  while (in_use_ < limit_) {
    auto w = waiters_.pop_front();
    if (!w) break;
    ++in_use_;
    granted.push_back(std::move(*w));
  }
}

std::uint32_t TenantSemaphore::limit() const {
  std::lock_guard lock(mutex_);
  return limit_;
}

std::uint32_t TenantSemaphore::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

std::uint32_t TenantSemaphore::waiting() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::uint32_t>(waiters_.size());
}

}  // namespace orch::engine
