// The batched worker protocol on the real daemon: waiting work reaches a worker as one
// Assignments message, one Completions message carries several results and errors (applied
// together, each on its own), a single result still works, and reports about unknown or already
// reported assignments inside a batch are refused one by one without spoiling the others.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "daemon_process.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "raw_worker.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

void add_error(v1::WorkerMessage& message, const v1::Assignment& a, const std::string& why) {
  auto* e = message.mutable_completions()->add_errors();
  e->set_assignment_id(a.assignment_id());
  e->set_task_id(a.task_id());
  e->set_attempt(a.attempt());
  e->set_fencing_token(a.fencing_token());
  e->set_message(why);
  e->set_retryable(false);
  e->set_reason("bad_input");
}

std::vector<std::string> spawn_batch(oc::Client& client, const std::vector<v1::TaskSpec>& specs) {
  v1::SpawnBatchRequest request;
  for (const auto& spec : specs) *request.add_tasks()->mutable_spec() = spec;
  v1::SpawnBatchResponse response;
  const auto status = client.spawn_batch(request, response, kCallDeadline);
  EXPECT_TRUE(status.ok()) << describe(status);
  return {response.ids().begin(), response.ids().end()};
}

TEST(WorkerBatches, WorkWaitingWhenAWorkerConnectsComesAsOneAssignmentsMessage) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  std::vector<v1::TaskSpec> specs;
  for (int i = 0; i < 20; ++i) specs.push_back(oc::worker("batch", "p" + std::to_string(i)));
  const auto ids = spawn_batch(alpha, specs);
  ASSERT_EQ(ids.size(), 20u);
  // Every attempt is waiting on the queue before the worker comes.
  ASSERT_TRUE(wait_for_sample(daemon.admin_port(), "orch_worker_queue_backlog{tenant=\"alpha\"}", 20));
  RawWorker worker(alpha, "batch", 64);
  std::vector<v1::Assignment> assignments;
  EXPECT_EQ(worker.read_assignments(20, assignments), 1);
  ASSERT_EQ(assignments.size(), 20u);
  // One per task.
  std::set<std::string> assigned;
  for (const auto& a : assignments) assigned.insert(a.task_id());
  EXPECT_EQ(assigned, std::set<std::string>(ids.begin(), ids.end()));
  // All answered in one Completions message.
  v1::WorkerMessage done;
  for (const auto& a : assignments) add_result(done, a, "r-" + a.payload());
  ASSERT_TRUE(worker.write(done));
  const auto tasks = join_tasks(alpha, ids);
  ASSERT_EQ(tasks.size(), 20u);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(tasks[i].state(), v1::TASK_STATE_SUCCEEDED);
    EXPECT_EQ(tasks[i].result().worker().result(), "r-p" + std::to_string(i));
  }
}

TEST(WorkerBatches, OneCompletionsMessageCarriesResultsAndErrorsAndASingleResultStillWorks) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawWorker worker(alpha, "mixed", 8);
  const auto ids = spawn_batch(alpha, {oc::worker("mixed", "a"), oc::worker("mixed", "b"),
                                       oc::worker("mixed", "c"), oc::worker("mixed", "d")});
  std::vector<v1::Assignment> assignments;
  worker.read_assignments(4, assignments);
  ASSERT_EQ(assignments.size(), 4u);
  std::map<std::string, v1::Assignment> by_payload;
  for (const auto& a : assignments) by_payload[a.payload()] = a;
  v1::WorkerMessage batch;
  add_result(batch, by_payload["a"], "A");
  add_error(batch, by_payload["b"], "b is bad");
  add_result(batch, by_payload["c"], "C");
  ASSERT_TRUE(worker.write(batch));
  v1::WorkerMessage single;  // the one-result message of a worker that does not batch
  add_result(single, by_payload["d"], "D");
  ASSERT_TRUE(worker.write(single));
  const auto tasks = join_tasks(alpha, ids);
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(tasks[0].state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(tasks[0].result().worker().result(), "A");
  EXPECT_EQ(tasks[1].state(), v1::TASK_STATE_FAILED);
  EXPECT_TRUE(contains(tasks[1].result().error(), "(bad_input): b is bad")) << tasks[1].result().error();
  EXPECT_EQ(tasks[1].result().attempts(), 1u);  // not retryable
  EXPECT_EQ(tasks[2].state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(tasks[2].result().worker().result(), "C");
  EXPECT_EQ(tasks[3].state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(tasks[3].result().worker().result(), "D");
}

TEST(WorkerBatches, UnknownAndRepeatedReportsInABatchAreRefusedOneByOne) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  RawWorker worker(alpha, "strict", 4);
  const auto ids = spawn_batch(alpha, {oc::worker("strict", "x"), oc::worker("strict", "y")});
  std::vector<v1::Assignment> assignments;
  worker.read_assignments(2, assignments);
  ASSERT_EQ(assignments.size(), 2u);
  v1::Assignment unknown = assignments[0];
  unknown.set_assignment_id("asg-999999");
  v1::Assignment forged = assignments[1];
  forged.set_fencing_token(assignments[1].fencing_token() + 1);
  v1::WorkerMessage batch;
  add_result(batch, unknown, "nobody's");
  add_result(batch, assignments[0], "first");
  add_result(batch, assignments[0], "second");  // already reported by the line above
  add_result(batch, forged, "forged");
  add_result(batch, assignments[1], "genuine");
  ASSERT_TRUE(worker.write(batch));
  std::map<std::string, std::set<int>> refusals;  // assignment id -> reasons
  for (int i = 0; i < 3; ++i) {
    const auto message = worker.read();
    ASSERT_TRUE(message.has_result_refused()) << message.DebugString();
    refusals[message.result_refused().assignment_id()].insert(message.result_refused().reason());
  }
  EXPECT_EQ(refusals["asg-999999"], std::set<int>{v1::REFUSAL_REASON_UNKNOWN_ASSIGNMENT});
  EXPECT_EQ(refusals[assignments[0].assignment_id()], std::set<int>{v1::REFUSAL_REASON_ALREADY_REPORTED});
  EXPECT_EQ(refusals[assignments[1].assignment_id()], std::set<int>{v1::REFUSAL_REASON_MISMATCH});
  // The tasks may have reached the hub in either order: read them by assignment.
  std::map<std::string, std::string> result_of;
  for (const auto& task : join_tasks(alpha, ids)) result_of[task.id()] = task.result().worker().result();
  EXPECT_EQ(result_of[assignments[0].task_id()], "first");
  EXPECT_EQ(result_of[assignments[1].task_id()], "genuine");
}

}  // namespace
}  // namespace orch::test
