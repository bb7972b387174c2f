#pragma once
// Channels internals: one channel's state, and the parked waits on it.
//
// A wait parks a completion handler together with a pointer to its operation's state, which
// lives in the waiting coroutine's frame (RecvOp, SendOp, ChangeOp). The channel works on that
// state under its mutex while the waiter is parked, and only then: whoever removes a waiter
// from its queue (a handoff, a close, a cancellation, a timeout) completes it, exactly once.
// A handoff fills the RecvOp before it completes the waiter, so a message is either in the
// channel or in a RecvOp whose coroutine will resume with it, never nowhere.
//
// Thread-safety: every member marked _locked is called with `mutex` held; the others take it.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "channel_metrics.h"
#include "orch/channels/channel_registry.h"
#include "orch/engine/clock.h"
#include "orch/engine/wait_queue.h"

namespace orch::channels {

namespace asio = boost::asio;

enum class WaitKind : std::uint8_t {
  kRecv,    // an MPSC receiver waiting for a message (RecvOp)
  kSend,    // an MPSC sender waiting for room (SendOp)
  kChange,  // a reader waiting for a change it describes (ChangeOp)
};

/// An MPSC receive in progress. Results are written under the channel's mutex.
struct RecvOp {
  /// Take what is there and never park (`try_recv`).
  bool no_wait = false;
  std::uint32_t max_messages = 1;
  std::size_t max_bytes = 0;  // 0: no limit; the first message is always taken
  DeliveryMode mode = DeliveryMode::kAtMostOnce;
  Duration ack_deadline{};
  /// The subscription taking the messages, or 0 for a Recv call.
  std::uint64_t owner = 0;

  std::vector<Message> messages;
  bool closed = false;
};

/// An MPSC send in progress: the channel accepts its payloads one by one as room frees.
struct SendOp {
  std::vector<std::string>* payloads = nullptr;
  /// Accept what fits now and never park (`try_send`).
  bool no_wait = false;
  std::size_t accepted = 0;
  std::uint64_t first_sequence = 0;
  bool closed = false;   // the channel was closed before everything was accepted
  bool deleted = false;  // the channel was deleted
};

/// A wait for a change of the channel; the waiter is completed once `ready` holds.
struct ChangeOp {
  enum class What : std::uint8_t {
    kBroadcast,  // a message with sequence >= after was sent
    kWatch,      // the version is greater than after
    kUnacked,    // owner has fewer than max_unacked deliveries in flight
  };
  What what = What::kBroadcast;
  std::uint64_t after = 0;
  std::uint64_t owner = 0;
  std::uint32_t max_unacked = 0;
  /// A WATCH Recv (counted in ChannelInfo::receivers).
  bool is_recv = false;
};

/// One parked wait.
struct Waiter {
  std::uint64_t id = 0;
  engine::WaitQueue::Handler handler;
  asio::any_io_executor executor;
  void* op = nullptr;
};

/// Parked waits in arrival order.
class Waiters {
 public:
  bool empty() const { return waiters_.empty(); }
  std::size_t size() const { return waiters_.size(); }
  void push(Waiter w) { waiters_.push_back(std::move(w)); }
  Waiter& front() { return waiters_.front(); }
  std::optional<Waiter> pop_front();
  std::optional<Waiter> remove(std::uint64_t id);
  std::list<Waiter> take_all() { return std::exchange(waiters_, {}); }
  const std::list<Waiter>& all() const { return waiters_; }

  /// Runs the waiter's handler with `ec` on its executor (never inline).
  static void complete(Waiter w, boost::system::error_code ec) {
    asio::post(w.executor, [h = std::move(w.handler), ec]() mutable { std::move(h)(ec); });
  }

 private:
  // A list: erasing from the middle must not move-assign a Handler (see wait_queue.h).
  std::list<Waiter> waiters_;
};

class Channel : public std::enable_shared_from_this<Channel> {
 public:
  Channel(std::uint64_t id, std::string tenant, const ChannelSpec& spec,
          std::uint64_t max_message_bytes, asio::any_io_executor executor, ChannelMetrics* metrics,
          prometheus::Histogram* send_wait);
  ~Channel();

  const std::uint64_t id;
  const std::string tenant;
  const std::string name;
  const ChannelKind kind;
  const std::uint32_t capacity;
  const engine::TimePoint created;
  /// The tenant's max_message_bytes.
  const std::uint64_t max_message_bytes;
  /// The registry's executor (redelivery timers; fallback for handlers without one).
  const asio::any_io_executor executor;

  mutable std::mutex mutex;

  // --- waits (see async_wait_on) ---

  /// Under the mutex: completes `op` now if it can (true), or leaves it to be parked (false).
  bool try_complete_locked(WaitKind kind, void* op);
  /// Parks a waiter and returns its id.
  std::uint64_t park_locked(WaitKind kind, Waiter w);
  /// Removes a parked waiter (if still parked) and completes it with `ec`.
  void end_wait(WaitKind kind, std::uint64_t waiter_id, boost::system::error_code ec);

  // --- operations (each takes the mutex) ---

  ChannelInfo info() const;
  /// A BROADCAST or WATCH send (they never wait).
  engine::Result<SendOutcome> send_fanout(std::vector<std::string>& payloads);
  /// Reads an MPSC send's outcome once its wait is over (the op is no longer parked).
  SendOp send_result(const SendOp& op) const;
  /// An MPSC send that never parks: under the mutex, completes `op` as a wait would complete at
  /// once (true: everything accepted, or `no_wait` and what fits, or closed or deleted), or
  /// leaves the channel and `op` untouched (false: it would have to wait for room).
  bool send_now(SendOp& op);
  /// The messages of a finished RecvOp, held for the receiver until commit().
  Received hand_over(RecvOp& op);
  /// WATCH: the current value, and whether the channel is closed.
  WatchValue watch_value(bool* closed) const;
  engine::Result<void> ack(const std::string& delivery_id);
  /// Acknowledges each of `delivery_ids` that is in flight (one lock, one pump); the error names
  /// the first that was not. `acknowledged` counts those acknowledged.
  engine::Result<void> ack(const std::vector<std::string>& delivery_ids,
                           std::uint32_t& acknowledged);
  void close();
  /// Deletes the channel: discards its messages, ends every wait. Returns what was discarded.
  std::uint64_t remove();
  void observe_send_wait(Duration waited);
  /// Counts WATCH values handed to Recv callers.
  void count_received(std::uint64_t n);
  void update_gauges() const;

  // Received and Subscription.
  void commit(std::vector<Message>& messages, DeliveryMode mode);
  void give_back(std::vector<Message>& messages, DeliveryMode mode);
  void subscribe(Subscription& subscription);
  void unsubscribe(Subscription& subscription);
  /// BROADCAST and WATCH: the next event if there is one; otherwise fills `change` with what
  /// to wait for and returns nullopt.
  std::optional<ChannelEvent> next_event(Subscription& subscription, ChangeOp& change);
  /// MPSC subscriptions: how many of `owner`'s deliveries are unacknowledged.
  std::uint32_t unacked(std::uint64_t owner) const;

 private:
  struct InFlight {
    Message message;
    std::uint64_t owner = 0;
    std::multimap<engine::TimePoint, std::string>::iterator deadline;
  };
  struct Slot {
    Message message;
    std::uint32_t remaining = 0;  // subscribers that have not read it yet
  };

  Waiters& waiters(WaitKind kind);
  std::uint32_t room_locked() const;
  bool drained_locked() const;
  void pump_locked();
  void take_locked(RecvOp& op);
  /// Accepts the op's next payloads while there is room, at most `most`; returns how many.
  std::size_t accept_locked(SendOp& op, std::size_t most);
  void insert_sorted_locked(Message message);
  void erase_in_flight_locked(std::unordered_map<std::string, InFlight>::iterator it);
  void expire_due_locked();
  void arm_redelivery_locked();
  void on_redelivery_timer(std::uint64_t generation);
  bool change_ready_locked(const ChangeOp& op) const;
  void wake_changes_locked();
  void prune_ring_locked();
  std::uint64_t oldest_kept_locked() const;
  void count_locked(prometheus::Counter* ChannelMetrics::Series::*counter, double n);

  ChannelMetrics* metrics_;
  prometheus::Histogram* send_wait_;
  std::optional<ChannelMetrics::Series> series_;

  bool closed_ = false;
  bool deleted_ = false;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t messages_sent_ = 0;
  std::uint64_t last_waiter_ = 0;

  Waiters receivers_;
  Waiters senders_;
  Waiters changes_;

  // MPSC
  std::deque<Message> queue_;  // by sequence
  std::uint32_t held_ = 0;     // AT_MOST_ONCE messages handed over, not committed yet
  std::unordered_map<std::string, InFlight> in_flight_;
  std::multimap<engine::TimePoint, std::string> deadlines_;
  std::map<std::uint64_t, std::uint32_t> unacked_;  // owner -> in-flight deliveries
  std::uint64_t last_delivery_ = 0;
  std::unique_ptr<engine::Timer> redelivery_timer_;
  std::optional<engine::TimePoint> redelivery_armed_;
  std::uint64_t redelivery_generation_ = 0;

  // BROADCAST
  std::deque<Slot> ring_;
  std::uint32_t subscribers_ = 0;

  // WATCH
  WatchValue value_;
};

/// Cancellation handler of one parked channel wait. Holds the channel weakly: it may outlive
/// both the wait and the channel.
struct CancelChannelWait {
  CancelChannelWait(std::weak_ptr<Channel> channel, WaitKind kind, std::uint64_t id)
      : channel_(std::move(channel)), kind_(kind), id_(id) {}
  void operator()(asio::cancellation_type_t) {
    if (auto channel = channel_.lock())
      channel->end_wait(kind_, id_, asio::error::operation_aborted);
  }
  std::weak_ptr<Channel> channel_;
  WaitKind kind_;
  std::uint64_t id_;
};

/// Timer handler that ends one parked wait with `timed_out` at its deadline.
struct ExpireChannelWait {
  std::weak_ptr<Channel> channel;
  WaitKind kind;
  std::uint64_t id;
  void operator()(boost::system::error_code ec) {
    if (ec) return;  // the wait ended first and cancelled the timer
    if (auto ch = channel.lock()) ch->end_wait(kind, id, asio::error::timed_out);
  }
};

/// Waits on `channel` for `op` (a RecvOp, SendOp or ChangeOp per `kind`). Under the channel's
/// mutex, completes at once when try_complete_locked says so; otherwise parks until the
/// channel completes the wait (success: `op` holds the outcome), the caller's cancellation
/// slot fires (operation_aborted) or `deadline` passes (timed_out; `timer` is then armed and
/// must live in the caller's frame). After a cancellation or timeout, `op` holds only what
/// happened before (a SendOp's accepted prefix; a RecvOp is untouched).
///
/// Every argument is a pointer or a plain value: they travel inside a co_await expression
/// (see wait_queue.h on GCC 12).
template <typename CompletionToken>
auto async_wait_on(Channel* channel, WaitKind kind, void* op, engine::Timer* timer,
                   std::optional<engine::TimePoint> deadline, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(boost::system::error_code)>(
      [](auto handler, Channel* channel, WaitKind kind, void* op, engine::Timer* timer,
         std::optional<engine::TimePoint> deadline) {
        auto executor = asio::get_associated_executor(handler, channel->executor);
        // The erased handler chains its own cancellation state to the caller's slot; our
        // handler goes into that state's slot (as in wait_queue.h).
        engine::WaitQueue::Handler erased(std::move(handler));
        auto slot = erased.get_cancellation_slot();
        std::unique_lock lock(channel->mutex);
        if (channel->try_complete_locked(kind, op)) {
          lock.unlock();
          Waiters::complete(Waiter{0, std::move(erased), executor, op}, {});
          return;
        }
        const std::uint64_t id =
            channel->park_locked(kind, Waiter{0, std::move(erased), executor, op});
        if (slot.is_connected()) {
          slot.template emplace<CancelChannelWait>(channel->weak_from_this(), kind, id);
        }
        if (deadline && timer) {
          timer->expires_at(*deadline);
          timer->async_wait(ExpireChannelWait{channel->weak_from_this(), kind, id});
        }
      },
      token, channel, kind, op, timer, deadline);
}

}  // namespace orch::channels
