#include "orch/client/channel_format.h"

#include "orch/client/format.h"

namespace orch::client {

std::string channel_kind_name(orch::v1::ChannelKind kind) {
  switch (kind) {
    case orch::v1::CHANNEL_KIND_MPSC:
      return "mpsc";
    case orch::v1::CHANNEL_KIND_BROADCAST:
      return "broadcast";
    case orch::v1::CHANNEL_KIND_WATCH:
      return "watch";
    default:
      break;
  }
  return "unspecified";
}

std::string format_channel(const orch::v1::ChannelInfo& info) {
  std::string out;
  out += "name: " + info.name() + '\n';
  out += "kind: " + channel_kind_name(info.kind()) + '\n';
  out += "capacity: " + std::to_string(info.capacity()) + '\n';
  out += "depth: " + std::to_string(info.depth()) + '\n';
  out += "in_flight: " + std::to_string(info.in_flight()) + '\n';
  out += "senders: " + std::to_string(info.senders()) + '\n';
  out += "receivers: " + std::to_string(info.receivers()) + '\n';
  out += "subscribers: " + std::to_string(info.subscribers()) + '\n';
  out += std::string("state: ") + (info.closed() ? "closed" : "open") + '\n';
  if (info.kind() == orch::v1::CHANNEL_KIND_WATCH) {
    out += "version: " + std::to_string(info.version()) + '\n';
  }
  out += "messages_sent: " + std::to_string(info.messages_sent()) + '\n';
  out += "created: " + format_timestamp(info.created_at()) + '\n';
  return out;
}

std::string format_channel_table(
    const google::protobuf::RepeatedPtrField<orch::v1::ChannelInfo>& channels) {
  std::string out;
  for (const auto& info : channels) {
    out += info.name() + "  " + channel_kind_name(info.kind()) + "  " +
           std::to_string(info.capacity()) + "  " + std::to_string(info.depth()) + "  " +
           std::to_string(info.subscribers()) + "  " + (info.closed() ? "closed" : "open") + '\n';
  }
  return out;
}

std::string format_channel_message(const orch::v1::ChannelMessage& message) {
  std::string out = "message seq=" + std::to_string(message.sequence()) +
                    " delivery=" + std::to_string(message.delivery_count());
  if (!message.delivery_id().empty()) out += " id=" + message.delivery_id();
  out += ' ';
  out += quote(message.payload());
  return out;
}

std::string format_watch_value(const orch::v1::WatchValue& value) {
  return "value version=" + std::to_string(value.version()) + ' ' + quote(value.value());
}

std::string format_channel_event(const orch::v1::ChannelEvent& event) {
  switch (event.event_case()) {
    case orch::v1::ChannelEvent::kMessage:
      return format_channel_message(event.message());
    case orch::v1::ChannelEvent::kLagged:
      return "lagged skipped=" + std::to_string(event.lagged().skipped());
    case orch::v1::ChannelEvent::kValue:
      return format_watch_value(event.value());
    case orch::v1::ChannelEvent::kBatch: {
      // One line per message, as if each had come in its own event.
      std::string out;
      for (const auto& message : event.batch().messages()) {
        if (!out.empty()) out += '\n';
        out += format_channel_message(message);
      }
      return out;
    }
    case orch::v1::ChannelEvent::kClosed:
    case orch::v1::ChannelEvent::EVENT_NOT_SET:
      break;
  }
  return "closed";
}

}  // namespace orch::client
