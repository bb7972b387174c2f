// Spec validation at the API edge: every refusal names the field path and the reason.
#include "orch/rpc/convert.h"

#include <gtest/gtest.h>

#include "orch/rpc/status.h"

namespace orch::rpc {
namespace {

using engine::ErrorCode;

class SpecValidation : public ::testing::Test {
 protected:
  SpecValidation() {
    limits_.max_spec_depth = 4;
    limits_.max_spec_nodes = 10;
    limits_.max_duration = std::chrono::hours(1);
    tenant_.name = "alpha";
  }

  engine::Result<engine::Node> convert(const v1::TaskSpec& spec) {
    return node_from_proto(spec, SpecPolicy{limits_, tenant_});
  }

  // The error's code and message, for one-line assertions.
  std::pair<ErrorCode, std::string> refusal(const v1::TaskSpec& spec) {
    auto result = convert(spec);
    EXPECT_FALSE(result.has_value());
    if (result) return {ErrorCode::kInternal, "accepted"};
    return {result.error().code, result.error().message};
  }

  static v1::TaskSpec sleep_spec(std::int64_t seconds, std::int32_t nanos = 0) {
    v1::TaskSpec spec;
    spec.mutable_sleep()->mutable_duration()->set_seconds(seconds);
    spec.mutable_sleep()->mutable_duration()->set_nanos(nanos);
    return spec;
  }

  config::Limits limits_;
  config::TenantConfig tenant_;
};

TEST_F(SpecValidation, AcceptsAWellFormedTree) {
  v1::TaskSpec spec;
  auto* select = spec.mutable_select();
  auto* timeout = select->add_children()->mutable_timeout();
  timeout->mutable_duration()->set_seconds(2);
  *timeout->mutable_child() = sleep_spec(5);
  *select->add_children() = sleep_spec(1);
  auto node = convert(spec);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(node->kind, engine::NodeKind::kSelect);
  EXPECT_EQ(node->children[0].duration, std::chrono::seconds(2));
  EXPECT_EQ(node->children[0].children[0].duration, std::chrono::seconds(5));
  // And back again, unchanged.
  v1::TaskSpec round_trip;
  node_to_proto(*node, round_trip);
  EXPECT_EQ(round_trip.SerializeAsString(), spec.SerializeAsString());
}

TEST_F(SpecValidation, RefusesAnEmptySpec) {
  EXPECT_EQ(refusal(v1::TaskSpec{}).second,
            "spec: no node set; set exactly one of sleep, http, exec, worker, send, recv, join, "
            "select, timeout, sequence");
}

TEST_F(SpecValidation, RefusesCompositesWithoutChildren) {
  v1::TaskSpec join;
  join.mutable_join();
  EXPECT_EQ(refusal(join), std::pair(ErrorCode::kInvalidArgument, std::string("spec.join.children: must not be empty")));
  v1::TaskSpec select;
  select.mutable_select();
  EXPECT_EQ(refusal(select).second, "spec.select.children: must not be empty");
  v1::TaskSpec sequence;
  sequence.mutable_sequence();
  EXPECT_EQ(refusal(sequence).second, "spec.sequence.children: must not be empty");
}

TEST_F(SpecValidation, RefusesATimeoutWithoutChildOrDuration) {
  v1::TaskSpec no_child;
  no_child.mutable_timeout()->mutable_duration()->set_seconds(1);
  EXPECT_EQ(refusal(no_child).second, "spec.timeout.child: required");
  v1::TaskSpec no_duration;
  *no_duration.mutable_timeout()->mutable_child() = sleep_spec(1);
  EXPECT_EQ(refusal(no_duration).second, "spec.timeout.duration: required");
}

TEST_F(SpecValidation, RefusesNegativeAndAbsurdDurationsNamingTheChild) {
  v1::TaskSpec spec;
  *spec.mutable_join()->add_children() = sleep_spec(1);
  *spec.mutable_join()->add_children() = sleep_spec(-1);
  EXPECT_EQ(refusal(spec).second, "spec.join.children[1].sleep.duration: must not be negative");
  EXPECT_EQ(refusal(sleep_spec(7200)).second,
            "spec.sleep.duration: must be at most 1h (limits.max_duration)");
  EXPECT_EQ(refusal(sleep_spec(1, -5)).second, "spec.sleep.duration: not a valid duration");
  v1::TaskSpec missing;
  missing.mutable_sleep();
  EXPECT_EQ(refusal(missing).second, "spec.sleep.duration: required");
}

TEST_F(SpecValidation, RefusesNestingDeeperThanTheLimit) {
  v1::TaskSpec spec = sleep_spec(1);
  for (int i = 0; i < 4; ++i) {
    v1::TaskSpec outer;
    *outer.mutable_sequence()->add_children() = spec;
    spec = outer;
  }
  auto [code, message] = refusal(spec);
  EXPECT_EQ(code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(message,
            "spec.sequence.children[0].sequence.children[0].sequence.children[0].sequence.children[0]: "
            "nesting deeper than 4 levels (limits.max_spec_depth)");
}

TEST_F(SpecValidation, RefusesTooManyNodes) {
  v1::TaskSpec spec;
  for (int i = 0; i < 10; ++i) *spec.mutable_join()->add_children() = sleep_spec(1);
  EXPECT_EQ(refusal(spec).second, "spec: more than 10 nodes (limits.max_spec_nodes)");
}

TEST_F(SpecValidation, KindsOutsideTheTenantsAllowanceArePermissionDenied) {
  v1::TaskSpec spec;
  spec.mutable_exec()->add_argv("/bin/true");
  auto [code, message] = refusal(spec);
  EXPECT_EQ(code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(message.rfind("spec.exec: tenant alpha may not use node kind 'exec'", 0), 0u) << message;
  EXPECT_EQ(to_status(convert(spec).error()).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SpecValidation, RefusesOversizedLabels) {
  limits_.max_labels = 1;
  v1::SpawnRequest request;
  *request.mutable_spec() = sleep_spec(1);
  (*request.mutable_labels())["a"] = "1";
  (*request.mutable_labels())["b"] = "2";
  auto args = spawn_args_from_proto(request, SpecPolicy{limits_, tenant_});
  ASSERT_FALSE(args.has_value());
  EXPECT_EQ(args.error().message, "labels: more than 1 labels (limits.max_labels)");
  v1::SpawnRequest no_spec;
  EXPECT_EQ(spawn_args_from_proto(no_spec, SpecPolicy{limits_, tenant_}).error().message, "spec: required");
}

}  // namespace
}  // namespace orch::rpc
