// TaskService.Run on the real daemon: spawn and wait in one call, its timeout, the caller going
// away (with and without abort_unfinished), idempotency keys, and the waiting-call limit.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;

v1::RunRequest run_request(const v1::TaskSpec& spec) {
  v1::RunRequest request;
  *request.mutable_task()->mutable_spec() = spec;
  return request;
}

// The tenant's tasks carrying label `run=<tag>`, newest first.
std::vector<v1::TaskInfo> tagged(oc::Client& client, const std::string& tag) {
  v1::ListTasksRequest request;
  (*request.mutable_labels())["run"] = tag;
  v1::ListTasksResponse response;
  const auto status = client.list(request, response, kCallDeadline);
  EXPECT_TRUE(status.ok()) << describe(status);
  return {response.tasks().begin(), response.tasks().end()};
}

// Waits until the tenant has a task labelled `run=<tag>` in `state`; returns its id.
std::string wait_tagged(oc::Client& client, const std::string& tag, v1::TaskState state) {
  for (int attempt = 0; attempt < 400; ++attempt) {
    const auto tasks = tagged(client, tag);
    if (!tasks.empty() && tasks.front().state() == state) return tasks.front().id();
    std::this_thread::sleep_for(25ms);
  }
  ADD_FAILURE() << "no task run=" << tag << " in state " << v1::TaskState_Name(state);
  return {};
}

// A Run started on another thread (gRPC's async stub), cancellable by the test.
class PendingRun {
 public:
  PendingRun(oc::Client& client, v1::RunRequest request)
      : ctx_(client.context(kCallDeadline)), request_(std::move(request)) {
    client.tasks().async()->Run(ctx_.get(), &request_, &response_,
                                [this](grpc::Status s) { done_.set_value(std::move(s)); });
    status_ = done_.get_future();
  }
  ~PendingRun() {
    ctx_->TryCancel();
    status_.wait();
  }
  void cancel() { ctx_->TryCancel(); }
  grpc::Status status() { return status_.get(); }
  const v1::RunResponse& response() const { return response_; }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  v1::RunRequest request_;
  v1::RunResponse response_;
  std::promise<grpc::Status> done_;
  std::shared_future<grpc::Status> status_;
};

TEST(Run, SpawnsAndAnswersWithTheTerminalTask) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto request = run_request(oc::sleep(20ms));
  request.mutable_task()->set_name("quick");
  (*request.mutable_task()->mutable_labels())["run"] = "one";
  v1::RunResponse response;
  const auto status = client.run(request, response, kCallDeadline);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_FALSE(response.existing());
  const auto& task = response.task();
  EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.result().state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.name(), "quick");
  EXPECT_TRUE(task.has_finished_at());
  EXPECT_TRUE(task.spec().has_sleep());
  EXPECT_GE(seconds_between(task.created_at(), task.finished_at()), 0.019);
  // The same task, as Get reads it afterwards.
  EXPECT_EQ(get_task(client, task.id()).state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_TRUE(wait_for_sample(daemon.admin_port(),
                              R"(orch_grpc_requests_total{code="OK",method="TaskService/Run"})", 1));
}

// A sleep of 0 ends inside the spawn and its Run is answered at once, on the thread that read
// the request; the task is an ordinary task all the same.
TEST(Run, ASleepOfZeroIsAnsweredSucceededReadableAfterwardsAndCountedOnce) {
  TestConfig config = two_tenants();
  config.limits = {{"max_waiting_rpcs_per_tenant", "1"}};
  DaemonProcess daemon(config);
  auto client = daemon.client(kAlpha);
  constexpr int kRuns = 5;
  std::set<std::string> ids;
  for (int i = 0; i < kRuns; ++i) {
    auto request = run_request(oc::sleep(0ms));
    (*request.mutable_task()->mutable_labels())["run"] = "zero";
    *request.mutable_timeout() = oc::to_proto(10s);
    v1::RunResponse response;
    // One waiting-call slot: each answer has freed it before the next call takes it.
    const auto status = client.run(request, response, kCallDeadline);
    ASSERT_TRUE(status.ok()) << describe(status);
    const auto& task = response.task();
    EXPECT_FALSE(response.existing());
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_EQ(task.result().state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_TRUE(task.has_started_at());
    EXPECT_TRUE(task.has_finished_at());
    EXPECT_TRUE(task.spec().has_sleep());
    EXPECT_EQ(task.labels().at("run"), "zero");
    const auto read = get_task(client, task.id());
    EXPECT_EQ(read.state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_EQ(seconds_between(read.finished_at(), task.finished_at()), 0.0);
    ids.insert(task.id());
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRuns));
  EXPECT_EQ(tagged(client, "zero").size(), static_cast<std::size_t>(kRuns));
  // Counted when they ended, before their answers left: exact now.
  const auto metrics = http_get(daemon.admin_port(), "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(metric_sample(metrics.body, R"(orch_tasks_spawned_total{kind="sleep",tenant="alpha"})"), kRuns);
  EXPECT_EQ(metric_sample(metrics.body,
                          R"(orch_tasks_finished_total{kind="sleep",outcome="succeeded",tenant="alpha"})"),
            kRuns);
  EXPECT_EQ(metric_sample(metrics.body, R"(orch_task_duration_seconds_count{kind="sleep"})"), kRuns);
  EXPECT_EQ(metric_sample(metrics.body, R"(orch_grpc_requests_total{code="OK",method="TaskService/Run"})"),
            kRuns);
}

TEST(Run, ManyCallersRunSleepsOfZeroAtOnceAndEachGetsItsOwnTask) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  constexpr int kThreads = 4;
  constexpr int kRunsEach = 25;
  std::mutex mutex;
  std::set<std::string> ids;
  int failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRunsEach; ++i) {
        v1::RunResponse response;
        const auto status = client.run(run_request(oc::sleep(0ms)), response, kCallDeadline);
        std::lock_guard lock(mutex);
        if (!status.ok() || response.task().state() != v1::TASK_STATE_SUCCEEDED) {
          ++failures;
        } else {
          ids.insert(response.task().id());
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kRunsEach));
  const auto metrics = http_get(daemon.admin_port(), "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(metric_sample(metrics.body,
                          R"(orch_tasks_finished_total{kind="sleep",outcome="succeeded",tenant="alpha"})"),
            kThreads * kRunsEach);
}

TEST(Run, AKeyNamingAFinishedTaskIsAnsweredAtOnceWithThatTask) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto request = run_request(oc::sleep(1ms));
  request.mutable_task()->set_idempotency_key("done-once");
  v1::RunResponse first;
  ASSERT_TRUE(client.run(request, first, kCallDeadline).ok());
  EXPECT_FALSE(first.existing());
  // Terminal already: answered with that task, whatever the call's timeout.
  *request.mutable_timeout() = oc::to_proto(1h);
  v1::RunResponse again;
  const auto status = client.run(request, again, kCallDeadline);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_TRUE(again.existing());
  EXPECT_EQ(again.task().id(), first.task().id());
  EXPECT_EQ(again.task().state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(seconds_between(again.task().finished_at(), first.task().finished_at()), 0.0);
}

TEST(Run, ATaskThatDoesNotSucceedIsAnOkCallCarryingItsOutcome) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  v1::RunResponse response;
  const auto status = client.run(run_request(oc::timeout(20ms, oc::sleep(60s))), response, kCallDeadline);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.task().state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(response.task().result().state(), v1::TASK_STATE_TIMED_OUT);
}

TEST(Run, ABadRequestIsRefusedAndSpawnsNothing) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto bad_spec = run_request(v1::TaskSpec());
  (*bad_spec.mutable_task()->mutable_labels())["run"] = "bad";
  v1::RunResponse response;
  auto status = client.run(bad_spec, response, kCallDeadline);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_TRUE(starts_with(status.error_message(), "task.spec: ")) << describe(status);

  auto bad_timeout = run_request(oc::sleep(1ms));
  (*bad_timeout.mutable_task()->mutable_labels())["run"] = "bad";
  bad_timeout.mutable_timeout()->set_seconds(-1);
  status = client.run(bad_timeout, response, kCallDeadline);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_TRUE(starts_with(status.error_message(), "timeout: ")) << describe(status);

  auto bad_view = run_request(oc::sleep(1ms));
  (*bad_view.mutable_task()->mutable_labels())["run"] = "bad";
  bad_view.set_view(static_cast<v1::TaskView>(7));
  status = client.run(bad_view, response, kCallDeadline);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << describe(status);
  EXPECT_EQ(status.error_message(), "view: unknown value 7 (use TASK_VIEW_BASIC or TASK_VIEW_FULL)");
  EXPECT_TRUE(tagged(client, "bad").empty());
}

// BASIC answers the id and state, and the error of a task that did not succeed; Get still reads
// the whole task. Both when the task ends inside the spawn and when it ends later.
TEST(Run, TheBasicViewAnswersIdStateAndTheErrorOfWhatDidNotSucceed) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  for (const auto& spec : {oc::sleep(0ms), oc::sleep(20ms)}) {
    auto request = run_request(spec);
    request.mutable_task()->set_name("basic");
    request.set_view(v1::TASK_VIEW_BASIC);
    v1::RunResponse response;
    const auto status = client.run(request, response, kCallDeadline);
    ASSERT_TRUE(status.ok()) << describe(status);
    const auto& task = response.task();
    EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_FALSE(task.id().empty());
    EXPECT_FALSE(task.has_result());
    EXPECT_FALSE(task.has_spec());
    EXPECT_EQ(task.name(), "");
    const auto full = get_task(client, task.id());
    EXPECT_EQ(full.name(), "basic");
    EXPECT_TRUE(full.spec().has_sleep());
    EXPECT_EQ(full.result().state(), v1::TASK_STATE_SUCCEEDED);
  }
  auto failing = run_request(oc::timeout(20ms, oc::sleep(60s)));
  failing.set_view(v1::TASK_VIEW_BASIC);
  v1::RunResponse response;
  ASSERT_TRUE(client.run(failing, response, kCallDeadline).ok());
  EXPECT_EQ(response.task().state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(response.task().result().state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_FALSE(response.task().result().error().empty());
  EXPECT_FALSE(response.task().has_spec());
}

TEST(Run, PastItsTimeoutTheCallEndsAndTheTaskKeepsRunning) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto request = run_request(oc::sleep(60s));
  *request.mutable_timeout() = oc::to_proto(200ms);
  v1::RunResponse response;
  auto ctx = client.context(kCallDeadline);
  const auto status = client.tasks().Run(ctx.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << describe(status);
  const auto& trailers = ctx->GetServerTrailingMetadata();
  const auto it = trailers.find("orch-task-id");
  ASSERT_NE(it, trailers.end());
  const std::string id(it->second.data(), it->second.size());
  EXPECT_EQ(status.error_message(), "run timed out after 200ms: task " + id + " keeps running");
  EXPECT_EQ(get_task(client, id).state(), v1::TASK_STATE_RUNNING);
}

TEST(Run, PastItsTimeoutWithAbortUnfinishedTheTaskIsCancelled) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto request = run_request(oc::sleep(60s));
  *request.mutable_timeout() = oc::to_proto(100ms);
  request.set_abort_unfinished(true);
  v1::RunResponse response;
  auto ctx = client.context(kCallDeadline);
  const auto status = client.tasks().Run(ctx.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << describe(status);
  const auto it = ctx->GetServerTrailingMetadata().find("orch-task-id");
  ASSERT_NE(it, ctx->GetServerTrailingMetadata().end());
  const std::string id(it->second.data(), it->second.size());
  EXPECT_EQ(status.error_message(),
            "run timed out after 100ms: task " + id + " was aborted (abort_unfinished)");
  const auto task = join_task(client, id);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(task.result().error(), "cancelled: a run's timeout passed (abort_unfinished)");
}

TEST(Run, ACallerThatGoesAwayLeavesTheTaskRunning) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto request = run_request(oc::sleep(60s));
  (*request.mutable_task()->mutable_labels())["run"] = "gone";
  PendingRun run(client, request);
  const auto id = wait_tagged(client, "gone", v1::TASK_STATE_RUNNING);
  run.cancel();
  EXPECT_EQ(run.status().error_code(), grpc::StatusCode::CANCELLED);
  // The daemon has seen the cancellation once it counted the call.
  EXPECT_TRUE(wait_for_sample(daemon.admin_port(),
                              R"(orch_grpc_requests_total{code="CANCELLED",method="TaskService/Run"})", 1));
  EXPECT_EQ(get_task(client, id).state(), v1::TASK_STATE_RUNNING);
}

TEST(Run, ACallerThatGoesAwayWithAbortUnfinishedAbortsTheTask) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto request = run_request(oc::sleep(60s));
  (*request.mutable_task()->mutable_labels())["run"] = "gone";
  request.set_abort_unfinished(true);
  PendingRun run(client, request);
  const auto id = wait_tagged(client, "gone", v1::TASK_STATE_RUNNING);
  run.cancel();
  EXPECT_EQ(run.status().error_code(), grpc::StatusCode::CANCELLED);
  const auto task = join_task(client, id);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(task.result().error(), "cancelled: the run's caller went away (abort_unfinished)");
}

TEST(Run, AnIdempotencyKeyWaitsForTheFirstTaskAndIsTheTenantsOwn) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  auto beta = daemon.client(kBeta);
  auto request = run_request(oc::sleep(300ms));
  request.mutable_task()->set_idempotency_key("once");
  (*request.mutable_task()->mutable_labels())["run"] = "key";
  PendingRun first(alpha, request);
  const auto id = wait_tagged(alpha, "key", v1::TASK_STATE_RUNNING);
  // A second Run with the key spawns nothing and answers when the first task ends.
  v1::RunResponse second;
  const auto status = alpha.run(request, second, kCallDeadline);
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_TRUE(second.existing());
  EXPECT_EQ(second.task().id(), id);
  EXPECT_EQ(second.task().state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_TRUE(first.status().ok());
  EXPECT_FALSE(first.response().existing());
  EXPECT_EQ(first.response().task().id(), id);
  EXPECT_EQ(tagged(alpha, "key").size(), 1u);
  // Another tenant's key of the same text is its own: a task of its own, never alpha's.
  v1::RunResponse other;
  ASSERT_TRUE(beta.run(request, other, kCallDeadline).ok());
  EXPECT_FALSE(other.existing());
  EXPECT_NE(other.task().id(), id);
  v1::GetTaskRequest get;
  get.set_id(id);
  v1::TaskInfo info;
  EXPECT_EQ(beta.get(get, info, kCallDeadline).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(Run, CountsAsAWaitingCallAgainstTheTenantsLimit) {
  TestConfig config = two_tenants();
  config.limits = {{"max_waiting_rpcs_per_tenant", "1"}};
  DaemonProcess daemon(config);
  auto alpha = daemon.client(kAlpha);
  auto beta = daemon.client(kBeta);
  auto request = run_request(oc::sleep(60s));
  (*request.mutable_task()->mutable_labels())["run"] = "held";
  PendingRun held(alpha, request);
  // The slot is taken before the spawn: once the task exists, the call holds it.
  const auto id = wait_tagged(alpha, "held", v1::TASK_STATE_RUNNING);

  v1::RunResponse response;
  const auto refused = alpha.run(request, response, kCallDeadline);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(refused);
  EXPECT_TRUE(starts_with(refused.error_message(),
                          "max_waiting_rpcs_per_tenant (1) reached: tenant alpha has 1 calls "
                          "waiting (Join, Select, Run,"))
      << describe(refused);
  EXPECT_EQ(tagged(alpha, "held").size(), 1u);  // the refused Run spawned nothing
  v1::JoinRequest join;
  join.add_ids(id);
  v1::JoinResponse joined;
  EXPECT_EQ(alpha.join(join, joined, kCallDeadline).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Another tenant runs as it likes.
  v1::RunResponse other;
  EXPECT_TRUE(beta.run(run_request(oc::sleep(1ms)), other, kCallDeadline).ok());

  // Aborting the task ends the held Run with it; its slot is free before its answer arrives.
  v1::AbortRequest abort;
  abort.add_ids(id);
  v1::AbortResponse aborted;
  ASSERT_TRUE(alpha.abort(abort, aborted, kCallDeadline).ok());
  ASSERT_TRUE(held.status().ok());
  EXPECT_EQ(held.response().task().state(), v1::TASK_STATE_CANCELLED);
  const auto again = alpha.run(run_request(oc::sleep(1ms)), response, kCallDeadline);
  EXPECT_TRUE(again.ok()) << describe(again);
}

}  // namespace
}  // namespace orch::test
