#include "channel.h"

#include <algorithm>
#include <iterator>

namespace orch::channels {

using engine::Clock;
using engine::ErrorCode;
using engine::make_error;

// ---------------------------------------------------------------------------------------------
// Waiters
// ---------------------------------------------------------------------------------------------

std::optional<Waiter> Waiters::pop_front() {
  if (waiters_.empty()) return std::nullopt;
  Waiter w = std::move(waiters_.front());
  waiters_.pop_front();
  return w;
}

std::optional<Waiter> Waiters::remove(std::uint64_t id) {
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

// ---------------------------------------------------------------------------------------------
// Channel
// ---------------------------------------------------------------------------------------------

Channel::Channel(std::uint64_t id_, std::string tenant_, const ChannelSpec& spec,
                 std::uint64_t max_message_bytes_, asio::any_io_executor executor_,
                 ChannelMetrics* metrics, prometheus::Histogram* send_wait)
    : id(id_),
      tenant(std::move(tenant_)),
      name(spec.name),
      kind(spec.kind),
      capacity(spec.capacity),
      created(Clock::now()),
      max_message_bytes(max_message_bytes_),
      executor(std::move(executor_)),
      metrics_(metrics),
      send_wait_(send_wait) {
  if (metrics_) series_ = metrics_->add(tenant, name);
  if (kind == ChannelKind::kWatch) value_ = WatchValue{spec.initial_value, 1, created};
}

// The registry removes a channel's series when it deletes it (also when the registry goes),
// so a channel that outlives the registry never touches the metrics again.
Channel::~Channel() = default;

Waiters& Channel::waiters(WaitKind kind) {
  switch (kind) {
    case WaitKind::kRecv:
      return receivers_;
    case WaitKind::kSend:
      return senders_;
    case WaitKind::kChange:
      break;
  }
  return changes_;
}

std::uint64_t Channel::park_locked(WaitKind kind, Waiter w) {
  w.id = ++last_waiter_;
  const std::uint64_t id_of_waiter = w.id;
  waiters(kind).push(std::move(w));
  return id_of_waiter;
}

void Channel::end_wait(WaitKind kind, std::uint64_t waiter_id, boost::system::error_code ec) {
  std::optional<Waiter> w;
  {
    std::lock_guard lock(mutex);
    w = waiters(kind).remove(waiter_id);
  }
  if (w) Waiters::complete(std::move(*w), ec);
}

bool Channel::try_complete_locked(WaitKind wait, void* op) {
  switch (wait) {
    case WaitKind::kRecv: {
      auto& recv = *static_cast<RecvOp*>(op);
      expire_due_locked();
      pump_locked();  // parked receivers first, if a redelivery just came back
      // Receivers park only while the queue is empty, so a new one never passes a parked one.
      if (!queue_.empty()) {
        take_locked(recv);
        return true;
      }
      if (deleted_ || (closed_ && drained_locked())) {
        recv.closed = true;
        return true;
      }
      return recv.no_wait;
    }
    case WaitKind::kSend: {
      auto& send = *static_cast<SendOp*>(op);
      if (deleted_) {
        send.deleted = true;
        return true;
      }
      if (closed_) {
        send.closed = true;
        return true;
      }
      // Earlier senders first: their messages go in before ours (FIFO, like Tokio's permits).
      if (senders_.empty()) {
        accept_locked(send, room_locked());
        pump_locked();
      }
      return send.accepted == send.payloads->size() || send.no_wait;
    }
    case WaitKind::kChange:
      return change_ready_locked(*static_cast<ChangeOp*>(op));
  }
  return true;
}

// --- MPSC ------------------------------------------------------------------------------------

std::uint32_t Channel::room_locked() const {
  const std::size_t used = queue_.size() + held_ + in_flight_.size();
  return used >= capacity ? 0 : static_cast<std::uint32_t>(capacity - used);
}

bool Channel::drained_locked() const { return queue_.empty() && held_ == 0 && in_flight_.empty(); }

// Hands queued messages to parked receivers and moves parked senders' payloads in as room
// frees, until neither can go on; then tells parked receivers when nothing will ever come.
void Channel::pump_locked() {
  for (;;) {
    bool progress = false;
    while (!queue_.empty() && !receivers_.empty()) {
      Waiter w = *receivers_.pop_front();
      take_locked(*static_cast<RecvOp*>(w.op));
      Waiters::complete(std::move(w), {});
      progress = true;
    }
    while (!senders_.empty() && room_locked() > 0) {
      auto& send = *static_cast<SendOp*>(senders_.front().op);
      accept_locked(send, room_locked());
      if (send.accepted == send.payloads->size()) Waiters::complete(*senders_.pop_front(), {});
      progress = true;
    }
    if (!progress) break;
  }
  if (closed_ && drained_locked()) {
    for (auto& w : receivers_.take_all()) {
      static_cast<RecvOp*>(w.op)->closed = true;
      Waiters::complete(std::move(w), {});
    }
  }
}

// One clock read and one counter update per batch: the messages of one call are accepted at
// the same instant.
std::size_t Channel::accept_locked(SendOp& op, std::size_t most) {
  const std::size_t n = std::min(most, op.payloads->size() - op.accepted);
  if (n == 0) return 0;
  const auto now = Clock::now();
  if (op.accepted == 0) op.first_sequence = next_sequence_;
  for (std::size_t i = 0; i < n; ++i) {
    Message message;
    message.payload = std::move((*op.payloads)[op.accepted + i]);
    message.sequence = next_sequence_++;
    message.sent_at = now;
    queue_.push_back(std::move(message));
  }
  op.accepted += n;
  messages_sent_ += n;
  count_locked(&ChannelMetrics::Series::sent, static_cast<double>(n));
  return n;
}

void Channel::take_locked(RecvOp& op) {
  const std::size_t n =
      std::min<std::size_t>(std::max<std::uint32_t>(op.max_messages, 1), queue_.size());
  const auto now = Clock::now();
  op.messages.reserve(op.messages.size() + n);
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bytes += queue_.front().payload.size();
    if (i > 0 && op.max_bytes != 0 && bytes > op.max_bytes) break;
    Message message = std::move(queue_.front());
    queue_.pop_front();
    ++message.delivery_count;
    if (op.mode == DeliveryMode::kAtMostOnce) {
      ++held_;
      op.messages.push_back(std::move(message));
      continue;
    }
    message.delivery_id = std::to_string(id) + "-" + std::to_string(++last_delivery_);
    op.messages.push_back(message);
    const std::string delivery_id = message.delivery_id;
    auto deadline = deadlines_.emplace(now + op.ack_deadline, delivery_id);
    in_flight_.emplace(delivery_id, InFlight{std::move(message), op.owner, deadline});
    ++unacked_[op.owner];
  }
  if (op.mode == DeliveryMode::kAtLeastOnce) arm_redelivery_locked();
}

void Channel::insert_sorted_locked(Message message) {
  // Messages come back (given back, or past their ack deadline) before newer ones.
  auto it = std::upper_bound(queue_.begin(), queue_.end(), message.sequence,
                             [](std::uint64_t seq, const Message& m) { return seq < m.sequence; });
  queue_.insert(it, std::move(message));
}

void Channel::erase_in_flight_locked(std::unordered_map<std::string, InFlight>::iterator it) {
  deadlines_.erase(it->second.deadline);
  if (auto owner = unacked_.find(it->second.owner); owner != unacked_.end()) {
    if (--owner->second == 0) unacked_.erase(owner);
  }
  in_flight_.erase(it);
}

// Deliveries past their ack deadline go back to the queue, before newer messages.
void Channel::expire_due_locked() {
  if (deadlines_.empty()) return;
  const auto now = Clock::now();
  bool expired = false;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    auto it = in_flight_.find(deadlines_.begin()->second);
    Message message = std::move(it->second.message);
    message.delivery_id.clear();
    erase_in_flight_locked(it);
    insert_sorted_locked(std::move(message));
    expired = true;
  }
  if (expired) wake_changes_locked();
}

void Channel::arm_redelivery_locked() {
  if (deadlines_.empty() || deleted_) return;
  const auto earliest = deadlines_.begin()->first;
  if (redelivery_armed_ && *redelivery_armed_ <= earliest) return;
  if (!redelivery_timer_) redelivery_timer_ = std::make_unique<engine::Timer>(executor);
  redelivery_armed_ = earliest;
  const std::uint64_t generation = ++redelivery_generation_;
  redelivery_timer_->expires_at(earliest);
  redelivery_timer_->async_wait([weak = weak_from_this(), generation](boost::system::error_code) {
    if (auto channel = weak.lock()) channel->on_redelivery_timer(generation);
  });
}

void Channel::on_redelivery_timer(std::uint64_t generation) {
  std::lock_guard lock(mutex);
  // A timer re-armed for an earlier deadline, or stopped by a delete, is stale.
  if (generation != redelivery_generation_ || deleted_) return;
  redelivery_armed_.reset();
  expire_due_locked();
  pump_locked();
  arm_redelivery_locked();
}

Received Channel::hand_over(RecvOp& op) {
  Received received;
  received.messages = std::move(op.messages);
  received.closed = op.closed;
  received.mode_ = op.mode;
  received.pending_ = !received.messages.empty();
  if (received.pending_) received.channel_ = shared_from_this();
  return received;
}

void Channel::commit(std::vector<Message>& messages, DeliveryMode mode) {
  std::lock_guard lock(mutex);
  if (mode == DeliveryMode::kAtMostOnce) {
    held_ -= static_cast<std::uint32_t>(std::min<std::size_t>(held_, messages.size()));
  }
  if (deleted_) return;
  count_locked(&ChannelMetrics::Series::received, static_cast<double>(messages.size()));
  if (mode == DeliveryMode::kAtMostOnce) {
    pump_locked();  // room freed
    wake_changes_locked();
  }
}

void Channel::give_back(std::vector<Message>& messages, DeliveryMode mode) {
  std::lock_guard lock(mutex);
  if (mode == DeliveryMode::kAtMostOnce) {
    held_ -= static_cast<std::uint32_t>(std::min<std::size_t>(held_, messages.size()));
    if (deleted_) return;
    for (auto& message : messages) {
      --message.delivery_count;  // that delivery never happened
      insert_sorted_locked(std::move(message));
    }
  } else {
    if (deleted_) return;
    for (auto& message : messages) {
      auto it = in_flight_.find(message.delivery_id);
      if (it == in_flight_.end()) continue;  // already back, past its deadline
      Message back = std::move(it->second.message);
      erase_in_flight_locked(it);
      --back.delivery_count;
      back.delivery_id.clear();
      insert_sorted_locked(std::move(back));
    }
  }
  pump_locked();
  wake_changes_locked();
}

engine::Result<void> Channel::ack(const std::string& delivery_id) {
  std::uint32_t acknowledged = 0;
  return ack({delivery_id}, acknowledged);
}

engine::Result<void> Channel::ack(const std::vector<std::string>& delivery_ids,
                                  std::uint32_t& acknowledged) {
  acknowledged = 0;
  std::lock_guard lock(mutex);
  if (deleted_) return make_error(ErrorCode::kNotFound, "channel " + name + " not found");
  if (kind != ChannelKind::kMpsc) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "channel " + name + " is a " + std::string(kind_name(kind)) +
                          " channel: only mpsc deliveries are acknowledged");
  }
  expire_due_locked();
  const std::string* missing = nullptr;
  for (const auto& delivery_id : delivery_ids) {
    auto it = in_flight_.find(delivery_id);
    if (it == in_flight_.end()) {
      if (!missing) missing = &delivery_id;
      continue;
    }
    erase_in_flight_locked(it);
    ++acknowledged;
  }
  pump_locked();  // room freed
  if (acknowledged > 0) wake_changes_locked();
  if (missing) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "delivery_id: " + *missing + " is not in flight on channel " + name +
                          " (unknown, already acknowledged, or past its ack deadline and "
                          "delivered again)" +
                          (delivery_ids.size() > 1
                               ? "; " + std::to_string(acknowledged) + " of " +
                                     std::to_string(delivery_ids.size()) + " acknowledged"
                               : std::string()));
  }
  return {};
}

bool Channel::send_now(SendOp& op) {
  std::lock_guard lock(mutex);
  // As try_complete_locked for kSend, but nothing is accepted unless everything fits (or the
  // caller takes a prefix): a send that must wait goes in whole, later, in its turn.
  if (deleted_ || closed_ || op.no_wait) return try_complete_locked(WaitKind::kSend, &op);
  if (!senders_.empty() || room_locked() < op.payloads->size() - op.accepted) return false;
  return try_complete_locked(WaitKind::kSend, &op);
}

SendOp Channel::send_result(const SendOp& op) const {
  std::lock_guard lock(mutex);
  SendOp copy = op;
  return copy;
}

void Channel::count_received(std::uint64_t n) {
  std::lock_guard lock(mutex);
  count_locked(&ChannelMetrics::Series::received, static_cast<double>(n));
}

void Channel::observe_send_wait(Duration waited) {
  if (send_wait_) send_wait_->Observe(std::chrono::duration<double>(waited).count());
}

// --- BROADCAST and WATCH -----------------------------------------------------------------------

engine::Result<SendOutcome> Channel::send_fanout(std::vector<std::string>& payloads) {
  std::lock_guard lock(mutex);
  if (deleted_) return make_error(ErrorCode::kNotFound, "channel " + name + " not found");
  if (closed_) {
    return make_error(ErrorCode::kFailedPrecondition, "channel " + name + " is closed");
  }
  SendOutcome outcome;
  const auto now = Clock::now();
  for (auto& payload : payloads) {
    ++messages_sent_;
    count_locked(&ChannelMetrics::Series::sent, 1);
    if (kind == ChannelKind::kWatch) {
      value_ = WatchValue{std::move(payload), value_.version + 1, now};
      continue;
    }
    Message message{std::move(payload), next_sequence_++, {}, 0, now};
    if (outcome.first_sequence == 0) outcome.first_sequence = message.sequence;
    if (subscribers_ == 0) {
      count_locked(&ChannelMetrics::Series::dropped, 1);  // nobody will ever read it
      continue;
    }
    if (ring_.size() >= capacity) {
      // The oldest message leaves the ring; subscribers that had not read it will lag.
      if (ring_.front().remaining > 0) count_locked(&ChannelMetrics::Series::dropped, 1);
      ring_.pop_front();
    }
    ring_.push_back(Slot{std::move(message), subscribers_});
  }
  outcome.accepted = static_cast<std::uint32_t>(payloads.size());
  outcome.subscribers = kind == ChannelKind::kBroadcast ? subscribers_ : 0;
  outcome.version = kind == ChannelKind::kWatch ? value_.version : 0;
  wake_changes_locked();
  return outcome;
}

WatchValue Channel::watch_value(bool* closed) const {
  std::lock_guard lock(mutex);
  if (closed) *closed = closed_;
  return value_;
}

std::uint64_t Channel::oldest_kept_locked() const {
  return ring_.empty() ? next_sequence_ : ring_.front().message.sequence;
}

void Channel::prune_ring_locked() {
  while (!ring_.empty() && ring_.front().remaining == 0) ring_.pop_front();
}

void Channel::subscribe(Subscription& subscription) {
  std::lock_guard lock(mutex);
  ++subscribers_;
  subscription.cursor_ = next_sequence_;
  subscription.seen_version_ = 0;
}

void Channel::unsubscribe(Subscription& subscription) {
  std::lock_guard lock(mutex);
  --subscribers_;
  if (kind != ChannelKind::kBroadcast) return;
  // The messages this subscriber would still have read no longer wait for it.
  const std::uint64_t oldest = oldest_kept_locked();
  const std::uint64_t from = std::max(subscription.cursor_, oldest);
  for (std::uint64_t seq = from; seq < next_sequence_; ++seq) {
    auto& slot = ring_[static_cast<std::size_t>(seq - oldest)];
    if (slot.remaining > 0) --slot.remaining;
  }
  prune_ring_locked();
}

std::optional<ChannelEvent> Channel::next_event(Subscription& subscription, ChangeOp& change) {
  std::lock_guard lock(mutex);
  ChannelEvent event;
  if (deleted_) return event;  // kClosed
  if (kind == ChannelKind::kWatch) {
    if (value_.version > subscription.seen_version_) {
      subscription.seen_version_ = value_.version;
      event.type = ChannelEvent::Type::kValue;
      event.value = value_;
      count_locked(&ChannelMetrics::Series::received, 1);
      return event;
    }
    if (closed_) return event;
    change = ChangeOp{ChangeOp::What::kWatch, subscription.seen_version_, 0, 0, false};
    return std::nullopt;
  }
  // BROADCAST
  const std::uint64_t oldest = oldest_kept_locked();
  if (subscription.cursor_ < oldest) {
    event.type = ChannelEvent::Type::kLagged;
    event.skipped = oldest - subscription.cursor_;
    subscription.cursor_ = oldest;
    count_locked(&ChannelMetrics::Series::lagged, static_cast<double>(event.skipped));
    return event;
  }
  if (subscription.cursor_ < next_sequence_) {
    auto& slot = ring_[static_cast<std::size_t>(subscription.cursor_ - oldest)];
    event.type = ChannelEvent::Type::kMessage;
    event.message = slot.message;
    event.message.delivery_count = 1;
    if (slot.remaining > 0) --slot.remaining;
    ++subscription.cursor_;
    count_locked(&ChannelMetrics::Series::received, 1);
    prune_ring_locked();
    return event;
  }
  if (closed_) return event;
  change = ChangeOp{ChangeOp::What::kBroadcast, subscription.cursor_, 0, 0, false};
  return std::nullopt;
}

std::uint32_t Channel::unacked(std::uint64_t owner) const {
  std::lock_guard lock(mutex);
  auto it = unacked_.find(owner);
  return it == unacked_.end() ? 0 : it->second;
}

bool Channel::change_ready_locked(const ChangeOp& op) const {
  if (deleted_) return true;
  switch (op.what) {
    case ChangeOp::What::kBroadcast:
      return next_sequence_ > op.after || closed_;
    case ChangeOp::What::kWatch:
      return value_.version > op.after || closed_;
    case ChangeOp::What::kUnacked: {
      auto it = unacked_.find(op.owner);
      const std::uint32_t n = it == unacked_.end() ? 0 : it->second;
      return n < op.max_unacked || (closed_ && drained_locked());
    }
  }
  return true;
}

void Channel::wake_changes_locked() {
  if (changes_.empty()) return;
  std::list<Waiter> waiting = changes_.take_all();
  for (auto& w : waiting) {
    if (change_ready_locked(*static_cast<ChangeOp*>(w.op))) {
      Waiters::complete(std::move(w), {});
    } else {
      changes_.push(std::move(w));
    }
  }
}

// --- every kind ----------------------------------------------------------------------------

ChannelInfo Channel::info() const {
  std::lock_guard lock(mutex);
  ChannelInfo info;
  info.name = name;
  info.kind = kind;
  info.capacity = capacity;
  info.closed = closed_;
  info.messages_sent = messages_sent_;
  info.created = created;
  info.senders = static_cast<std::uint32_t>(senders_.size());
  info.receivers = static_cast<std::uint32_t>(receivers_.size());
  for (const auto& w : changes_.all()) {
    if (static_cast<const ChangeOp*>(w.op)->is_recv) ++info.receivers;
  }
  info.subscribers = subscribers_;
  switch (kind) {
    case ChannelKind::kMpsc:
      info.depth = static_cast<std::uint32_t>(queue_.size()) + held_;
      info.in_flight = static_cast<std::uint32_t>(in_flight_.size());
      break;
    case ChannelKind::kBroadcast:
      info.depth = static_cast<std::uint32_t>(ring_.size());
      break;
    case ChannelKind::kWatch:
      info.version = value_.version;
      break;
  }
  return info;
}

void Channel::close() {
  std::lock_guard lock(mutex);
  if (closed_ || deleted_) return;
  closed_ = true;
  // Waiting senders fail; whatever they already put in stays and drains.
  for (auto& w : senders_.take_all()) {
    static_cast<SendOp*>(w.op)->closed = true;
    Waiters::complete(std::move(w), {});
  }
  pump_locked();
  wake_changes_locked();
}

std::uint64_t Channel::remove() {
  std::lock_guard lock(mutex);
  if (deleted_) return 0;
  deleted_ = true;
  closed_ = true;
  const std::uint64_t discarded = queue_.size() + in_flight_.size() + ring_.size();
  queue_.clear();
  in_flight_.clear();
  deadlines_.clear();
  unacked_.clear();
  ring_.clear();
  for (auto& w : senders_.take_all()) {
    static_cast<SendOp*>(w.op)->deleted = true;
    Waiters::complete(std::move(w), {});
  }
  for (auto& w : receivers_.take_all()) {
    static_cast<RecvOp*>(w.op)->closed = true;
    Waiters::complete(std::move(w), {});
  }
  for (auto& w : changes_.take_all()) Waiters::complete(std::move(w), {});
  if (redelivery_timer_) {
    ++redelivery_generation_;
    redelivery_timer_->cancel();
  }
  if (series_ && metrics_) metrics_->remove(*series_);
  series_.reset();
  return discarded;
}

void Channel::update_gauges() const {
  std::lock_guard lock(mutex);
  if (!series_) return;
  double depth = 0;
  if (kind == ChannelKind::kMpsc) depth = static_cast<double>(queue_.size() + held_);
  if (kind == ChannelKind::kBroadcast) depth = static_cast<double>(ring_.size());
  series_->depth->Set(depth);
  series_->in_flight->Set(static_cast<double>(in_flight_.size()));
}

void Channel::count_locked(prometheus::Counter* ChannelMetrics::Series::*counter, double n) {
  if (series_ && n > 0) ((*series_).*counter)->Increment(n);
}

// ---------------------------------------------------------------------------------------------
// Received
// ---------------------------------------------------------------------------------------------

Received::Received(Received&& other) noexcept
    : messages(std::move(other.messages)),
      value(std::move(other.value)),
      closed(other.closed),
      channel_(std::move(other.channel_)),
      mode_(other.mode_),
      pending_(std::exchange(other.pending_, false)) {}

Received& Received::operator=(Received&& other) noexcept {
  if (this != &other) {
    give_back();
    messages = std::move(other.messages);
    value = std::move(other.value);
    closed = other.closed;
    channel_ = std::move(other.channel_);
    mode_ = other.mode_;
    pending_ = std::exchange(other.pending_, false);
  }
  return *this;
}

Received::~Received() { give_back(); }

void Received::commit() {
  if (!pending_) return;
  pending_ = false;
  if (channel_) channel_->commit(messages, mode_);
}

void Received::give_back() {
  if (!pending_) return;
  pending_ = false;
  if (channel_) channel_->give_back(messages, mode_);
}

}  // namespace orch::channels
