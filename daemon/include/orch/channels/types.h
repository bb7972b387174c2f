#pragma once
/// Plain values of named channels (DESIGN §3): kinds, messages, options and snapshots.
/// Protobuf-free; rpc/ converts them from and to orch.v1 (channels.proto).
///
/// Thread-safety: plain values.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orch/common/duration.h"
#include "orch/engine/clock.h"

namespace orch::channels {

/// What a channel does with a message (Tokio's `sync::mpsc`, `sync::broadcast`, `sync::watch`).
enum class ChannelKind : std::uint8_t {
  /// A bounded FIFO queue; each message goes to exactly one receiver; senders wait while full.
  kMpsc,
  /// A ring of the last `capacity` messages; every subscriber sees every message or is told
  /// how many it lost (lagged); senders never wait.
  kBroadcast,
  /// One value with a version; readers see the latest and may skip intermediate ones.
  kWatch,
};

/// "mpsc", "broadcast", "watch".
std::string_view kind_name(ChannelKind kind) noexcept;

/// How a message taken from an MPSC channel is accounted for.
enum class DeliveryMode : std::uint8_t {
  /// The message leaves the channel once the receiver has it.
  kAtMostOnce,
  /// The message stays in flight, invisible to other receivers, until it is acknowledged; past
  /// its ack deadline it is delivered again (with a higher delivery count).
  kAtLeastOnce,
};

/// A tenant's channel quotas (config: max_channels, max_message_bytes, max_channel_capacity).
struct ChannelQuota {
  std::uint32_t max_channels = 100;
  std::uint64_t max_message_bytes = 1 << 20;
  std::uint32_t max_channel_capacity = 10'000;
};

/// What Create asks for.
struct ChannelSpec {
  std::string name;
  ChannelKind kind = ChannelKind::kMpsc;
  /// MPSC: most messages queued or in flight (>= 1). BROADCAST: messages kept (>= 1).
  /// WATCH: 0.
  std::uint32_t capacity = 0;
  /// WATCH: the value of version 1.
  std::string initial_value;
  /// Return an existing channel of the same name, kind and capacity instead of ALREADY_EXISTS.
  bool if_not_exists = false;
};

/// One message of an MPSC or BROADCAST channel.
struct Message {
  std::string payload;
  /// 1 for the channel's first accepted message, then one more per message.
  std::uint64_t sequence = 0;
  /// AT_LEAST_ONCE deliveries only: what Ack takes.
  std::string delivery_id;
  /// How many times this message was handed out, this delivery included (MPSC).
  std::uint32_t delivery_count = 0;
  engine::TimePoint sent_at{};
};

/// The value of a WATCH channel.
struct WatchValue {
  std::string value;
  /// 1 for the initial value, then one more per value sent.
  std::uint64_t version = 0;
  engine::TimePoint sent_at{};
};

/// A consistent copy of one channel's state.
struct ChannelInfo {
  std::string name;
  ChannelKind kind = ChannelKind::kMpsc;
  std::uint32_t capacity = 0;
  /// MPSC: messages queued or being handed to a receiver; BROADCAST: messages kept for
  /// subscribers that have not read them; WATCH: 0.
  std::uint32_t depth = 0;
  /// MPSC: AT_LEAST_ONCE deliveries not acknowledged yet.
  std::uint32_t in_flight = 0;
  /// Sends waiting for room (MPSC).
  std::uint32_t senders = 0;
  /// Receives waiting for a message (MPSC) or a newer version (WATCH).
  std::uint32_t receivers = 0;
  /// Open subscriptions.
  std::uint32_t subscribers = 0;
  bool closed = false;
  /// WATCH: the current version.
  std::uint64_t version = 0;
  /// Messages accepted since creation (WATCH: values sent after the initial one).
  std::uint64_t messages_sent = 0;
  engine::TimePoint created{};
};

struct SendOptions {
  /// MPSC: longest wait for room; nullopt waits without limit.
  std::optional<Duration> timeout;
  /// MPSC: take what fits now and never wait (`try_send`).
  bool no_wait = false;
};

struct SendOutcome {
  /// Payloads accepted, from the first on.
  std::uint32_t accepted = 0;
  /// MPSC and BROADCAST: the sequence of the first accepted message.
  std::uint64_t first_sequence = 0;
  /// BROADCAST: subscribers when the messages were sent.
  std::uint32_t subscribers = 0;
  /// WATCH: the version now current.
  std::uint64_t version = 0;
};

struct RecvOptions {
  /// Longest wait for a message (MPSC) or a newer version (WATCH); nullopt: no limit.
  std::optional<Duration> timeout;
  /// Never wait (`try_recv`): an empty result when nothing is there.
  bool no_wait = false;
  /// MPSC: take up to this many queued messages once the first is there (>= 1).
  std::uint32_t max_messages = 1;
  /// MPSC: stop adding messages past this many payload bytes (the first is always taken);
  /// 0: no limit. Keeps one answer within what a client accepts.
  std::size_t max_bytes = 0;
  DeliveryMode mode = DeliveryMode::kAtMostOnce;
  /// AT_LEAST_ONCE: how long a delivery stays invisible before it is delivered again.
  Duration ack_deadline = std::chrono::seconds(30);
  /// WATCH: answer once the version is greater than this.
  std::uint64_t after_version = 0;
};

struct SubscribeOptions {
  /// MPSC only.
  DeliveryMode mode = DeliveryMode::kAtMostOnce;
  /// MPSC with AT_LEAST_ONCE.
  Duration ack_deadline = std::chrono::seconds(30);
  /// MPSC with AT_LEAST_ONCE: take no message while this many of the subscription's
  /// deliveries are unacknowledged; 0: no limit but the capacity.
  std::uint32_t max_unacked = 0;
  /// MPSC: take up to this many queued messages per event (a batch); 0: one message per event,
  /// handed out as ChannelEvent::message too (the stream's original form).
  std::uint32_t max_batch = 0;
  /// MPSC with max_batch: stop adding messages to a batch past this many payload bytes (the
  /// first is always taken); 0: no limit.
  std::size_t max_batch_bytes = 0;
};

}  // namespace orch::channels
