// Validation of send and recv nodes at the API edge: refusals name the field and the reason;
// whether the channel exists is left to run time.
#include <gtest/gtest.h>

#include "orch/rpc/convert.h"

namespace orch::rpc {
namespace {

using engine::ErrorCode;

class ChannelNodeValidation : public ::testing::Test {
 protected:
  ChannelNodeValidation() {
    tenant_.name = "alpha";
    tenant_.max_message_bytes = 8;
  }

  engine::Result<engine::Node> convert(const v1::TaskSpec& spec) {
    return node_from_proto(spec, SpecPolicy{limits_, tenant_});
  }

  std::pair<ErrorCode, std::string> refusal(const v1::TaskSpec& spec) {
    auto result = convert(spec);
    EXPECT_FALSE(result.has_value());
    if (result) return {ErrorCode::kInternal, "accepted"};
    return {result.error().code, result.error().message};
  }

  static v1::TaskSpec send(std::string channel, std::string payload) {
    v1::TaskSpec spec;
    spec.mutable_send()->set_channel(std::move(channel));
    spec.mutable_send()->set_payload(std::move(payload));
    return spec;
  }
  static v1::TaskSpec recv(std::string channel) {
    v1::TaskSpec spec;
    spec.mutable_recv()->set_channel(std::move(channel));
    return spec;
  }

  config::Limits limits_;
  config::TenantConfig tenant_;
};

TEST_F(ChannelNodeValidation, AcceptsSendAndRecvAndConvertsThemBackUnchanged) {
  v1::TaskSpec spec;
  auto* select = spec.mutable_select();
  *select->add_children() = recv("jobs/eu-1:high");
  *select->add_children() = send("done", std::string("\0bin", 4));
  auto node = convert(spec);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  ASSERT_EQ(node->children.size(), 2u);
  EXPECT_EQ(node->children[0].kind, engine::NodeKind::kRecv);
  EXPECT_EQ(std::get<engine::ChannelOpSpec>(node->children[0].work).channel, "jobs/eu-1:high");
  EXPECT_EQ(node->children[1].kind, engine::NodeKind::kSend);
  EXPECT_EQ(std::get<engine::ChannelOpSpec>(node->children[1].work).payload, std::string("\0bin", 4));
  v1::TaskSpec round_trip;
  node_to_proto(*node, round_trip);
  EXPECT_EQ(round_trip.SerializeAsString(), spec.SerializeAsString());
}

TEST_F(ChannelNodeValidation, RefusesBadChannelNamesNamingTheField) {
  EXPECT_EQ(refusal(recv("")), std::make_pair(ErrorCode::kInvalidArgument,
                                              std::string("spec.recv.channel: must not be empty")));
  EXPECT_EQ(refusal(send("has space", "x")).second,
            "spec.send.channel: must be 1 to 128 characters from A-Z, a-z, 0-9 and . _ - : /");
  EXPECT_EQ(refusal(recv(std::string(129, 'a'))).first, ErrorCode::kInvalidArgument);
  v1::TaskSpec deep;
  *deep.mutable_sequence()->add_children() = recv("ok");
  *deep.mutable_sequence()->add_children() = send("", "x");
  EXPECT_EQ(refusal(deep).second, "spec.sequence.children[1].send.channel: must not be empty");
}

TEST_F(ChannelNodeValidation, RefusesAPayloadOverTheTenantsMessageSize) {
  ASSERT_TRUE(convert(send("jobs", "12345678")).has_value());
  EXPECT_EQ(refusal(send("jobs", "123456789")),
            std::make_pair(ErrorCode::kInvalidArgument,
                           std::string("spec.send.payload: 9 bytes, more than 8 (tenant "
                                       "max_message_bytes)")));
}

TEST_F(ChannelNodeValidation, KindsOutsideTheTenantsAllowanceArePermissionDenied) {
  tenant_.allowed_kinds = {"sleep", "send"};
  EXPECT_TRUE(convert(send("jobs", "x")).has_value());
  auto [code, message] = refusal(recv("jobs"));
  EXPECT_EQ(code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(message, "spec.recv: tenant alpha may not use node kind 'recv' (allowed_kinds: sleep, send)");
}

}  // namespace
}  // namespace orch::rpc
