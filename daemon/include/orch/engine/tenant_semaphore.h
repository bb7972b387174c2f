#pragma once
/// A tenant's fair concurrency semaphore: `limit` permits, waiters served in arrival order
/// (FIFO, like Tokio's Semaphore), so one burst never starves earlier waiters.
///
/// async_acquire completes with success holding one permit, or with `operation_aborted`
/// holding none when its cancellation slot fires first. Every success is paired with one
/// release(); `Permit` does that on scope exit.
///
/// Thread-safety: all members may be called from any thread.

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <mutex>

#include "orch/engine/wait_queue.h"

namespace orch::engine {

class TenantSemaphore {
 public:
  explicit TenantSemaphore(std::uint32_t limit) : limit_(limit) {}

  template <typename CompletionToken>
  auto async_acquire(boost::asio::any_io_executor fallback, CompletionToken&& token) {
    return async_park(
        mutex_, &waiters_,
        [this]() -> std::optional<boost::system::error_code> {
          // Only when no one is queued ahead: arrival order is the rule.
          if (in_use_ < limit_ && waiters_.empty()) {
            ++in_use_;
            return boost::system::error_code{};
          }
          return std::nullopt;
        },
        [this]() -> WaitQueue* { return &waiters_; },
        std::move(fallback), std::forward<CompletionToken>(token));
  }

  /// Returns one permit; hands it straight to the longest waiter if there is one.
  void release();

  /// Changes the number of permits (a lower limit takes effect as permits return).
  void set_limit(std::uint32_t limit);

  std::uint32_t limit() const;
  std::uint32_t in_use() const;
  std::uint32_t waiting() const;

 private:
  void grant_locked(std::deque<WaitQueue::Waiter>& granted);

  mutable std::mutex mutex_;
  WaitQueue waiters_;
  std::uint32_t limit_;
  std::uint32_t in_use_ = 0;
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
