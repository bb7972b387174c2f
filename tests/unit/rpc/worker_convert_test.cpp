// The worker node at the API edge: queue rules, payload size, durations, retry, round trip.
#include <gtest/gtest.h>

#include "orch/rpc/convert.h"

namespace orch::rpc {
namespace {

using engine::ErrorCode;

class WorkerSpecValidation : public ::testing::Test {
 protected:
  WorkerSpecValidation() {
    limits_.max_duration = std::chrono::hours(1);
    tenant_.name = "alpha";
    tenant_.max_message_bytes = 16;
  }
  engine::Result<engine::Node> convert(const v1::TaskSpec& spec) {
    return node_from_proto(spec, SpecPolicy{limits_, tenant_});
  }
  std::string refusal(const v1::TaskSpec& spec) {
    auto result = convert(spec);
    EXPECT_FALSE(result.has_value());
    if (result) return "accepted";
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    return result.error().message;
  }
  static v1::TaskSpec worker(std::string queue, std::string payload = "p") {
    v1::TaskSpec spec;
    spec.mutable_worker()->set_queue(std::move(queue));
    spec.mutable_worker()->set_payload(std::move(payload));
    return spec;
  }
  config::Limits limits_;
  config::TenantConfig tenant_;
};

TEST_F(WorkerSpecValidation, AcceptsAWorkerNodeAndRoundTripsIt) {
  auto spec = worker("images/resize", "payload");
  spec.mutable_worker()->mutable_schedule_to_start()->set_seconds(5);
  spec.mutable_worker()->mutable_start_to_close()->set_seconds(60);
  spec.mutable_worker()->mutable_heartbeat()->set_nanos(500'000'000);
  spec.mutable_retry()->set_max_attempts(3);
  spec.mutable_retry()->add_non_retryable_errors("worker_error");
  auto node = convert(spec);
  ASSERT_TRUE(node.has_value()) << node.error().message;
  EXPECT_EQ(node->kind, engine::NodeKind::kWorker);
  const auto& w = std::get<engine::WorkerSpec>(node->work);
  EXPECT_EQ(w.queue, "images/resize");
  EXPECT_EQ(w.payload, "payload");
  EXPECT_EQ(w.schedule_to_start, std::optional<Duration>(std::chrono::seconds(5)));
  EXPECT_EQ(w.start_to_close, std::optional<Duration>(std::chrono::seconds(60)));
  EXPECT_EQ(w.heartbeat, std::optional<Duration>(std::chrono::milliseconds(500)));
  EXPECT_EQ(node->retry.max_attempts, 3u);
  ASSERT_EQ(node->retry.non_retryable_errors.size(), 1u);

  v1::TaskSpec back;
  node_to_proto(*node, back);
  EXPECT_EQ(back.worker().SerializeAsString(), spec.worker().SerializeAsString());
  EXPECT_EQ(back.retry().max_attempts(), 3u);
}

TEST_F(WorkerSpecValidation, ZeroDurationsMeanNoLimit) {
  auto spec = worker("q");
  spec.mutable_worker()->mutable_heartbeat();
  auto node = convert(spec);
  ASSERT_TRUE(node.has_value());
  EXPECT_FALSE(std::get<engine::WorkerSpec>(node->work).heartbeat);
}

TEST_F(WorkerSpecValidation, RefusesBadQueuesPayloadsAndDurationsNamingTheField) {
  EXPECT_EQ(refusal(worker("")), "spec.worker.queue: must not be empty");
  EXPECT_EQ(refusal(worker("two words")),
            "spec.worker.queue: may only contain letters, digits and . _ : / -");
  EXPECT_EQ(refusal(worker("q", std::string(17, 'x'))),
            "spec.worker.payload: 17 bytes is more than 16 (max_message_bytes)");
  auto negative = worker("q");
  negative.mutable_worker()->mutable_start_to_close()->set_seconds(-1);
  EXPECT_EQ(refusal(negative), "spec.worker.start_to_close: must not be negative");
  auto huge = worker("q");
  huge.mutable_worker()->mutable_schedule_to_start()->set_seconds(7200);
  EXPECT_EQ(refusal(huge).rfind("spec.worker.schedule_to_start: must be at most 1h", 0), 0u);
  auto retry = worker("q");
  retry.mutable_retry()->add_non_retryable_errors("bad_input");
  EXPECT_EQ(refusal(retry).rfind("spec.retry.non_retryable_errors[0]: unknown failure reason", 0), 0u);
}

TEST_F(WorkerSpecValidation, IsPermissionDeniedWhenTheTenantMayNotUseWorkers) {
  tenant_.allowed_kinds = {"sleep"};
  auto result = convert(worker("q"));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kPermissionDenied);
}

}  // namespace
}  // namespace orch::rpc
