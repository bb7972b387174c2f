#pragma once
/// Conversions between ChannelService messages (orch.v1, channels.proto) and the channels
/// core's plain types, with the validation of every field a client sends. Refusals name the
/// field and the reason, e.g. `max_messages: must be at most 1000`.
///
/// Thread-safety: pure functions.

#include <cstdint>
#include <optional>

#include "orch/channels/channel_registry.h"
#include "orch/config/config.h"
#include "orch/engine/error.h"
#include "orch/v1/channels.pb.h"

namespace orch::rpc {

/// Most messages one Recv may take, and one Subscribe batch may carry.
inline constexpr std::uint32_t kMaxRecvMessages = 1000;
/// Payload bytes one Recv answer carries at most (beyond its first message): gRPC clients
/// accept 4 MiB per message by default.
inline constexpr std::size_t kMaxRecvBytes = 4 * 1024 * 1024 - 64 * 1024;
/// Ack deadline when a request leaves it at zero.
inline constexpr Duration kDefaultAckDeadline = std::chrono::seconds(30);

/// UNSPECIFIED -> nullopt; an unknown number -> INVALID_ARGUMENT naming `path`.
engine::Result<std::optional<channels::ChannelKind>> kind_from_proto(v1::ChannelKind kind,
                                                                     std::string_view path);
v1::ChannelKind kind_to_proto(channels::ChannelKind kind);

engine::Result<channels::ChannelSpec> channel_spec_from_proto(
    const v1::CreateChannelRequest& request);
engine::Result<channels::SendOptions> send_options_from_proto(const v1::SendRequest& request,
                                                              const config::Limits& limits);
engine::Result<channels::RecvOptions> recv_options_from_proto(const v1::RecvRequest& request,
                                                              const config::Limits& limits);
engine::Result<channels::SubscribeOptions> subscribe_options_from_proto(
    const v1::SubscribeRequest& request, const config::Limits& limits);

void info_to_proto(const channels::ChannelInfo& info, v1::ChannelInfo& out);
void message_to_proto(const channels::Message& message, v1::ChannelMessage& out);
/// Makes `out` a batch event of `messages`, reusing what `out` already holds: the
/// ChannelMessages, payload buffers and timestamps of an earlier batch are overwritten, not
/// allocated again (a Subscribe stream reuses its event buffers from one write to the next).
void batch_to_proto(const std::vector<channels::Message>& messages, v1::ChannelEvent& out);
void value_to_proto(const channels::WatchValue& value, v1::WatchValue& out);

}  // namespace orch::rpc
