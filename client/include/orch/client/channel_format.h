#pragma once
/// How orchctl prints channels (orchctl chan ...) as text; JSON uses to_json (format.h).
///
/// Payloads are bytes: a line shows them quoted as format.h's quote() does ("a\nb" stays on
/// one line), so each message or event is exactly one line.
///
/// Thread-safety: pure functions.

#include <google/protobuf/repeated_ptr_field.h>

#include <string>

#include "orch/v1/channels.pb.h"

namespace orch::client {

/// "mpsc", "broadcast", "watch" ("unspecified" for 0).
std::string channel_kind_name(orch::v1::ChannelKind kind);

/// A channel as `field: value` lines, each ending in '\n':
///
///   name: jobs
///   kind: mpsc
///   capacity: 100
///   depth: 3
///   in_flight: 0
///   senders: 0
///   receivers: 0
///   subscribers: 0
///   state: open                 (or closed)
///   version: 4                  (watch only)
///   messages_sent: 7
///   created: 2024-05-01T12:00:00.250Z
std::string format_channel(const orch::v1::ChannelInfo& info);

/// `chan ls`: one line per channel, columns separated by two spaces, no header:
///   NAME  KIND  CAPACITY  DEPTH  SUBSCRIBERS  STATE
std::string format_channel_table(
    const google::protobuf::RepeatedPtrField<orch::v1::ChannelInfo>& channels);

/// One message: `message seq=S delivery=C "PAYLOAD"`, with ` id=ID` before the payload when it
/// has a delivery id (at-least-once). No trailing newline.
std::string format_channel_message(const orch::v1::ChannelMessage& message);

/// A watch value: `value version=V "VALUE"`. No trailing newline.
std::string format_watch_value(const orch::v1::WatchValue& value);

/// One Subscribe event: a message or value line as above, `lagged skipped=N`, or `closed`; a
/// batch event gives one message line per message (joined by newlines, no trailing one).
/// No trailing newline.
std::string format_channel_event(const orch::v1::ChannelEvent& event);

}  // namespace orch::client
