// TaskService.RunStream on the real daemon: answers tagged with the caller's refs in completion
// order, a refused item answered with its status while the stream goes on, the bound on tasks
// in flight, the tenant's stream limit, a half-close that waits for every answer, a cancelled
// stream that aborts its own tasks (and only those), and the client library's TaskRunner.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "orch/client/task_runner.h"
#include "raw_run_stream.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;

using Outcome = RawRunStream::Outcome;

v1::SpawnRequest request(const v1::TaskSpec& spec, const std::string& name = {},
                         const std::string& key = {}) {
  v1::SpawnRequest r;
  *r.mutable_spec() = spec;
  r.set_name(name);
  r.set_idempotency_key(key);
  return r;
}

// The ids of the tenant's tasks named `name`.
std::vector<std::string> tasks_named(oc::Client& client, const std::string& name) {
  v1::ListTasksRequest list;
  list.set_page_size(1000);
  v1::ListTasksResponse listed;
  EXPECT_TRUE(client.list(list, listed, kCallDeadline).ok());
  std::vector<std::string> ids;
  for (const auto& task : listed.tasks()) {
    if (task.name() == name) ids.push_back(task.id());
  }
  return ids;
}

TEST(RunStream, AnswersComeTaggedWithTheCallersRefsInCompletionOrder) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawRunStream stream(alpha);
  ASSERT_TRUE(stream.send({{7, request(oc::sleep(400ms))}, {8, request(oc::sleep(0ms))}}));
  const auto answers = stream.read(2);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].ref(), 8u);  // the shorter task ended first
  EXPECT_EQ(answers[1].ref(), 7u);
  for (const auto& a : answers) {
    EXPECT_EQ(a.code(), 0) << a.DebugString();
    EXPECT_EQ(a.state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_EQ(a.result().state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_TRUE(a.result().has_finished_at());
    // The id is the task's, readable as any other.
    EXPECT_EQ(get_task(alpha, a.id()).state(), v1::TASK_STATE_SUCCEEDED);
  }
  EXPECT_NE(answers[0].id(), answers[1].id());
  // A failed task is an answer like any other: code 0, its state and error.
  ASSERT_TRUE(stream.send({{9, request(oc::timeout(10ms, oc::sleep(10s)))}}));
  const auto failed = stream.read(1);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].ref(), 9u);
  EXPECT_EQ(failed[0].code(), 0);
  EXPECT_EQ(failed[0].state(), v1::TASK_STATE_TIMED_OUT);
  // A half-close ends the stream with OK once everything is answered.
  stream.half_close();
  EXPECT_TRUE(stream.finish().ok());
}

TEST(RunStream, ARefusedItemIsAnsweredWithItsStatusAndTheStreamGoesOn) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawRunStream stream(alpha);
  v1::SpawnRequest bad;  // no node set
  v1::SpawnRequest forbidden = request(oc::exec({"/bin/true"}));  // exec is not allowed
  ASSERT_TRUE(stream.send({{1, bad}, {2, request(oc::sleep(0ms))}, {3, forbidden}}));
  std::map<std::uint64_t, Outcome> by_ref;
  for (const auto& a : stream.read(3)) by_ref[a.ref()] = a;
  ASSERT_EQ(by_ref.size(), 3u);
  EXPECT_EQ(by_ref[1].code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(starts_with(by_ref[1].message(), "spawn.spec")) << by_ref[1].message();
  EXPECT_TRUE(by_ref[1].id().empty());
  EXPECT_EQ(by_ref[1].state(), v1::TASK_STATE_UNSPECIFIED);
  EXPECT_EQ(by_ref[2].code(), 0);
  EXPECT_EQ(by_ref[2].state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(by_ref[3].code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED)) << by_ref[3].message();
  // The stream is still open for more.
  ASSERT_TRUE(stream.send({{4, request(oc::sleep(0ms))}}));
  const auto more = stream.read(1);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].ref(), 4u);
  EXPECT_EQ(more[0].state(), v1::TASK_STATE_SUCCEEDED);
  // Only the good items made tasks.
  v1::WhoAmIResponse me;
  ASSERT_TRUE(alpha.who_am_i(me, kCallDeadline).ok());
  EXPECT_EQ(me.usage().stored_tasks(), 2u);
  stream.half_close();
  EXPECT_TRUE(stream.finish().ok());
}

TEST(RunStream, TasksInFlightAreBoundedByMaxBatchAndTheRefusalNamesIt) {
  TestConfig config = two_tenants();
  config.limits = {{"max_batch", "2"}};
  DaemonProcess daemon(config);
  auto alpha = daemon.client(kAlpha);
  RawRunStream stream(alpha);
  ASSERT_TRUE(stream.send({{1, request(oc::sleep(300ms))},
                           {2, request(oc::sleep(300ms))},
                           {3, request(oc::sleep(0ms))}}));
  const auto first = stream.read(1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].ref(), 3u);
  EXPECT_EQ(first[0].code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_TRUE(contains(first[0].message(), "limits.max_batch")) << first[0].message();
  EXPECT_TRUE(contains(first[0].message(), "2 tasks in flight")) << first[0].message();
  // Once answers came back there is room again.
  const auto done = stream.read(2);
  ASSERT_EQ(done.size(), 2u);
  ASSERT_TRUE(stream.send({{4, request(oc::sleep(0ms))}}));
  const auto again = stream.read(1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].code(), 0) << again[0].message();
  EXPECT_EQ(again[0].state(), v1::TASK_STATE_SUCCEEDED);
  stream.half_close();
  EXPECT_TRUE(stream.finish().ok());
}

TEST(RunStream, StreamsCountAgainstTheTenantsStreamLimit) {
  TestConfig config = two_tenants();
  config.limits = {{"max_streams_per_tenant", "1"}};
  DaemonProcess daemon(config);
  auto alpha = daemon.client(kAlpha);
  auto beta = daemon.client(kBeta);
  RawRunStream first(alpha);
  ASSERT_TRUE(first.send({{1, request(oc::sleep(0ms))}}));
  ASSERT_EQ(first.read(1).size(), 1u);  // the stream holds its slot now
  RawRunStream second(alpha);
  second.send({{1, request(oc::sleep(0ms))}});
  EXPECT_TRUE(second.read(1).empty());
  const auto refused = second.finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(refused);
  EXPECT_TRUE(starts_with(refused.error_message(), "max_streams_per_tenant (1) reached: tenant alpha"))
      << describe(refused);
  // Another tenant's streams are its own.
  RawRunStream other(beta);
  ASSERT_TRUE(other.send({{1, request(oc::sleep(0ms))}}));
  const auto answer = other.read(1);
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0].state(), v1::TASK_STATE_SUCCEEDED);
  other.half_close();
  EXPECT_TRUE(other.finish().ok());
  first.half_close();
  EXPECT_TRUE(first.finish().ok());
}

TEST(RunStream, AHalfCloseWaitsForEveryAnswer) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawRunStream stream(alpha);
  ASSERT_TRUE(stream.send({{1, request(oc::sleep(300ms))}, {2, request(oc::sleep(100ms))}}));
  stream.half_close();
  const auto answers = stream.read(2);
  ASSERT_EQ(answers.size(), 2u);
  for (const auto& a : answers) EXPECT_EQ(a.state(), v1::TASK_STATE_SUCCEEDED) << a.DebugString();
  EXPECT_TRUE(stream.finish().ok());
}

TEST(RunStream, ACancelledStreamAbortsTheTasksItSpawnedButNotOnesItFoundByKey) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  // A task spawned before, by key: the stream only waits for it.
  v1::SpawnResponse keyed;
  ASSERT_TRUE(alpha.spawn(request(oc::sleep(60s), "keyed", "the-key"), keyed, kCallDeadline).ok());
  {
    RawRunStream stream(alpha);
    ASSERT_TRUE(stream.send({{1, request(oc::sleep(60s), "own")},
                             {2, request(oc::sleep(60s), "again", "the-key")}}));
    // Both are in flight once the stream's task is listed running.
    bool running = false;
    for (int i = 0; i < 200 && !running; ++i) {
      const auto own = tasks_named(alpha, "own");
      running = own.size() == 1 && get_task(alpha, own[0]).state() == v1::TASK_STATE_RUNNING;
      if (!running) std::this_thread::sleep_for(20ms);
    }
    ASSERT_TRUE(running);
    stream.cancel();
    EXPECT_EQ(stream.finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  const auto own = tasks_named(alpha, "own");
  ASSERT_EQ(own.size(), 1u);
  const auto task = join_task(alpha, own[0]);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_TRUE(contains(task.result().error(), "the RunStream that spawned it ended")) << task.result().error();
  EXPECT_EQ(get_task(alpha, keyed.id()).state(), v1::TASK_STATE_RUNNING);
  EXPECT_TRUE(tasks_named(alpha, "again").empty());  // the key found the first task
}

TEST(RunStream, AnotherTenantsKeyNamesANewTaskOfTheCallersOwn) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  auto beta = daemon.client(kBeta);
  v1::SpawnResponse alphas;
  ASSERT_TRUE(alpha.spawn(request(oc::sleep(60s), "alpha-task", "shared-key"), alphas, kCallDeadline).ok());
  RawRunStream stream(beta);
  ASSERT_TRUE(stream.send({{1, request(oc::sleep(0ms), "beta-task", "shared-key")}}));
  const auto answer = stream.read(1);
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0].code(), 0);
  EXPECT_EQ(answer[0].state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_NE(answer[0].id(), alphas.id());
  stream.half_close();
  EXPECT_TRUE(stream.finish().ok());
  EXPECT_EQ(get_task(alpha, alphas.id()).state(), v1::TASK_STATE_RUNNING);
  v1::GetTaskRequest get;
  get.set_id(answer[0].id());
  v1::TaskInfo info;
  EXPECT_EQ(alpha.get(get, info, kCallDeadline).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(RunStream, ATaskRunnerSharesOneStreamBetweenThreadsAndAWorkerAnswersInBatches) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  // A worker with 16 slots that answers every batch of assignments with one message.
  auto worker_ctx = alpha.context(kCallDeadline);
  auto worker = alpha.workers().Connect(worker_ctx.get());
  v1::WorkerMessage hello;
  hello.mutable_hello()->add_queues("runner");
  hello.mutable_hello()->set_slots(16);
  ASSERT_TRUE(worker->Write(hello));
  v1::ServerMessage message;
  ASSERT_TRUE(worker->Read(&message));
  ASSERT_TRUE(message.has_welcome());
  std::thread serve([&] {
    while (worker->Read(&message)) {
      if (!message.has_assignments()) continue;
      v1::WorkerMessage out;
      for (const auto& a : message.assignments().assignments()) {
        auto* r = out.mutable_completions()->add_results();
        r->set_assignment_id(a.assignment_id());
        r->set_task_id(a.task_id());
        r->set_attempt(a.attempt());
        r->set_fencing_token(a.fencing_token());
        r->set_output("done:" + a.payload());
      }
      if (!worker->Write(out)) return;
    }
  });
  {
    oc::TaskRunner runner(alpha);
    std::atomic<int> succeeded{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 8; ++t) {
      callers.emplace_back([&, t] {
        for (int i = 0; i < 10; ++i) {
          const std::string payload = std::to_string(t) + "-" + std::to_string(i);
          Outcome outcome;
          const auto status = runner.run(request(oc::worker("runner", payload)), outcome);
          EXPECT_TRUE(status.ok()) << describe(status);
          EXPECT_EQ(outcome.code(), 0) << outcome.message();
          EXPECT_EQ(outcome.result().worker().result(), "done:" + payload);
          if (outcome.state() == v1::TASK_STATE_SUCCEEDED) ++succeeded;
        }
      });
    }
    for (auto& c : callers) c.join();
    EXPECT_EQ(succeeded.load(), 80);
    // A refused item comes back as the caller's answer, not as a stream error.
    Outcome refused;
    EXPECT_TRUE(runner.run(v1::SpawnRequest{}, refused).ok());
    EXPECT_EQ(refused.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
    EXPECT_TRUE(runner.close().ok());
    EXPECT_EQ(runner.run(request(oc::sleep(0ms)), refused).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    // cancel() ends the stream at once: the caller in flight gets CANCELLED and its task is
    // aborted by the daemon.
    oc::TaskRunner runner(alpha);
    grpc::Status status;
    std::thread caller([&] {
      Outcome outcome;
      status = runner.run(request(oc::sleep(std::chrono::seconds(60)), "cancelled-runner"), outcome);
    });
    bool running = false;
    for (int i = 0; i < 200 && !running; ++i) {
      const auto ids = tasks_named(alpha, "cancelled-runner");
      running = ids.size() == 1 && get_task(alpha, ids[0]).state() == v1::TASK_STATE_RUNNING;
      if (!running) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(running);  // (no ASSERT: the caller thread must be joined)
    runner.cancel();
    caller.join();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << describe(status);
    EXPECT_EQ(runner.close().error_code(), grpc::StatusCode::CANCELLED);
    const auto ids = tasks_named(alpha, "cancelled-runner");
    ASSERT_EQ(ids.size(), 1u);
    EXPECT_EQ(join_task(alpha, ids[0]).state(), v1::TASK_STATE_CANCELLED);
  }
  worker_ctx->TryCancel();
  serve.join();
  worker->Finish();
}

}  // namespace
}  // namespace orch::test
