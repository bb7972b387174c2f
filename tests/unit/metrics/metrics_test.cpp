#include "orch/metrics/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

namespace orch::metrics {
namespace {

/// The value of the sample written exactly as `series` ("name{labels}"), or nullopt.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(MetricLabels, RoundTripEveryValue) {
  for (std::size_t i = 0; i < kKindLabelCount; ++i) {
    const auto kind = static_cast<KindLabel>(i);
    EXPECT_EQ(parse_kind_label(label_value(kind)), kind);
  }
  for (std::size_t i = 0; i < kOutcomeLabelCount; ++i) {
    const auto outcome = static_cast<OutcomeLabel>(i);
    EXPECT_EQ(parse_outcome_label(label_value(outcome)), outcome);
  }
  for (std::size_t i = 0; i < kRejectLabelCount; ++i) {
    const auto reason = static_cast<RejectLabel>(i);
    EXPECT_EQ(parse_reject_label(label_value(reason)), reason);
  }
  EXPECT_EQ(label_value(KindLabel::kSequence), "sequence");
  EXPECT_EQ(label_value(OutcomeLabel::kTimedOut), "timed_out");
  EXPECT_EQ(parse_kind_label("Sleep"), std::nullopt);
  EXPECT_EQ(parse_outcome_label(""), std::nullopt);
}

TEST(MetricLabels, NameEveryGrpcCodeAndFoldOthersIntoUnknown) {
  EXPECT_EQ(grpc_code_name(0), "OK");
  EXPECT_EQ(grpc_code_name(5), "NOT_FOUND");
  EXPECT_EQ(grpc_code_name(16), "UNAUTHENTICATED");
  EXPECT_EQ(grpc_code_name(17), "UNKNOWN");
  EXPECT_EQ(grpc_code_name(-1), "UNKNOWN");
}

TEST(Metrics, AddTenantIsIdempotent) {
  Metrics metrics;
  TenantMetrics& first = metrics.add_tenant("acme");
  TenantMetrics& second = metrics.add_tenant("acme");
  EXPECT_EQ(&first, &second);
  EXPECT_NE(&first, &metrics.add_tenant("globex"));
  EXPECT_THROW(metrics.add_tenant(""), std::invalid_argument);
}

TEST(Metrics, AddTenantPreCreatesEveryKindOutcomeAndReason) {
  Metrics metrics;
  metrics.add_tenant("acme");
  const std::string text = metrics.serialize();
  for (std::size_t k = 0; k < kKindLabelCount; ++k) {
    const std::string kind(label_value(static_cast<KindLabel>(k)));
    EXPECT_EQ(sample(text, "orch_tasks_spawned_total{kind=\"" + kind + "\",tenant=\"acme\"}"), 0)
        << kind;
    for (std::size_t o = 0; o < kOutcomeLabelCount; ++o) {
      const std::string outcome(label_value(static_cast<OutcomeLabel>(o)));
      EXPECT_EQ(sample(text, "orch_tasks_finished_total{kind=\"" + kind + "\",outcome=\"" +
                                 outcome + "\",tenant=\"acme\"}"),
                0)
          << kind << " " << outcome;
    }
  }
  for (const char* reason : {"invalid", "quota", "unavailable", "permission"}) {
    EXPECT_EQ(sample(text, std::string("orch_tasks_rejected_total{reason=\"") + reason +
                               "\",tenant=\"acme\"}"),
              0)
        << reason;
  }
  for (const char* gauge :
       {"orch_tasks_running", "orch_tasks_pending", "orch_semaphore_permits_in_use",
        "orch_semaphore_permits", "orch_semaphore_waiters"}) {
    EXPECT_EQ(sample(text, std::string(gauge) + "{tenant=\"acme\"}"), 0) << gauge;
  }
  EXPECT_EQ(sample(text, "orch_semaphore_wait_seconds_count{tenant=\"acme\"}"), 0);
}

TEST(Metrics, TenantHandlesChangeTheirOwnSeriesOnly) {
  Metrics metrics;
  TenantMetrics& acme = metrics.add_tenant("acme");
  metrics.add_tenant("globex");
  acme.spawned(KindLabel::kHttp).Increment();
  acme.spawned(KindLabel::kHttp).Increment();
  acme.finished(KindLabel::kExec, OutcomeLabel::kTimedOut).Increment();
  acme.rejected(RejectLabel::kQuota).Increment();
  acme.rejected("permission").Increment(3);
  acme.tasks_running.Set(4);
  acme.permits_limit.Set(8);
  acme.permit_wait.Observe(0.002);

  const std::string text = metrics.serialize();
  EXPECT_EQ(sample(text, R"(orch_tasks_spawned_total{kind="http",tenant="acme"})"), 2);
  EXPECT_EQ(sample(text, R"(orch_tasks_spawned_total{kind="http",tenant="globex"})"), 0);
  EXPECT_EQ(
      sample(text, R"(orch_tasks_finished_total{kind="exec",outcome="timed_out",tenant="acme"})"),
      1);
  EXPECT_EQ(
      sample(text, R"(orch_tasks_finished_total{kind="exec",outcome="failed",tenant="acme"})"), 0);
  EXPECT_EQ(sample(text, R"(orch_tasks_rejected_total{reason="quota",tenant="acme"})"), 1);
  EXPECT_EQ(sample(text, R"(orch_tasks_rejected_total{reason="permission",tenant="acme"})"), 3);
  EXPECT_EQ(sample(text, R"(orch_tasks_running{tenant="acme"})"), 4);
  EXPECT_EQ(sample(text, R"(orch_semaphore_permits{tenant="acme"})"), 8);
  EXPECT_EQ(sample(text, R"(orch_semaphore_wait_seconds_count{tenant="acme"})"), 1);
  EXPECT_EQ(sample(text, R"(orch_semaphore_wait_seconds_bucket{tenant="acme",le="0.005"})"), 1);
  EXPECT_EQ(sample(text, R"(orch_semaphore_wait_seconds_bucket{tenant="acme",le="0.001"})"), 0);
}

TEST(Metrics, RejectedByAnUnknownReasonIsAProgrammingError) {
  Metrics metrics;
  TenantMetrics& acme = metrics.add_tenant("acme");
  EXPECT_THROW(acme.rejected("bored"), std::invalid_argument);
}

TEST(Metrics, TaskDurationHasOneHistogramPerKindFromAMillisecondToAnHour) {
  Metrics metrics;
  metrics.task_duration(KindLabel::kSleep).Observe(0.5);
  const std::string text = metrics.serialize();
  EXPECT_EQ(sample(text, R"(orch_task_duration_seconds_count{kind="sleep"})"), 1);
  EXPECT_EQ(sample(text, R"(orch_task_duration_seconds_count{kind="sequence"})"), 0);
  EXPECT_EQ(sample(text, R"(orch_task_duration_seconds_bucket{kind="sleep",le="0.001"})"), 0);
  EXPECT_EQ(sample(text, R"(orch_task_duration_seconds_bucket{kind="sleep",le="3600"})"), 1);
  EXPECT_TRUE(sample(text, R"(orch_task_duration_seconds_bucket{kind="sleep",le="+Inf"})"));
}

TEST(Metrics, ObserveRpcCountsByMethodAndCodeName) {
  Metrics metrics;
  metrics.add_rpc_method("Tasks/Spawn");
  metrics.add_rpc_method("Tasks/Spawn");  // idempotent
  metrics.observe_rpc("Tasks/Spawn", 0, 0.001);
  metrics.observe_rpc("Tasks/Spawn", 5, 0.002);
  metrics.observe_rpc("Tasks/Spawn", 5, 0.003);
  metrics.observe_rpc("Tasks/Spawn", 99, 0.003);

  const std::string text = metrics.serialize();
  EXPECT_EQ(sample(text, R"(orch_grpc_requests_total{code="OK",method="Tasks/Spawn"})"), 1);
  EXPECT_EQ(sample(text, R"(orch_grpc_requests_total{code="NOT_FOUND",method="Tasks/Spawn"})"), 2);
  EXPECT_EQ(sample(text, R"(orch_grpc_requests_total{code="UNKNOWN",method="Tasks/Spawn"})"), 1);
  EXPECT_EQ(
      sample(text, R"(orch_grpc_requests_total{code="UNAUTHENTICATED",method="Tasks/Spawn"})"), 0);
  EXPECT_EQ(sample(text, R"(orch_grpc_request_duration_seconds_count{method="Tasks/Spawn"})"), 4);
}

TEST(Metrics, ObserveRpcOfAnUnregisteredMethodCountsAsUnknownWithoutNewSeries) {
  Metrics metrics;
  metrics.observe_rpc("Evil/RandomName", 12, 0.001);
  const std::string text = metrics.serialize();
  EXPECT_FALSE(contains(text, "Evil/RandomName"));
  EXPECT_EQ(sample(text, R"(orch_grpc_requests_total{code="UNIMPLEMENTED",method="unknown"})"), 1);
}

TEST(Metrics, ObserveRpcIsSafeWhileMethodsAreAdded) {
  Metrics metrics;
  metrics.add_rpc_method("Tasks/Get");
  constexpr int kCalls = 20000;
  std::thread observer([&] {
    for (int i = 0; i < kCalls; ++i) metrics.observe_rpc("Tasks/Get", 0, 0.0001);
  });
  for (int i = 0; i < 50; ++i) metrics.add_rpc_method("Svc/M" + std::to_string(i));
  observer.join();
  EXPECT_EQ(
      sample(metrics.serialize(), R"(orch_grpc_requests_total{code="OK",method="Tasks/Get"})"),
      kCalls);
}

TEST(Metrics, RegistryAcceptsFamiliesOfLaterComponents) {
  Metrics metrics;
  prometheus::BuildCounter()
      .Name("orch_channel_messages_total")
      .Help("Messages sent on channels.")
      .Register(*metrics.registry())
      .Add({})
      .Increment(7);
  EXPECT_EQ(sample(metrics.serialize(), "orch_channel_messages_total"), 7);
}

TEST(Metrics, SerializeRunsScrapeHooksBeforeReadingValues) {
  Metrics metrics;
  TenantMetrics& acme = metrics.add_tenant("acme");
  int scrapes = 0;
  metrics.on_scrape([&] { acme.tasks_running.Set(++scrapes); });
  EXPECT_EQ(sample(metrics.serialize(), R"(orch_tasks_running{tenant="acme"})"), 1);
  EXPECT_EQ(sample(metrics.serialize(), R"(orch_tasks_running{tenant="acme"})"), 2);
}

TEST(Metrics, SerializeIncludesBuildInfoAndProcessMetrics) {
  Metrics metrics;
  const std::string text = metrics.serialize();
  EXPECT_TRUE(contains(text, "orch_build_info{version=\"")) << text;

  const std::optional<double> rss = sample(text, "process_resident_memory_bytes");
  ASSERT_TRUE(rss);
  EXPECT_GT(*rss, 1024 * 1024);
  const std::optional<double> vsize = sample(text, "process_virtual_memory_bytes");
  ASSERT_TRUE(vsize);
  EXPECT_GE(*vsize, *rss);
  EXPECT_TRUE(sample(text, "process_cpu_seconds_total"));
  const std::optional<double> open_fds = sample(text, "process_open_fds");
  ASSERT_TRUE(open_fds);
  EXPECT_GE(*open_fds, 3);  // stdin, stdout, stderr
  const std::optional<double> max_fds = sample(text, "process_max_fds");
  ASSERT_TRUE(max_fds);
  EXPECT_GE(*max_fds, *open_fds);
  const std::optional<double> threads = sample(text, "process_threads");
  ASSERT_TRUE(threads);
  EXPECT_GE(*threads, 1);

  // Started during the last day, not in the future (a minute of slack for clock granularity).
  const std::optional<double> start = sample(text, "process_start_time_seconds");
  ASSERT_TRUE(start);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(*start, now + 60);
  EXPECT_GE(*start, now - 86400);
}

TEST(Metrics, EveryFamilyHasHelpText) {
  Metrics metrics;
  metrics.add_tenant("acme");
  metrics.add_rpc_method("Tasks/Spawn");
  std::istringstream in(metrics.serialize());
  std::set<std::string> typed;
  std::set<std::string> helped;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string hash, keyword, name, rest;
    words >> hash >> keyword >> name;
    if (hash != "#") continue;
    if (keyword == "TYPE") typed.insert(name);
    if (keyword == "HELP" && std::getline(words, rest) && rest.size() > 1) helped.insert(name);
  }
  EXPECT_GE(typed.size(), 20u);
  EXPECT_EQ(typed, helped);
}

}  // namespace
}  // namespace orch::metrics
