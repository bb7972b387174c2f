#include "orch/rpc/channel_convert.h"

#include <google/protobuf/util/time_util.h>

#include "orch/rpc/convert.h"

namespace orch::rpc {
namespace {

using engine::ErrorCode;
using engine::make_error;
using engine::Result;
using google::protobuf::util::TimeUtil;

engine::Error invalid(std::string_view path, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, std::string(path) + ": " + why);
}

// Sets both fields in place (no Timestamp built and copied): a reused message keeps its
// Timestamp instead of allocating another.
void set_time(engine::TimePoint t, google::protobuf::Timestamp* out) {
  constexpr std::int64_t kNanos = 1'000'000'000;
  const auto wall = engine::Clock::to_system(t);
  const std::int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()).count();
  std::int64_t seconds = ns / kNanos;
  std::int64_t nanos = ns % kNanos;
  if (nanos < 0) {  // before 1970: nanos stay in [0, 1e9), as TimeUtil normalises them
    nanos += kNanos;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<std::int32_t>(nanos));
}

Result<channels::DeliveryMode> mode_from_proto(v1::DeliveryMode mode) {
  switch (mode) {
    case v1::DELIVERY_MODE_UNSPECIFIED:
    case v1::DELIVERY_MODE_AT_MOST_ONCE:
      return channels::DeliveryMode::kAtMostOnce;
    case v1::DELIVERY_MODE_AT_LEAST_ONCE:
      return channels::DeliveryMode::kAtLeastOnce;
    default:
      break;
  }
  return invalid("mode", "unknown delivery mode " + std::to_string(static_cast<int>(mode)));
}

Result<Duration> ack_deadline_from_proto(const google::protobuf::Duration& d, bool present,
                                         const config::Limits& limits) {
  auto deadline = timeout_from_proto(d, present, "ack_deadline", limits.max_duration);
  if (!deadline) return deadline.error();
  return deadline->value_or(kDefaultAckDeadline);
}

}  // namespace

Result<std::optional<channels::ChannelKind>> kind_from_proto(v1::ChannelKind kind,
                                                             std::string_view path) {
  switch (kind) {
    case v1::CHANNEL_KIND_UNSPECIFIED:
      return std::optional<channels::ChannelKind>();
    case v1::CHANNEL_KIND_MPSC:
      return std::optional(channels::ChannelKind::kMpsc);
    case v1::CHANNEL_KIND_BROADCAST:
      return std::optional(channels::ChannelKind::kBroadcast);
    case v1::CHANNEL_KIND_WATCH:
      return std::optional(channels::ChannelKind::kWatch);
    default:
      break;
  }
  return invalid(path, "unknown channel kind " + std::to_string(static_cast<int>(kind)));
}

v1::ChannelKind kind_to_proto(channels::ChannelKind kind) {
  switch (kind) {
    case channels::ChannelKind::kMpsc:
      return v1::CHANNEL_KIND_MPSC;
    case channels::ChannelKind::kBroadcast:
      return v1::CHANNEL_KIND_BROADCAST;
    case channels::ChannelKind::kWatch:
      return v1::CHANNEL_KIND_WATCH;
  }
  return v1::CHANNEL_KIND_UNSPECIFIED;
}

Result<channels::ChannelSpec> channel_spec_from_proto(const v1::CreateChannelRequest& request) {
  auto kind = kind_from_proto(request.kind(), "kind");
  if (!kind) return kind.error();
  if (!*kind)
    return invalid("kind",
                   "required: CHANNEL_KIND_MPSC, CHANNEL_KIND_BROADCAST or CHANNEL_KIND_WATCH");
  channels::ChannelSpec spec;
  spec.name = request.name();
  spec.kind = **kind;
  spec.capacity = request.capacity();
  spec.initial_value = request.initial_value();
  spec.if_not_exists = request.if_not_exists();
  return spec;
}

Result<channels::SendOptions> send_options_from_proto(const v1::SendRequest& request,
                                                      const config::Limits& limits) {
  if (request.payloads().empty()) return invalid("payloads", "must not be empty");
  if (static_cast<std::uint32_t>(request.payloads_size()) > limits.max_batch) {
    return invalid("payloads", "more than " + std::to_string(limits.max_batch) +
                                   " messages (limits.max_batch)");
  }
  auto timeout =
      timeout_from_proto(request.timeout(), request.has_timeout(), "timeout", limits.max_duration);
  if (!timeout) return timeout.error();
  return channels::SendOptions{*timeout, request.no_wait()};
}

Result<channels::RecvOptions> recv_options_from_proto(const v1::RecvRequest& request,
                                                      const config::Limits& limits) {
  channels::RecvOptions options;
  auto timeout =
      timeout_from_proto(request.timeout(), request.has_timeout(), "timeout", limits.max_duration);
  if (!timeout) return timeout.error();
  options.timeout = *timeout;
  options.no_wait = request.no_wait();
  if (request.max_messages() > kMaxRecvMessages) {
    return invalid("max_messages", "must be at most " + std::to_string(kMaxRecvMessages));
  }
  options.max_messages = request.max_messages() == 0 ? 1 : request.max_messages();
  options.max_bytes = kMaxRecvBytes;
  auto mode = mode_from_proto(request.mode());
  if (!mode) return mode.error();
  options.mode = *mode;
  auto deadline =
      ack_deadline_from_proto(request.ack_deadline(), request.has_ack_deadline(), limits);
  if (!deadline) return deadline.error();
  options.ack_deadline = *deadline;
  options.after_version = request.after_version();
  return options;
}

Result<channels::SubscribeOptions> subscribe_options_from_proto(const v1::SubscribeRequest& request,
                                                                const config::Limits& limits) {
  channels::SubscribeOptions options;
  auto mode = mode_from_proto(request.mode());
  if (!mode) return mode.error();
  options.mode = *mode;
  auto deadline =
      ack_deadline_from_proto(request.ack_deadline(), request.has_ack_deadline(), limits);
  if (!deadline) return deadline.error();
  options.ack_deadline = *deadline;
  options.max_unacked = request.max_unacked();
  if (request.max_batch() > kMaxRecvMessages) {
    return invalid("max_batch", "must be at most " + std::to_string(kMaxRecvMessages));
  }
  options.max_batch = request.max_batch();
  options.max_batch_bytes = kMaxRecvBytes;
  return options;
}

void info_to_proto(const channels::ChannelInfo& info, v1::ChannelInfo& out) {
  out.set_name(info.name);
  out.set_kind(kind_to_proto(info.kind));
  out.set_capacity(info.capacity);
  out.set_depth(info.depth);
  out.set_in_flight(info.in_flight);
  out.set_senders(info.senders);
  out.set_receivers(info.receivers);
  out.set_subscribers(info.subscribers);
  out.set_closed(info.closed);
  out.set_version(info.version);
  out.set_messages_sent(info.messages_sent);
  set_time(info.created, out.mutable_created_at());
}

void message_to_proto(const channels::Message& message, v1::ChannelMessage& out) {
  out.set_payload(message.payload);
  out.set_sequence(message.sequence);
  out.set_delivery_id(message.delivery_id);
  out.set_delivery_count(message.delivery_count);
  set_time(message.sent_at, out.mutable_sent_at());
}

void batch_to_proto(const std::vector<channels::Message>& messages, v1::ChannelEvent& out) {
  if (!out.has_batch()) out.Clear();  // another kind of event: nothing to reuse
  auto* list = out.mutable_batch()->mutable_messages();
  const int n = static_cast<int>(messages.size());
  // RemoveLast keeps the removed messages for a later Add (protobuf's cleared elements).
  while (list->size() > n) list->RemoveLast();
  for (int i = 0; i < n; ++i) {
    // message_to_proto sets every field, so a reused message keeps nothing of its old one.
    message_to_proto(messages[static_cast<std::size_t>(i)],
                     i < list->size() ? *list->Mutable(i) : *list->Add());
  }
}

void value_to_proto(const channels::WatchValue& value, v1::WatchValue& out) {
  out.set_value(value.value);
  out.set_version(value.version);
  set_time(value.sent_at, out.mutable_sent_at());
}

}  // namespace orch::rpc
