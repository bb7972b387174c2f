// Root `worker` tasks spawned on a RunStream, on the real daemon: such a task runs as a bare
// attempt of the tenant's worker hub (no coroutine), so the worker's report, its disconnect, an
// Abort and the stream's own end must each still end the task once, reach the worker, and be
// answered on the stream.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "raw_run_stream.h"
#include "raw_worker.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

TEST(RunStreamWorkers, AWorkersReportIsTheStreamsAnswer) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawWorker worker(alpha, "q");
  RawRunStream stream(alpha);
  ASSERT_TRUE(stream.send(7, oc::worker("q", "in")));
  const auto a = worker.read_assignment();
  EXPECT_EQ(a.payload(), "in");
  EXPECT_EQ(a.attempt(), 1u);
  worker.send_result(a, "out");
  const auto o = stream.next();
  EXPECT_EQ(o.ref(), 7u);
  EXPECT_EQ(o.id(), a.task_id());
  ASSERT_EQ(o.state(), v1::TASK_STATE_SUCCEEDED) << o.DebugString();
  EXPECT_EQ(o.result().worker().result(), "out");
  EXPECT_EQ(o.result().worker().worker_id(), worker.worker_id);
  EXPECT_EQ(o.result().fencing_token(), a.fencing_token());
  EXPECT_EQ(usage(alpha).permits_in_use(), 0u);
}

TEST(RunStreamWorkers, LargeAnswersLeaveInMessagesOfAtMostOneMebibyte) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  constexpr int kTasks = 6;
  constexpr std::size_t kOutput = 300'000;
  RawWorker worker(alpha, "q", kTasks);
  RawRunStream stream(alpha);
  std::vector<std::pair<std::uint64_t, v1::SpawnRequest>> items;
  for (int i = 1; i <= kTasks; ++i) {
    v1::SpawnRequest request;
    *request.mutable_spec() = oc::worker("q", std::to_string(i));
    items.emplace_back(i, std::move(request));
  }
  ASSERT_TRUE(stream.send(items));
  std::vector<v1::Assignment> assignments;
  worker.read_assignments(kTasks, assignments);
  ASSERT_EQ(assignments.size(), static_cast<std::size_t>(kTasks));
  // One report of all six: their answers are queued one after another, on one thread.
  v1::WorkerMessage report;
  for (const auto& a : assignments) {
    add_result(report, a, std::string(kOutput, static_cast<char>('a' + std::stoi(a.payload()))));
  }
  ASSERT_TRUE(worker.write(report));
  // Nothing is read until every task has ended.
  for (int i = 0; i < 1000 && usage(alpha).permits_in_use() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(usage(alpha).permits_in_use(), 0u);

  const auto outcomes = stream.read(kTasks);
  ASSERT_EQ(outcomes.size(), static_cast<std::size_t>(kTasks));
  std::set<std::uint64_t> refs;
  for (const auto& o : outcomes) {
    ASSERT_EQ(o.state(), v1::TASK_STATE_SUCCEEDED) << o.ShortDebugString().substr(0, 200);
    EXPECT_EQ(o.result().worker().result(),
              std::string(kOutput, static_cast<char>('a' + static_cast<int>(o.ref()))));
    refs.insert(o.ref());
  }
  EXPECT_EQ(refs.size(), static_cast<std::size_t>(kTasks));
  // Answers queued while a write is in flight share the next message, up to 1 MiB: three of
  // these at most. How many queue together depends on how fast the writes complete (often
  // none do here), so only the bound is asserted.
  std::size_t answers = 0;
  for (const auto& m : stream.messages()) {
    answers += m.outcomes;
    EXPECT_LE(m.bytes, std::size_t{1} << 20) << m.outcomes << " answers";
    EXPECT_LE(m.outcomes, 3u);
  }
  EXPECT_EQ(answers, static_cast<std::size_t>(kTasks));
}

TEST(RunStreamWorkers, AnAbortReachesTheWorkerAndIsTheStreamsAnswer) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawWorker worker(alpha, "q");
  RawRunStream stream(alpha);
  ASSERT_TRUE(stream.send(1, oc::worker("q", "in")));
  const auto a = worker.read_assignment();
  v1::AbortRequest abort;
  abort.add_ids(a.task_id());
  v1::AbortResponse aborted;
  ASSERT_TRUE(alpha.abort(abort, aborted).ok());
  const auto cancel = worker.read();
  ASSERT_TRUE(cancel.has_cancel()) << cancel.DebugString();
  EXPECT_EQ(cancel.cancel().assignment_id(), a.assignment_id());
  EXPECT_EQ(cancel.cancel().reason(), v1::CANCEL_REASON_ABORTED);
  const auto o = stream.next();
  EXPECT_EQ(o.ref(), 1u);
  EXPECT_EQ(o.state(), v1::TASK_STATE_CANCELLED) << o.DebugString();
  // A report after the cancel is refused and changes nothing.
  worker.send_result(a, "late");
  const auto refused = worker.read();
  ASSERT_TRUE(refused.has_result_refused()) << refused.DebugString();
  EXPECT_EQ(refused.result_refused().reason(), v1::REFUSAL_REASON_CANCELLED);
  EXPECT_EQ(get_task(alpha, a.task_id()).state(), v1::TASK_STATE_CANCELLED);
}

TEST(RunStreamWorkers, AWorkerThatGoesAwayFailsTheStreamsTaskAsWorkerLost) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawRunStream stream(alpha);
  std::string task_id;
  {
    RawWorker worker(alpha, "q");
    ASSERT_TRUE(stream.send(3, oc::worker("q", "in")));
    task_id = worker.read_assignment().task_id();
  }  // the worker's stream is cancelled
  const auto o = stream.next();
  EXPECT_EQ(o.ref(), 3u);
  ASSERT_EQ(o.state(), v1::TASK_STATE_FAILED) << o.DebugString();
  EXPECT_TRUE(contains(o.result().error(), "disconnected while running the attempt"))
      << o.result().error();
  EXPECT_EQ(usage(alpha).permits_in_use(), 0u);
}

TEST(RunStreamWorkers, ACancelledStreamCancelsItsTaskOnTheWorker) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawWorker worker(alpha, "q");
  std::string task_id;
  {
    RawRunStream stream(alpha);
    ASSERT_TRUE(stream.send(1, oc::worker("q", "in")));
    const auto a = worker.read_assignment();
    task_id = a.task_id();
    stream.cancel();
    EXPECT_EQ(stream.finish().error_code(), grpc::StatusCode::CANCELLED);
    const auto cancel = worker.read();
    ASSERT_TRUE(cancel.has_cancel()) << cancel.DebugString();
    EXPECT_EQ(cancel.cancel().assignment_id(), a.assignment_id());
  }
  const auto task = join_task(alpha, task_id);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_TRUE(contains(task.result().error(), "the RunStream that spawned it ended")) << task.result().error();
  EXPECT_EQ(usage(alpha).permits_in_use(), 0u);
}

}  // namespace
}  // namespace orch::test
