// Spec validation at the API edge: every refusal names the field path and the reason.
#include "orch/rpc/convert.h"

#include <gtest/gtest.h>

#include "orch/engine/clock.h"
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

TEST(FieldPathText, SpellsFieldsAndIndexes) {
  const FieldPath none("");
  EXPECT_EQ(none.str(), "");
  EXPECT_EQ(FieldPath(none, "spec").str(), "spec");
  const FieldPath tasks("tasks");
  const FieldPath third(tasks, std::size_t{3});
  const FieldPath spec(third, "spec");
  EXPECT_EQ(FieldPath(FieldPath(spec, "children"), std::size_t{0}).str(), "tasks[3].spec.children[0]");
}

// A batch item's errors start with its index, down to the deepest node and to its labels.
TEST_F(SpecValidation, PathsUnderABatchItemNameTheItem) {
  const FieldPath tasks("tasks");
  const FieldPath item(tasks, std::size_t{3});
  v1::SpawnRequest request;
  auto* sequence = request.mutable_spec()->mutable_timeout();
  sequence->mutable_duration()->set_seconds(1);
  auto* join = sequence->mutable_child()->mutable_join();
  *join->add_children() = sleep_spec(1);
  *join->add_children() = sleep_spec(-1);
  auto args = spawn_args_from_proto(request, SpecPolicy{limits_, tenant_}, item);
  ASSERT_FALSE(args.has_value());
  EXPECT_EQ(args.error().message, "tasks[3].spec.timeout.child.join.children[1].sleep.duration: must not be negative");

  limits_.max_label_bytes = 4;
  v1::SpawnRequest labelled;
  *labelled.mutable_spec() = sleep_spec(1);
  (*labelled.mutable_labels())["team"] = "far-too-long";
  args = spawn_args_from_proto(labelled, SpecPolicy{limits_, tenant_}, item);
  ASSERT_FALSE(args.has_value());
  EXPECT_EQ(args.error().message,
            "tasks[3].labels[\"team\"]: key or value longer than 4 bytes (limits.max_label_bytes)");
  (*labelled.mutable_labels()).clear();
  labelled.set_name("too long");
  EXPECT_EQ(spawn_args_from_proto(labelled, SpecPolicy{limits_, tenant_}, item).error().message,
            "tasks[3].name: longer than 4 bytes (limits.max_label_bytes)");
  // The same request without a root path: the paths start at the request's own fields.
  EXPECT_EQ(spawn_args_from_proto(labelled, SpecPolicy{limits_, tenant_}).error().message,
            "name: longer than 4 bytes (limits.max_label_bytes)");
}

TEST(TaskView, ReadsTheViewsAndRefusesOthersNamingTheField) {
  EXPECT_EQ(*view_from_proto(v1::TASK_VIEW_UNSPECIFIED, "view"), engine::SnapshotDetail::kFull);
  EXPECT_EQ(*view_from_proto(v1::TASK_VIEW_FULL, "view"), engine::SnapshotDetail::kFull);
  EXPECT_EQ(*view_from_proto(v1::TASK_VIEW_BASIC, "view"), engine::SnapshotDetail::kState);
  auto bad = view_from_proto(42, "view");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "view: unknown value 42 (use TASK_VIEW_BASIC or TASK_VIEW_FULL)");
}

TEST(TaskView, BasicWritesIdStateAndTheFailureOnly) {
  engine::TaskSnapshot task;
  task.id = "1m8a7qj450000";
  task.name = "named";
  task.state = engine::State::kFailed;
  task.created = engine::Clock::now();
  task.finished = task.created;
  engine::NodeResult result;
  result.kind = engine::NodeKind::kJoin;
  result.state = engine::State::kFailed;
  result.error = "child 1 failed";
  result.finished = task.created;
  result.children.resize(2);
  task.result = result;
  task.spec = std::make_shared<const engine::Node>(engine::make_node(engine::NodeKind::kJoin));

  v1::TaskInfo basic;
  task_to_proto(task, engine::SnapshotDetail::kState, basic);
  v1::TaskInfo expected;
  expected.set_id("1m8a7qj450000");
  expected.set_state(v1::TASK_STATE_FAILED);
  expected.mutable_result()->set_state(v1::TASK_STATE_FAILED);
  expected.mutable_result()->set_error("child 1 failed");
  EXPECT_EQ(basic.SerializeAsString(), expected.SerializeAsString()) << basic.DebugString();

  // A task that succeeded (or has not ended) carries no result in the basic view.
  task.state = engine::State::kSucceeded;
  task.result->state = engine::State::kSucceeded;
  task.result->error.clear();
  v1::TaskInfo succeeded;
  task_to_proto(task, engine::SnapshotDetail::kState, succeeded);
  EXPECT_FALSE(succeeded.has_result());
  EXPECT_EQ(succeeded.state(), v1::TASK_STATE_SUCCEEDED);

  // The full view is task_to_proto's.
  v1::TaskInfo full;
  v1::TaskInfo plain;
  task_to_proto(task, engine::SnapshotDetail::kFull, full);
  task_to_proto(task, plain);
  EXPECT_EQ(full.SerializeAsString(), plain.SerializeAsString());
  EXPECT_TRUE(full.has_spec());
  EXPECT_EQ(full.result().join().children_size(), 2);
}

}  // namespace
}  // namespace orch::rpc
