#pragma once
/// ChannelRegistry: the tenants' named channels (MPSC, BROADCAST, WATCH) and every operation on
/// them, independent of gRPC so that RPCs and task nodes share one implementation.
///
/// Names are per tenant; another tenant's channel is NOT_FOUND. Quotas per tenant: how many
/// channels (max_channels), how large a message (max_message_bytes), how large a capacity
/// (max_channel_capacity); refusals name the config key.
///
/// Waits (send on a full MPSC channel, recv on an empty one, a subscription waiting for the
/// next event) are coroutines that run on the caller's executor and are cancel-safe, like
/// Tokio's `mpsc::Receiver::recv`:
///   - a terminal cancellation (client gone, lost select, abort) or a timeout that comes
///     before a message was handed over takes nothing from the channel;
///   - a message handed over travels in a `Received`, which gives it back (to the front of
///     the queue, or for AT_LEAST_ONCE out of flight) unless the caller commit()s it once the
///     message has really reached its receiver;
///   - a send that gives up has put in exactly the messages it reports (SendOutcome::accepted),
///     never half of one.
///
/// Thread-safety: every member may be called from any thread. Each channel has its own short
/// mutex, never held across a co_await; a second mutex guards the name table.
///
/// Lifetime: coroutines and objects handed out (Received, Subscription) keep their channel
/// alive; the registry must outlive the calls in progress (the RPC server stops its calls
/// before the registry goes). Destroying the registry deletes every channel.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orch/channels/types.h"
#include "orch/engine/error.h"

namespace orch::metrics {
class Metrics;
}

namespace orch::channels {

class Channel;
class ChannelMetrics;

/// Messages (MPSC), or a value (WATCH), handed over by recv() or a Subscription. Move-only.
///
/// Until commit(), the messages still belong to the channel: destroying an uncommitted
/// Received gives them back (AT_MOST_ONCE: to the front of the queue, in sequence order;
/// AT_LEAST_ONCE: out of flight, back to the queue at once, delivery count unchanged). Commit
/// once the messages reached their receiver (the RPC's answer was sent, the node's result was
/// recorded). A committed AT_LEAST_ONCE delivery stays in flight until Ack or its deadline.
class Received {
 public:
  Received() = default;
  Received(Received&& other) noexcept;
  Received& operator=(Received&& other) noexcept;
  Received(const Received&) = delete;
  Received& operator=(const Received&) = delete;
  ~Received();

  /// MPSC: the messages taken, oldest first (empty with `no_wait` and nothing queued, or when
  /// `closed`).
  std::vector<Message> messages;
  /// WATCH: the current value (unset only with `no_wait` and nothing newer).
  std::optional<WatchValue> value;
  /// The channel is closed and nothing is left to receive (MPSC), or closed (WATCH).
  bool closed = false;

  /// The messages reached their receiver: they are no longer given back.
  void commit();

 private:
  friend class Channel;
  void give_back();

  std::shared_ptr<Channel> channel_;
  DeliveryMode mode_ = DeliveryMode::kAtMostOnce;
  bool pending_ = false;  // messages are held for the receiver and not committed yet
};

/// One event of a subscription.
struct ChannelEvent {
  enum class Type : std::uint8_t {
    kMessage,  ///< MPSC (in `delivery`: one message, or with max_batch a batch) and BROADCAST
               ///< (in `message`)
    kLagged,   ///< BROADCAST: `skipped` messages were lost to this subscriber
    kValue,    ///< WATCH: `value`
    kClosed,   ///< the channel was closed (or deleted) and everything left was delivered
  };
  Type type = Type::kClosed;
  /// BROADCAST message, or (MPSC without max_batch) a copy of the message held in `delivery`.
  Message message;
  std::uint64_t skipped = 0;
  WatchValue value;
  /// MPSC: the message taken for this subscriber (with max_batch: the 1 to max_batch messages,
  /// oldest first); commit() once it was written to the client, or let it go to give it back.
  Received delivery;
};

/// A Subscribe stream's cursor into a channel. BROADCAST: every message sent after subscribe(),
/// with Lagged for what fell out of the ring. WATCH: the current value at once, then each newer
/// value (coalesced). MPSC: a competing receiver that takes one message per next(), or with
/// SubscribeOptions::max_batch every queued message up to that many (never waiting for more
/// than the first).
///
/// Thread-safety: next() must not run twice at once; destroy it when the stream ends
/// (unsubscribes).
class Subscription {
 public:
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  /// The next event; waits while there is none. Completion: the event, or kCancelled when the
  /// caller's cancellation slot fired first (nothing is taken then). After kClosed, every call
  /// returns kClosed again.
  boost::asio::awaitable<engine::Result<ChannelEvent>> next();

 private:
  friend class ChannelRegistry;
  friend class Channel;
  Subscription(std::shared_ptr<Channel> channel, std::uint64_t id, SubscribeOptions options);

  std::shared_ptr<Channel> channel_;
  std::uint64_t id_;
  SubscribeOptions options_;
  // Guarded by the channel's mutex.
  std::uint64_t cursor_ = 0;        // BROADCAST: next sequence to read
  std::uint64_t seen_version_ = 0;  // WATCH: last version handed out
};

class ChannelRegistry {
 public:
  /// `executor` runs the AT_LEAST_ONCE redelivery timers; `metrics` may be null.
  explicit ChannelRegistry(boost::asio::any_io_executor executor,
                           metrics::Metrics* metrics = nullptr);
  ~ChannelRegistry();
  ChannelRegistry(const ChannelRegistry&) = delete;
  ChannelRegistry& operator=(const ChannelRegistry&) = delete;

  /// Registers a tenant and its quotas (at start-up). Calls for an unknown tenant are NOT_FOUND.
  void add_tenant(const std::string& tenant, const ChannelQuota& quota);

  /// ALREADY_EXISTS for a taken name (unless if_not_exists and kind and capacity match);
  /// RESOURCE_EXHAUSTED past max_channels; INVALID_ARGUMENT names a bad field.
  engine::Result<ChannelInfo> create(const std::string& tenant, const ChannelSpec& spec);

  /// Puts `payloads` in, in order (see channels.proto, Send). MPSC waits while full: until all
  /// are accepted, the timeout passes, the channel closes or the caller is cancelled; the
  /// outcome counts what was accepted (a prefix). Nothing accepted: DEADLINE_EXCEEDED (timeout),
  /// FAILED_PRECONDITION (closed), RESOURCE_EXHAUSTED (no_wait), NOT_FOUND (deleted),
  /// CANCELLED. A payload over max_message_bytes is RESOURCE_EXHAUSTED and nothing is sent.
  boost::asio::awaitable<engine::Result<SendOutcome>> send(std::string tenant, std::string name,
                                                           std::vector<std::string> payloads,
                                                           SendOptions options);

  /// send() for a caller that must not wait (an RPC answered on gRPC's own thread): the same
  /// outcome when the send needs no wait (room for every payload, no sender waiting before it,
  /// `no_wait`, a closed or deleted channel, a refusal, BROADCAST and WATCH); nullopt when it
  /// would have to wait for room, and then nothing was taken and `payloads` is as it was.
  std::optional<engine::Result<SendOutcome>> try_send(const std::string& tenant,
                                                      const std::string& name,
                                                      std::vector<std::string>& payloads,
                                                      const SendOptions& options);

  /// Takes messages from an MPSC channel, or reads a WATCH value (see channels.proto, Recv).
  /// DEADLINE_EXCEEDED past the timeout and CANCELLED when the caller's slot fires, both with
  /// nothing taken; FAILED_PRECONDITION on a BROADCAST channel.
  boost::asio::awaitable<engine::Result<Received>> recv(std::string tenant, std::string name,
                                                        RecvOptions options);

  /// Acknowledges an AT_LEAST_ONCE delivery. FAILED_PRECONDITION when it is not in flight.
  engine::Result<void> ack(const std::string& tenant, const std::string& name,
                           const std::string& delivery_id);
  /// Acknowledges several deliveries under one lock, in order. Every one in flight is
  /// acknowledged; FAILED_PRECONDITION names the first that was not (the others are
  /// acknowledged all the same; `acknowledged`, when given, counts them either way).
  engine::Result<void> ack(const std::string& tenant, const std::string& name,
                           const std::vector<std::string>& delivery_ids,
                           std::uint32_t* acknowledged = nullptr);

  /// Opens a subscription (any kind).
  engine::Result<std::unique_ptr<Subscription>> subscribe(const std::string& tenant,
                                                          const std::string& name,
                                                          const SubscribeOptions& options);

  /// No more sends; waiting senders fail; what is left can still be received. Idempotent.
  engine::Result<ChannelInfo> close(const std::string& tenant, const std::string& name);

  /// Removes the channel and discards what it holds; returns how many messages were discarded.
  engine::Result<std::uint64_t> remove(const std::string& tenant, const std::string& name);

  engine::Result<ChannelInfo> get(const std::string& tenant, const std::string& name) const;
  /// The tenant's channels by name, of one kind or all.
  std::vector<ChannelInfo> list(const std::string& tenant,
                                std::optional<ChannelKind> kind = std::nullopt) const;
  /// How many channels the tenant has.
  std::uint32_t count(const std::string& tenant) const;

  /// Refreshes the per-channel gauges (call before a metrics scrape).
  void update_gauges() const;

 private:
  struct Tenant;
  engine::Result<std::shared_ptr<Channel>> find(const std::string& tenant,
                                                const std::string& name) const;

  boost::asio::any_io_executor executor_;
  std::unique_ptr<ChannelMetrics> metrics_;
  mutable std::mutex mutex_;
  std::uint64_t last_id_ = 0;
  std::map<std::string, std::unique_ptr<Tenant>, std::less<>> tenants_;
};

}  // namespace orch::channels
