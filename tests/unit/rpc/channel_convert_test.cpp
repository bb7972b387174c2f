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

}  // namespace
}  // namespace orch::rpc
