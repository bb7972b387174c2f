#pragma once
/// A tenant's fair concurrency semaphore: `limit` permits, waiters served in arrival order
/// (FIFO, like Tokio's Semaphore), so one burst never starves earlier waiters.
///
/// Two kinds of waiter share that order. async_acquire completes with success holding one
/// permit, or with `operation_aborted` holding none when its cancellation slot fires first.
/// A PermitRequest is a small intrusive entry for a task that has not started yet (no
/// coroutine, no handler): the semaphore calls `granted` for it, and `cancel()` takes it out of
/// the queue. Every grant is paired with one release(); `Permit` does that on scope exit.
///
/// Thread-safety: all members may be called from any thread.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <mutex>
#include <vector>

#include "orch/engine/wait_queue.h"

namespace orch::engine {

class TenantSemaphore;

/// A queued request for one permit, kept inside its owner (no allocation). While queued it is
/// owned by the semaphore's queue; it must stay alive until granted or cancelled.
struct PermitRequest {
  PermitRequest* request_prev = nullptr;
  PermitRequest* request_next = nullptr;
  std::uint64_t request_ticket = 0;  // async waiters with a larger id arrived after it
  bool request_queued = false;
};

class TenantSemaphore {
 public:
  /// Called once per granted request, without the semaphore's mutex held, holding one permit.
  using GrantFn = void (*)(void* context, PermitRequest& request);

  explicit TenantSemaphore(std::uint32_t limit) : limit_(limit) {}

  /// Where granted requests go (set once, before any request is queued).
  void set_grant_handler(GrantFn fn, void* context) {
    grant_fn_ = fn;
    grant_context_ = context;
  }

  template <typename CompletionToken>
  auto async_acquire(boost::asio::any_io_executor fallback, CompletionToken&& token) {
    return async_park(
        mutex_, &waiters_,
        [this]() -> std::optional<boost::system::error_code> {
          // Only when no one is queued ahead: arrival order is the rule.
          if (in_use_ < limit_ && waiters_.empty() && requests_ == 0) {
            ++in_use_;
            return boost::system::error_code{};
          }
          return std::nullopt;
        },
        [this]() -> WaitQueue* { return &waiters_; },
        std::move(fallback), std::forward<CompletionToken>(token));
  }

  /// Takes a permit now when one is free and nobody waits (true), or queues `request` behind
  /// every earlier waiter (false); the grant handler is then called for it later.
  bool acquire_or_queue(PermitRequest& request);

  /// Takes a queued request out of the queue: true when it was still queued (it will never be
  /// granted), false when it was granted already (its grant is on its way to the handler).
  bool cancel(PermitRequest& request);

  /// Returns one permit; hands it straight to the longest waiter if there is one.
  void release();

  /// Changes the number of permits (a lower limit takes effect as permits return).
  void set_limit(std::uint32_t limit);

  std::uint32_t limit() const;
  std::uint32_t in_use() const;
  std::uint32_t waiting() const;

 private:
  struct Granted {
    std::vector<WaitQueue::Waiter> waiters;
    std::vector<PermitRequest*> requests;
  };
  void grant_locked(Granted& granted);
  void deliver(Granted& granted);
  void unlink_locked(PermitRequest& request);

  mutable std::mutex mutex_;
  WaitQueue waiters_;
  PermitRequest* head_ = nullptr;  // queued requests, oldest first
  PermitRequest* tail_ = nullptr;
  std::uint32_t requests_ = 0;
  std::uint32_t limit_;
  std::uint32_t in_use_ = 0;
  GrantFn grant_fn_ = nullptr;
  void* grant_context_ = nullptr;
};

/// One held permit; returns it on destruction.
class Permit {
 public:
  explicit Permit(TenantSemaphore& semaphore) : semaphore_(&semaphore) {}
  Permit(Permit&& other) noexcept : semaphore_(std::exchange(other.semaphore_, nullptr)) {}
  Permit(const Permit&) = delete;
  Permit& operator=(const Permit&) = delete;
  Permit& operator=(Permit&&) = delete;
  ~Permit() {
    if (semaphore_) semaphore_->release();
  }

 private:
  TenantSemaphore* semaphore_;
};

}  // namespace orch::engine
