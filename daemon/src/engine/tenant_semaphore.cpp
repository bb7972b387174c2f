#include "orch/engine/tenant_semaphore.h"

namespace orch::engine {

bool TenantSemaphore::acquire_or_queue(PermitRequest& request) {
  std::lock_guard lock(mutex_);
  if (in_use_ < limit_ && waiters_.empty() && requests_ == 0) {
    ++in_use_;
    return true;
  }
  request.request_ticket = waiters_.last_id();
  request.request_prev = tail_;
  request.request_next = nullptr;
  request.request_queued = true;
  if (tail_) {
    tail_->request_next = &request;
  } else {
    head_ = &request;
  }
  tail_ = &request;
  ++requests_;
  return false;
}

void TenantSemaphore::unlink_locked(PermitRequest& request) {
  if (request.request_prev) {
    request.request_prev->request_next = request.request_next;
  } else {
    head_ = request.request_next;
  }
  if (request.request_next) {
    request.request_next->request_prev = request.request_prev;
  } else {
    tail_ = request.request_prev;
  }
  request.request_prev = request.request_next = nullptr;
  request.request_queued = false;
  --requests_;
}

bool TenantSemaphore::cancel(PermitRequest& request) {
  std::lock_guard lock(mutex_);
  if (!request.request_queued) return false;
  unlink_locked(request);
  return true;
}

void TenantSemaphore::release() {
  Granted granted;
  {
    std::lock_guard lock(mutex_);
    --in_use_;
    grant_locked(granted);
  }
  deliver(granted);
}

void TenantSemaphore::set_limit(std::uint32_t limit) {
  Granted granted;
  {
    std::lock_guard lock(mutex_);
    limit_ = limit;
    grant_locked(granted);
  }
  deliver(granted);
}

void TenantSemaphore::grant_locked(Granted& granted) {
  while (in_use_ < limit_) {
    // The older of the two queues' fronts: a request queued when the last async waiter had
    // id t came before every async waiter with an id above t.
    const bool request_first =
        head_ && (waiters_.empty() || head_->request_ticket < waiters_.front_id());
    if (request_first) {
      PermitRequest* request = head_;
      unlink_locked(*request);
      ++in_use_;
      granted.requests.push_back(request);
      continue;
    }
    auto w = waiters_.pop_front();
    if (!w) break;
    ++in_use_;
    granted.waiters.push_back(std::move(*w));
  }
}

void TenantSemaphore::deliver(Granted& granted) {
  for (auto& w : granted.waiters) WaitQueue::complete(std::move(w), {});
  for (PermitRequest* request : granted.requests) grant_fn_(grant_context_, *request);
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
  return static_cast<std::uint32_t>(waiters_.size()) + requests_;
}

}  // namespace orch::engine
