#pragma once
/// Async waits parked in FIFO order until their owner completes them: the one mechanism behind
/// permit waits, task-completion waits and watch streams.
///
/// Completion: the owner pops a waiter and calls `complete()`, which runs the handler on the
/// handler's own executor. Cancellation: each wait hooks its handler's cancellation slot; any
/// cancellation type removes the waiter (if still parked) and completes it with
/// `operation_aborted`. A waiter is completed exactly once, by whichever comes first.
///
/// Thread-safety: the owner guards its WaitQueue with its own mutex; async_park() and the
/// cancellation handler take that mutex.

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <deque>
#include <iterator>
#include <mutex>
#include <optional>
#include <type_traits>
#include <list>
#include <utility>

namespace orch::engine {

class WaitQueue {
 public:
  using Handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  struct Waiter {
    std::uint64_t id = 0;
    Handler handler;
    boost::asio::any_io_executor executor;
    bool run_inline = false;  // deliver() may run it on the completing thread (see there)
  };

  bool empty() const { return waiters_.empty(); }
  std::size_t size() const { return waiters_.size(); }
  /// The id the latest push() returned (0 before any); ids grow with every push.
  std::uint64_t last_id() const { return last_id_; }
  /// The id of the longest waiter; call only when not empty().
  std::uint64_t front_id() const { return waiters_.front().id; }

  std::uint64_t push(Handler handler, boost::asio::any_io_executor executor,
                     bool run_inline = false) {
    const std::uint64_t id = ++last_id_;
    waiters_.push_back(Waiter{id, std::move(handler), std::move(executor), run_inline});
    return id;
  }

  std::optional<Waiter> pop_front() {
    if (waiters_.empty()) return std::nullopt;
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    return w;
  }

  std::optional<Waiter> remove(std::uint64_t id) {
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->id == id) {
        // A list: erase() moves no other waiter (see waiters_).
        Waiter w = std::move(*it);
        waiters_.erase(it);
        return w;
      }
    }
    return std::nullopt;
  }

  std::list<Waiter> take_all() { return std::exchange(waiters_, {}); }

  /// Runs the waiter's handler with `ec` on the waiter's executor. Call without the mutex held
  /// or with it: nothing runs inline.
  static void complete(Waiter w, boost::system::error_code ec) {
    boost::asio::post(w.executor, [h = std::move(w.handler), ec]() mutable { std::move(h)(ec); });
  }

  /// Like complete(), but a waiter pushed with `run_inline` (a plain callback, not a parked
  /// coroutine) runs here, on the calling thread: call without any lock held.
  static void deliver(Waiter w, boost::system::error_code ec) {
    if (!w.run_inline) return complete(std::move(w), ec);
    std::move(w.handler)(ec);
  }

 private:
  // A list, not a deque: erasing from the middle must not move-assign the other waiters.
  // Boost 1.81's any_completion_handler move assignment copies from an lvalue and so wraps
  // itself without end (fixed in later Boost): never move-assign a Handler.
  std::list<Waiter> waiters_;
  std::uint64_t last_id_ = 0;
};

/// Cancellation handler of one parked wait (an implementation detail of async_park).
template <typename Locate>
struct CancelWait {
  CancelWait(std::mutex* mutex, Locate locate, std::uint64_t id)
      : mutex_(mutex), locate_(std::move(locate)), id_(id) {}
  void operator()(boost::asio::cancellation_type_t) {
    std::optional<WaitQueue::Waiter> w;
    {
      std::lock_guard lock(*mutex_);
      if (WaitQueue* q = locate_()) w = q->remove(id_);
    }
    if (w) WaitQueue::complete(std::move(*w), boost::asio::error::operation_aborted);
  }
  std::mutex* mutex_;
  Locate locate_;
  std::uint64_t id_;
};

/// Starts a wait. Under `mutex`, `try_now()` returns an error code to complete with at once, or
/// nullopt to park the handler in `*queue`. `locate()` finds the queue again when the wait is
/// cancelled (it returns nullptr when the queue is gone); it is called with `mutex` held.
/// `mutex` and whatever `locate` refers to must outlive the wait's cancellation slot hook.
///
/// `try_now` and `locate` must be trivially destructible (capture pointers and ids only): they
/// travel inside a co_await expression, and GCC 12 destroys some temporaries of such an
/// expression twice, which releases a captured shared_ptr or weak_ptr once too often.
template <typename CompletionToken, typename TryNow, typename Locate>
auto async_park(std::mutex& mutex, WaitQueue* queue, TryNow try_now, Locate locate,
                boost::asio::any_io_executor fallback, CompletionToken&& token) {
  static_assert(std::is_trivially_destructible_v<TryNow> && std::is_trivially_destructible_v<Locate>,
                "async_park: capture only pointers and ids (see the comment above)");
  return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
      [&mutex, queue, fallback](auto handler, TryNow try_now, Locate locate) {
        auto executor = boost::asio::get_associated_executor(handler, fallback);
        // The erased handler chains its own cancellation state to the caller's slot; our
        // cancellation handler goes into that state's slot, never into the caller's.
        WaitQueue::Handler erased(std::move(handler));
        auto slot = erased.get_cancellation_slot();
        std::unique_lock lock(mutex);
        if (auto ec = try_now()) {
          lock.unlock();
          WaitQueue::complete(WaitQueue::Waiter{0, std::move(erased), executor}, *ec);
          return;
        }
        const std::uint64_t id = queue->push(std::move(erased), executor);
        if (slot.is_connected()) {
          slot.template emplace<CancelWait<Locate>>(&mutex, std::move(locate), id);
        }
      },
      token, std::move(try_now), std::move(locate));
}

}  // namespace orch::engine
