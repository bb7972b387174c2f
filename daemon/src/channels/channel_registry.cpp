#include "orch/channels/channel_registry.h"

#include <prometheus/registry.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "channel.h"
#include "channel_metrics.h"
#include "orch/metrics/metrics.h"

namespace orch::channels {

using engine::Clock;
using engine::ErrorCode;
using engine::make_error;
using engine::Result;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxNameBytes = 128;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == ':' || c == '/';
}

std::optional<engine::Error> check_name(const std::string& name) {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "name: must not be empty");
  if (name.size() > kMaxNameBytes || !std::all_of(name.begin(), name.end(), is_name_char)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "name: must be 1 to " + std::to_string(kMaxNameBytes) +
                          " characters from A-Z, a-z, 0-9 and . _ - : /");
  }
  return std::nullopt;
}

engine::Error not_found(const std::string& name) {
  return make_error(ErrorCode::kNotFound, "channel " + name + " not found");
}

engine::Error cancelled(const char* what) {
  return make_error(ErrorCode::kCancelled, std::string(what) + " cancelled; nothing was taken");
}

// Whether a coroutine's cancellation state says it was cancelled already. Then its next
// co_await of an operation would throw operation_aborted (Asio's throw_if_cancelled, on by
// default), so the waits below answer kCancelled first, having touched nothing.
bool is_cancelled(const asio::cancellation_state& state) {
  return state.cancelled() != asio::cancellation_type::none;
}

std::string too_large(std::string_view field, std::size_t bytes, std::uint64_t max) {
  return std::string(field) + ": " + std::to_string(bytes) +
         " bytes is more than the tenant's max_message_bytes (" + std::to_string(max) + ")";
}

}  // namespace

std::string_view kind_name(ChannelKind kind) noexcept {
  switch (kind) {
    case ChannelKind::kMpsc:
      return "mpsc";
    case ChannelKind::kBroadcast:
      return "broadcast";
    case ChannelKind::kWatch:
      return "watch";
  }
  return "mpsc";
}

struct ChannelRegistry::Tenant {
  ChannelQuota quota;
  prometheus::Histogram* send_wait = nullptr;
  std::map<std::string, std::shared_ptr<Channel>> channels;
};

ChannelRegistry::ChannelRegistry(asio::any_io_executor executor, metrics::Metrics* metrics)
    : executor_(std::move(executor)) {
  if (metrics) metrics_ = std::make_unique<ChannelMetrics>(*metrics->registry());
}

ChannelRegistry::~ChannelRegistry() {
  std::lock_guard lock(mutex_);
  for (auto& [name, tenant] : tenants_) {
    for (auto& [channel_name, channel] : tenant->channels) channel->remove();
  }
}

void ChannelRegistry::add_tenant(const std::string& tenant, const ChannelQuota& quota) {
  std::lock_guard lock(mutex_);
  auto& entry = tenants_[tenant];
  if (!entry) entry = std::make_unique<Tenant>();
  entry->quota = quota;
  if (metrics_) entry->send_wait = &metrics_->add_tenant(tenant);
}

Result<std::shared_ptr<Channel>> ChannelRegistry::find(const std::string& tenant,
                                                       const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return not_found(name);
  auto it = t->second->channels.find(name);
  if (it == t->second->channels.end()) return not_found(name);
  return it->second;
}

Result<ChannelInfo> ChannelRegistry::create(const std::string& tenant, const ChannelSpec& spec) {
  if (auto error = check_name(spec.name)) return *error;
  const std::string kind(kind_name(spec.kind));
  std::lock_guard lock(mutex_);
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) {
    return make_error(ErrorCode::kNotFound, "tenant " + tenant + " has no channels");
  }
  Tenant& owner = *t->second;
  const ChannelQuota& quota = owner.quota;
  if (spec.kind == ChannelKind::kWatch) {
    if (spec.capacity != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "capacity: must be 0 for a watch channel (it holds one value)");
    }
    if (spec.initial_value.size() > quota.max_message_bytes) {
      return make_error(
          ErrorCode::kResourceExhausted,
          too_large("initial_value", spec.initial_value.size(), quota.max_message_bytes));
    }
  } else {
    if (spec.capacity == 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "capacity: must be at least 1 for a " + kind + " channel");
    }
    if (spec.capacity > quota.max_channel_capacity) {
      return make_error(ErrorCode::kInvalidArgument,
                        "capacity: " + std::to_string(spec.capacity) +
                            " is more than the tenant's max_channel_capacity (" +
                            std::to_string(quota.max_channel_capacity) + ")");
    }
    if (!spec.initial_value.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "initial_value: only a watch channel has one");
    }
  }
  if (auto it = owner.channels.find(spec.name); it != owner.channels.end()) {
    const Channel& existing = *it->second;
    if (spec.if_not_exists && existing.kind == spec.kind && existing.capacity == spec.capacity) {
      return existing.info();
    }
    return make_error(ErrorCode::kAlreadyExists, "channel " + spec.name + " already exists (" +
                                                     std::string(kind_name(existing.kind)) +
                                                     ", capacity " +
                                                     std::to_string(existing.capacity) + ")");
  }
  if (owner.channels.size() >= quota.max_channels) {
    return make_error(ErrorCode::kResourceExhausted,
                      "tenant " + tenant + " has " + std::to_string(owner.channels.size()) +
                          " channels (max_channels=" + std::to_string(quota.max_channels) +
                          "); delete one first");
  }
  auto channel = std::make_shared<Channel>(++last_id_, tenant, spec, quota.max_message_bytes,
                                           executor_, metrics_.get(), owner.send_wait);
  owner.channels.emplace(spec.name, channel);
  return channel->info();
}

namespace {

// All or nothing on size: a message too large refuses the whole call before anything goes in.
std::optional<engine::Error> check_payloads(const Channel& channel,
                                            const std::vector<std::string>& payloads) {
  if (payloads.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "payloads: must not be empty");
  }
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    if (payloads[i].size() > channel.max_message_bytes) {
      return make_error(ErrorCode::kResourceExhausted,
                        too_large("payloads[" + std::to_string(i) + "]", payloads[i].size(),
                                  channel.max_message_bytes) +
                            "; nothing was sent");
    }
  }
  return std::nullopt;
}

// The outcome of an MPSC send whose wait (if any) is over with `ec`.
Result<SendOutcome> send_outcome(const Channel& channel, const SendOp& done,
                                 boost::system::error_code ec, const SendOptions& options) {
  const std::string& name = channel.name;
  if (done.deleted) return make_error(ErrorCode::kNotFound, "channel " + name + " was deleted");
  if (done.accepted == 0) {
    if (done.closed) {
      return make_error(ErrorCode::kFailedPrecondition, "channel " + name + " is closed");
    }
    if (ec == asio::error::timed_out) {
      return make_error(ErrorCode::kDeadlineExceeded,
                        "channel " + name + " stayed full (capacity " +
                            std::to_string(channel.capacity) + ") for " +
                            format_duration(*options.timeout) + "; nothing was sent");
    }
    if (ec) return make_error(ErrorCode::kCancelled, "send cancelled; nothing was sent");
    return make_error(ErrorCode::kResourceExhausted, "channel " + name + " is full (capacity " +
                                                         std::to_string(channel.capacity) +
                                                         "); nothing was sent");
  }
  SendOutcome outcome;
  outcome.accepted = static_cast<std::uint32_t>(done.accepted);
  outcome.first_sequence = done.first_sequence;
  return outcome;
}

}  // namespace

asio::awaitable<Result<SendOutcome>> ChannelRegistry::send(std::string tenant, std::string name,
                                                           std::vector<std::string> payloads,
                                                           SendOptions options) {
  auto found = find(tenant, name);
  if (!found) co_return found.error();
  std::shared_ptr<Channel> channel = std::move(*found);
  if (auto refused = check_payloads(*channel, payloads)) co_return *refused;
  if (channel->kind != ChannelKind::kMpsc) co_return channel->send_fanout(payloads);
  if (is_cancelled(co_await asio::this_coro::cancellation_state)) {
    co_return make_error(ErrorCode::kCancelled, "send cancelled; nothing was sent");
  }

  SendOp op;
  op.payloads = &payloads;
  op.no_wait = options.no_wait;
  const auto started = Clock::now();
  std::optional<engine::TimePoint> deadline;
  if (options.timeout && !options.no_wait) deadline = started + *options.timeout;
  engine::Timer timer(co_await asio::this_coro::executor);
  auto [ec] = co_await async_wait_on(channel.get(), WaitKind::kSend, &op, &timer, deadline, kAwait);
  timer.cancel();
  const SendOp done = channel->send_result(op);
  channel->observe_send_wait(Clock::now() - started);
  co_return send_outcome(*channel, done, ec, options);
}

std::optional<Result<SendOutcome>> ChannelRegistry::try_send(const std::string& tenant,
                                                             const std::string& name,
                                                             std::vector<std::string>& payloads,
                                                             const SendOptions& options) {
  auto found = find(tenant, name);
  if (!found) return found.error();
  Channel& channel = **found;
  if (auto refused = check_payloads(channel, payloads)) return *refused;
  if (channel.kind != ChannelKind::kMpsc) return channel.send_fanout(payloads);
  SendOp op;
  op.payloads = &payloads;
  op.no_wait = options.no_wait;
  if (!channel.send_now(op)) return std::nullopt;
  channel.observe_send_wait(Duration::zero());
  return send_outcome(channel, op, {}, options);
}

asio::awaitable<Result<Received>> ChannelRegistry::recv(std::string tenant, std::string name,
                                                        RecvOptions options) {
  auto found = find(tenant, name);
  if (!found) co_return found.error();
  std::shared_ptr<Channel> channel = std::move(*found);
  if (is_cancelled(co_await asio::this_coro::cancellation_state)) co_return cancelled("recv");
  const auto started = Clock::now();
  std::optional<engine::TimePoint> deadline;
  if (options.timeout && !options.no_wait) deadline = started + *options.timeout;
  engine::Timer timer(co_await asio::this_coro::executor);

  switch (channel->kind) {
    case ChannelKind::kBroadcast:
      co_return make_error(ErrorCode::kFailedPrecondition,
                           "channel " + name + " is a broadcast channel: use Subscribe");
    case ChannelKind::kWatch: {
      ChangeOp change{ChangeOp::What::kWatch, options.after_version, 0, 0, true};
      bool closed = false;
      WatchValue value = channel->watch_value(&closed);
      Received received;
      if (value.version <= options.after_version && !closed) {
        if (options.no_wait) co_return received;
        auto [ec] = co_await async_wait_on(channel.get(), WaitKind::kChange, &change, &timer,
                                           deadline, kAwait);
        timer.cancel();
        if (ec == asio::error::timed_out) {
          co_return make_error(ErrorCode::kDeadlineExceeded,
                               "channel " + name + " has no version after " +
                                   std::to_string(options.after_version) + " within " +
                                   format_duration(*options.timeout));
        }
        if (ec) co_return cancelled("recv");
        value = channel->watch_value(&closed);
      }
      received.value = std::move(value);
      received.closed = closed;
      channel->count_received(1);
      co_return received;
    }
    case ChannelKind::kMpsc:
      break;
  }
  RecvOp op;
  op.no_wait = options.no_wait;
  op.max_messages = std::max<std::uint32_t>(options.max_messages, 1);
  op.max_bytes = options.max_bytes;
  op.mode = options.mode;
  op.ack_deadline = options.ack_deadline;
  auto [ec] = co_await async_wait_on(channel.get(), WaitKind::kRecv, &op, &timer, deadline, kAwait);
  timer.cancel();
  if (ec == asio::error::timed_out) {
    co_return make_error(
        ErrorCode::kDeadlineExceeded,
        "no message on channel " + name + " within " + format_duration(*options.timeout));
  }
  if (ec) co_return cancelled("recv");
  co_return channel->hand_over(op);
}

Result<void> ChannelRegistry::ack(const std::string& tenant, const std::string& name,
                                  const std::string& delivery_id) {
  auto channel = find(tenant, name);
  if (!channel) return channel.error();
  if (delivery_id.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "delivery_id: must not be empty");
  }
  return (*channel)->ack(delivery_id);
}

Result<void> ChannelRegistry::ack(const std::string& tenant, const std::string& name,
                                  const std::vector<std::string>& delivery_ids,
                                  std::uint32_t* acknowledged) {
  std::uint32_t count = 0;
  if (acknowledged) *acknowledged = 0;
  auto channel = find(tenant, name);
  if (!channel) return channel.error();
  if (delivery_ids.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "delivery_ids: must not be empty");
  }
  for (std::size_t i = 0; i < delivery_ids.size(); ++i) {
    if (delivery_ids[i].empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "delivery_ids[" + std::to_string(i) + "]: must not be empty");
    }
  }
  auto result = (*channel)->ack(delivery_ids, count);
  if (acknowledged) *acknowledged = count;
  return result;
}

Result<std::unique_ptr<Subscription>> ChannelRegistry::subscribe(const std::string& tenant,
                                                                 const std::string& name,
                                                                 const SubscribeOptions& options) {
  auto channel = find(tenant, name);
  if (!channel) return channel.error();
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = ++last_id_;
  }
  std::unique_ptr<Subscription> subscription(new Subscription(*channel, id, options));
  (*channel)->subscribe(*subscription);
  return subscription;
}

Result<ChannelInfo> ChannelRegistry::close(const std::string& tenant, const std::string& name) {
  auto channel = find(tenant, name);
  if (!channel) return channel.error();
  (*channel)->close();
  return (*channel)->info();
}

Result<std::uint64_t> ChannelRegistry::remove(const std::string& tenant, const std::string& name) {
  std::shared_ptr<Channel> channel;
  {
    std::lock_guard lock(mutex_);
    auto t = tenants_.find(tenant);
    if (t == tenants_.end()) return not_found(name);
    auto it = t->second->channels.find(name);
    if (it == t->second->channels.end()) return not_found(name);
    channel = std::move(it->second);
    t->second->channels.erase(it);
  }
  return channel->remove();
}

Result<ChannelInfo> ChannelRegistry::get(const std::string& tenant, const std::string& name) const {
  auto channel = find(tenant, name);
  if (!channel) return channel.error();
  return (*channel)->info();
}

std::vector<ChannelInfo> ChannelRegistry::list(const std::string& tenant,
                                               std::optional<ChannelKind> kind) const {
  std::vector<std::shared_ptr<Channel>> channels;
  {
    std::lock_guard lock(mutex_);
    auto t = tenants_.find(tenant);
    if (t == tenants_.end()) return {};
    for (const auto& [name, channel] : t->second->channels) {
      if (!kind || channel->kind == *kind) channels.push_back(channel);
    }
  }
  std::vector<ChannelInfo> infos;
  infos.reserve(channels.size());
  for (const auto& channel : channels) infos.push_back(channel->info());
  return infos;
}

std::uint32_t ChannelRegistry::count(const std::string& tenant) const {
  std::lock_guard lock(mutex_);
  auto t = tenants_.find(tenant);
  return t == tenants_.end() ? 0 : static_cast<std::uint32_t>(t->second->channels.size());
}

void ChannelRegistry::update_gauges() const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, tenant] : tenants_) {
    for (const auto& [channel_name, channel] : tenant->channels) channel->update_gauges();
  }
}

// ---------------------------------------------------------------------------------------------
// Subscription
// ---------------------------------------------------------------------------------------------

Subscription::Subscription(std::shared_ptr<Channel> channel, std::uint64_t id,
                           SubscribeOptions options)
    : channel_(std::move(channel)), id_(id), options_(options) {}

Subscription::~Subscription() { channel_->unsubscribe(*this); }

asio::awaitable<Result<ChannelEvent>> Subscription::next() {
  Channel* channel = channel_.get();
  if (is_cancelled(co_await asio::this_coro::cancellation_state))
    co_return cancelled("subscription");
  if (channel->kind == ChannelKind::kMpsc) {
    if (options_.mode == DeliveryMode::kAtLeastOnce && options_.max_unacked > 0) {
      // Take nothing more while this stream already has max_unacked deliveries out.
      ChangeOp room{ChangeOp::What::kUnacked, 0, id_, options_.max_unacked, false};
      auto [ec] = co_await async_wait_on(channel, WaitKind::kChange, &room, nullptr,
                                         std::optional<engine::TimePoint>(), kAwait);
      if (ec) co_return cancelled("subscription");
    }
    RecvOp op;
    op.mode = options_.mode;
    op.ack_deadline = options_.ack_deadline;
    op.owner = id_;
    if (options_.max_batch > 0) {
      op.max_messages = options_.max_batch;
      op.max_bytes = options_.max_batch_bytes;
      if (options_.mode == DeliveryMode::kAtLeastOnce && options_.max_unacked > 0) {
        // Only this stream adds to its unacknowledged deliveries, and next() never runs twice
        // at once: the room seen here can only grow before the take.
        const std::uint32_t unacked = channel->unacked(id_);
        const std::uint32_t room = unacked < options_.max_unacked ? options_.max_unacked - unacked : 1;
        op.max_messages = std::min(op.max_messages, room);
      }
    }
    auto [ec] = co_await async_wait_on(channel, WaitKind::kRecv, &op, nullptr,
                                       std::optional<engine::TimePoint>(), kAwait);
    if (ec) co_return cancelled("subscription");
    ChannelEvent event;
    if (op.closed) co_return event;
    event.type = ChannelEvent::Type::kMessage;
    if (options_.max_batch == 0) event.message = op.messages.front();
    event.delivery = channel->hand_over(op);
    co_return event;
  }
  for (;;) {
    ChangeOp change;
    if (auto event = channel->next_event(*this, change)) co_return std::move(*event);
    auto [ec] = co_await async_wait_on(channel, WaitKind::kChange, &change, nullptr,
                                       std::optional<engine::TimePoint>(), kAwait);
    if (ec) co_return cancelled("subscription");
  }
}

}  // namespace orch::channels
