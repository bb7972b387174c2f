// ChannelService requests at the API edge: every refusal names the field; defaults follow
// channels.proto.
#include "orch/rpc/channel_convert.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

using namespace std::chrono_literals;

namespace orch::rpc {
namespace {

using engine::ErrorCode;
using google::protobuf::util::TimeUtil;

template <typename T>
std::string refusal(const engine::Result<T>& result) {
  EXPECT_FALSE(result.has_value());
  if (result) return "accepted";
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  return result.error().message;
}

TEST(ChannelConvert, CreateNeedsAKind) {
  v1::CreateChannelRequest request;
  request.set_name("jobs");
  EXPECT_EQ(refusal(channel_spec_from_proto(request)),
            "kind: required: CHANNEL_KIND_MPSC, CHANNEL_KIND_BROADCAST or CHANNEL_KIND_WATCH");
  request.set_kind(static_cast<v1::ChannelKind>(42));
  EXPECT_EQ(refusal(channel_spec_from_proto(request)), "kind: unknown channel kind 42");
  request.set_kind(v1::CHANNEL_KIND_BROADCAST);
  request.set_capacity(8);
  auto spec = channel_spec_from_proto(request);
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->kind, channels::ChannelKind::kBroadcast);
  EXPECT_EQ(spec->capacity, 8u);
}

TEST(ChannelConvert, SendNeedsPayloadsWithinTheBatchLimitAndABoundedTimeout) {
  config::Limits limits;
  limits.max_batch = 2;
  limits.max_duration = 1h;
  v1::SendRequest request;
  EXPECT_EQ(refusal(send_options_from_proto(request, limits)), "payloads: must not be empty");
  for (int i = 0; i < 3; ++i) request.add_payloads("x");
  EXPECT_EQ(refusal(send_options_from_proto(request, limits)),
            "payloads: more than 2 messages (limits.max_batch)");
  request.mutable_payloads()->RemoveLast();
  *request.mutable_timeout() = TimeUtil::SecondsToDuration(7200);
  EXPECT_EQ(refusal(send_options_from_proto(request, limits)),
            "timeout: must be at most 1h (limits.max_duration)");
  *request.mutable_timeout() = TimeUtil::SecondsToDuration(0);
  auto options = send_options_from_proto(request, limits);
  ASSERT_TRUE(options);
  EXPECT_FALSE(options->timeout.has_value()) << "zero waits without limit";
}

TEST(ChannelConvert, RecvDefaultsToOneMessageAtMostOnceAndAThirtySecondAckDeadline) {
  config::Limits limits;
  v1::RecvRequest request;
  auto options = recv_options_from_proto(request, limits);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->max_messages, 1u);
  EXPECT_EQ(options->mode, channels::DeliveryMode::kAtMostOnce);
  EXPECT_EQ(options->ack_deadline, 30s);
  EXPECT_FALSE(options->timeout.has_value());

  request.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
  *request.mutable_ack_deadline() = TimeUtil::MillisecondsToDuration(1500);
  options = recv_options_from_proto(request, limits);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->mode, channels::DeliveryMode::kAtLeastOnce);
  EXPECT_EQ(options->ack_deadline, 1500ms);

  request.set_max_messages(1001);
  EXPECT_EQ(refusal(recv_options_from_proto(request, limits)),
            "max_messages: must be at most 1000");
  request.set_max_messages(10);
  request.set_mode(static_cast<v1::DeliveryMode>(9));
  EXPECT_EQ(refusal(recv_options_from_proto(request, limits)), "mode: unknown delivery mode 9");
  request.set_mode(v1::DELIVERY_MODE_AT_LEAST_ONCE);
  *request.mutable_ack_deadline() = TimeUtil::SecondsToDuration(-1);
  EXPECT_EQ(refusal(recv_options_from_proto(request, limits)),
            "ack_deadline: must not be negative");
}

TEST(ChannelConvert, InfoCarriesEveryField) {
  channels::ChannelInfo info;
  info.name = "config";
  info.kind = channels::ChannelKind::kWatch;
  info.version = 4;
  info.messages_sent = 3;
  info.closed = true;
  info.subscribers = 2;
  info.created = engine::Clock::now();
  v1::ChannelInfo out;
  info_to_proto(info, out);
  EXPECT_EQ(out.name(), "config");
  EXPECT_EQ(out.kind(), v1::CHANNEL_KIND_WATCH);
  EXPECT_EQ(out.version(), 4u);
  EXPECT_EQ(out.messages_sent(), 3u);
  EXPECT_TRUE(out.closed());
  EXPECT_EQ(out.subscribers(), 2u);
  EXPECT_TRUE(out.has_created_at());
}

channels::Message message_of(std::string payload, std::uint64_t sequence, std::string delivery_id,
                             std::uint32_t count, engine::TimePoint sent_at) {
  channels::Message m;
  m.payload = std::move(payload);
  m.sequence = sequence;
  m.delivery_id = std::move(delivery_id);
  m.delivery_count = count;
  m.sent_at = sent_at;
  return m;
}

TEST(ChannelConvert, ABatchRefilledIntoAReusedEventEqualsOneBuiltFresh) {
  const auto t0 = engine::Clock::now();
  const std::vector<channels::Message> first{
      message_of("a long first payload, longer than any small-string buffer", 1, "7-1", 2, t0),
      message_of("b", 2, "7-2", 1, t0 + 1s), message_of("c", 3, "7-3", 1, t0 + 2s)};
  const std::vector<channels::Message> second{message_of("x", 4, "", 1, t0 + 3s),
                                              message_of("", 5, "", 3, t0 + 4s)};
  const std::vector<channels::Message> third{
      message_of("p", 6, "", 1, t0 + 5s), message_of("q", 7, "", 1, t0 + 5s),
      message_of("r", 8, "", 1, t0 + 5s), message_of("s", 9, "", 1, t0 + 6s)};

  v1::ChannelEvent reused;
  reused.mutable_lagged()->set_skipped(3);  // another kind of event was in the buffer
  for (const auto* batch : {&first, &second, &third}) {
    batch_to_proto(*batch, reused);
    v1::ChannelEvent fresh;
    for (const auto& m : *batch) message_to_proto(m, *fresh.mutable_batch()->add_messages());
    EXPECT_EQ(reused.SerializeAsString(), fresh.SerializeAsString());
    EXPECT_EQ(reused.DebugString(), fresh.DebugString());
  }
  // The timestamps are those TimeUtil gives.
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(reused.batch().messages(3).sent_at()),
            std::chrono::duration_cast<std::chrono::nanoseconds>(
                engine::Clock::to_system(t0 + 6s).time_since_epoch())
                .count());
}

}  // namespace
}  // namespace orch::rpc
