// orchctl chan's text forms: one line per message or event, payloads quoted.
#include "orch/client/channel_format.h"

#include <gtest/gtest.h>

namespace orch::client {
namespace {

TEST(ChannelFormat, AMessageIsOneLineWithItsPayloadQuoted) {
  orch::v1::ChannelMessage message;
  message.set_sequence(3);
  message.set_delivery_count(1);
  message.set_payload("two\nlines \"quoted\"");
  EXPECT_EQ(format_channel_message(message), R"(message seq=3 delivery=1 "two\nlines \"quoted\"")");
  message.set_delivery_id("7-2");
  message.set_delivery_count(2);
  message.set_payload("x");
  EXPECT_EQ(format_channel_message(message), R"(message seq=3 delivery=2 id=7-2 "x")");
}

TEST(ChannelFormat, EventsPrintAsMessageValueLaggedOrClosed) {
  orch::v1::ChannelEvent event;
  event.mutable_lagged()->set_skipped(4);
  EXPECT_EQ(format_channel_event(event), "lagged skipped=4");
  event.mutable_value()->set_version(2);
  event.mutable_value()->set_value("v2");
  EXPECT_EQ(format_channel_event(event), R"(value version=2 "v2")");
  event.mutable_closed();
  EXPECT_EQ(format_channel_event(event), "closed");
}

TEST(ChannelFormat, ABatchEventIsOneMessageLinePerMessage) {
  orch::v1::ChannelEvent event;
  auto* a = event.mutable_batch()->add_messages();
  a->set_sequence(7);
  a->set_delivery_count(1);
  a->set_payload("a");
  auto* b = event.mutable_batch()->add_messages();
  b->set_sequence(8);
  b->set_delivery_count(2);
  b->set_delivery_id("1-9");
  b->set_payload("b");
  EXPECT_EQ(format_channel_event(event),
            "message seq=7 delivery=1 \"a\"\nmessage seq=8 delivery=2 id=1-9 \"b\"");
}

TEST(ChannelFormat, AChannelIsFieldLinesAndATableRow) {
  orch::v1::ChannelInfo info;
  info.set_name("config");
  info.set_kind(orch::v1::CHANNEL_KIND_WATCH);
  info.set_version(5);
  info.set_closed(true);
  EXPECT_EQ(format_channel(info),
            "name: config\nkind: watch\ncapacity: 0\ndepth: 0\nin_flight: 0\nsenders: 0\n"
            "receivers: 0\nsubscribers: 0\nstate: closed\nversion: 5\nmessages_sent: 0\n"
            "created: -\n");
  google::protobuf::RepeatedPtrField<orch::v1::ChannelInfo> table;
  *table.Add() = info;
  EXPECT_EQ(format_channel_table(table), "config  watch  0  0  0  closed\n");
}

}  // namespace
}  // namespace orch::client
