// Remote workers against the real daemon: `orchctl worker` processes running programs, and an
// in-test worker speaking WorkerService.Connect directly where a test needs a worker that
// misbehaves (goes silent, answers too late).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <set>
#include <thread>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "raw_worker.h"
#include "stream_drain.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

// A worker node with the given timeouts and retries.
v1::TaskSpec worker_spec(const std::string& queue, const std::string& payload) {
  return oc::worker(queue, payload);
}

// An `orchctl worker` process; waits for it to be connected.
struct OrchctlWorker {
  OrchctlWorker(const DaemonProcess& daemon, const std::vector<std::string>& args)
      : process(daemon.orchctl(kAlpha).start(args)) {
    auto line = process.read_line(std::chrono::seconds(20));
    connected = line && line->starts_with("connected as ");
    EXPECT_TRUE(connected) << (line ? *line : std::string("(no output)"));
  }
  // Reads lines until one contains `text`.
  bool wait_for_line(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto line = process.read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now()));
      if (!line) return false;
      lines.push_back(*line);
      if (line->find(text) != std::string::npos) return true;
    }
    return false;
  }
  Subprocess process;
  bool connected = false;
  std::vector<std::string> lines;
};

std::string temp_dir(const DaemonProcess& daemon, const std::string& name) {
  const std::string dir = daemon.dir() + "/" + name;
  ::mkdir(dir.c_str(), 0700);
  return dir;
}

TEST(Workers, OrchctlWorkersServeAQueueWithFencingOnEveryAssignment) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::vector<std::string> program = {
      "worker", "--queue", "upper", "--", "/bin/sh", "-c",
      "printf '%s:%s:%s:' \"$ORCH_TASK_ID\" \"$ORCH_ATTEMPT\" \"$ORCH_FENCING_TOKEN\"; tr a-z A-Z"};
  OrchctlWorker first(daemon, program);
  OrchctlWorker second(daemon, program);

  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(spawn_task(client, worker_spec("upper", "job" + std::to_string(i))));
  const auto tasks = join_tasks(client, ids);
  ASSERT_EQ(tasks.size(), ids.size());
  std::set<std::string> workers;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const auto& r = tasks[i].result();
    ASSERT_EQ(tasks[i].state(), v1::TASK_STATE_SUCCEEDED) << tasks[i].DebugString();
    EXPECT_EQ(r.worker().result(), ids[i] + ":1:" + std::to_string(r.fencing_token()) + ":JOB" +
                                       std::to_string(i));
    EXPECT_EQ(r.attempts(), 1u);
    workers.insert(r.worker().worker_id());
  }
  EXPECT_GE(workers.size(), 1u);

  // orchctl spawn --wait worker: the result in the text output.
  auto out = daemon.orchctl(kAlpha)({"spawn", "--wait", "worker", "upper", "--data", "hello"});
  ASSERT_EQ(out.exit_code, 0) << describe(out);
  EXPECT_NE(out.out.find(":HELLO\""), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("worker SUCCEEDED"), std::string::npos) << out.out;
  const auto metrics = http_get(daemon.admin_port(), "/metrics");
  EXPECT_EQ(metric_sample(metrics.body, "orch_workers_connected{tenant=\"alpha\"}"), 2.0);
  EXPECT_EQ(metric_sample(metrics.body, "orch_worker_assignment_latency_seconds_count{tenant=\"alpha\"}"), 7.0);
}

TEST(Workers, SlotsBoundHowManyProgramsAWorkerRunsAtOnce) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  // Two programs at once on this worker would find the lock directory taken and fail.
  const std::string lock = temp_dir(daemon, "lockparent") + "/lock";
  OrchctlWorker worker(daemon, {"worker", "--queue", "serial", "--slots", "1", "--", "/bin/sh", "-c",
                                "mkdir '" + lock + "' || exit 3; sleep 0.3; rmdir '" + lock + "'; cat"});
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(spawn_task(client, worker_spec("serial", "x")));
  const auto tasks = join_tasks(client, ids);
  ASSERT_EQ(tasks.size(), 3u);
  for (const auto& t : tasks) EXPECT_EQ(t.state(), v1::TASK_STATE_SUCCEEDED) << t.DebugString();
  // And they ran one after the other.
  std::vector<std::pair<double, double>> spans;
  for (const auto& t : tasks) {
    spans.emplace_back(seconds_between(tasks[0].created_at(), t.result().started_at()),
                       seconds_between(tasks[0].created_at(), t.result().finished_at()));
  }
  std::sort(spans.begin(), spans.end());
  for (std::size_t i = 1; i < spans.size(); ++i) EXPECT_GE(spans[i].second - spans[i - 1].second, 0.29);
}

TEST(Workers, AWorkerKilledMidTaskLosesTheAttemptWhichAnotherWorkerRetries) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  OrchctlWorker slow(daemon, {"worker", "--queue", "q", "--", "/bin/sh", "-c", "sleep 30"});
  auto spec = worker_spec("q", "payload");
  spec.mutable_retry()->set_max_attempts(3);
  *spec.mutable_retry()->mutable_initial_backoff() = oc::to_proto(std::chrono::milliseconds(100));
  const auto id = spawn_task(client, spec);
  ASSERT_TRUE(slow.wait_for_line("started: task " + id + " attempt 1"));
  OrchctlWorker fast(daemon, {"worker", "--queue", "q", "--", "/bin/cat"});
  ::kill(slow.process.pid(), SIGKILL);

  const auto task = join_task(client, id);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.DebugString();
  EXPECT_EQ(task.result().attempts(), 2u);
  EXPECT_EQ(task.result().worker().result(), "payload");
  EXPECT_NE(task.result().last_attempt_error().find("disconnected"), std::string::npos)
      << task.result().last_attempt_error();
  EXPECT_TRUE(fast.wait_for_line("started: task " + id + " attempt 2"));
  EXPECT_TRUE(wait_for_sample(daemon.admin_port(),
                              "orch_task_attempt_failures_total{kind=\"worker\",reason=\"worker_lost\",tenant=\"alpha\"}",
                              1));
}

TEST(Workers, AWorkerThatStopsHeartbeatingLosesTheAttemptAndIsToldSo) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  RawWorker raw(client, "hb");
  auto spec = worker_spec("hb", "p");
  *spec.mutable_worker()->mutable_heartbeat() = oc::to_proto(std::chrono::milliseconds(400));
  const auto id = spawn_task(client, spec);
  const auto a = raw.read_assignment();
  EXPECT_EQ(a.task_id(), id);
  EXPECT_EQ(oc::from_proto(a.heartbeat_timeout()), std::chrono::milliseconds(400));
  // No heartbeat: the server gives the attempt up and says why.
  const auto cancel = raw.read();
  ASSERT_TRUE(cancel.has_cancel()) << cancel.DebugString();
  EXPECT_EQ(cancel.cancel().assignment_id(), a.assignment_id());
  EXPECT_EQ(cancel.cancel().reason(), v1::CANCEL_REASON_HEARTBEAT_TIMEOUT);
  const auto task = join_task(client, id);
  ASSERT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(task.result().error().find("heartbeat"), std::string::npos) << task.result().error();
}

TEST(Workers, ScheduleToStartFailsTheAttemptWhenNoWorkerServesTheQueue) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto spec = worker_spec("nobody", "p");
  *spec.mutable_worker()->mutable_schedule_to_start() = oc::to_proto(std::chrono::milliseconds(300));
  const auto id = spawn_task(client, spec);
  const auto task = join_task(client, id);
  ASSERT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(task.result().error().find("schedule_to_start"), std::string::npos) << task.result().error();
  EXPECT_GE(seconds_between(task.result().started_at(), task.result().finished_at()), 0.3);
}

TEST(Workers, AbortReachesTheWorkerAndKillsItsProgram) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  const std::string pid_file = temp_dir(daemon, "abort") + "/pid";
  OrchctlWorker worker(daemon, {"worker", "--queue", "q", "--", "/bin/sh", "-c",
                                "echo $$ > '" + pid_file + "'; exec sleep 30"});
  const auto id = spawn_task(client, worker_spec("q", "p"));
  ASSERT_TRUE(worker.wait_for_line("started: task " + id));
  // The program has started once its pid is written.
  pid_t program = 0;
  for (int i = 0; i < 400 && program == 0; ++i) {
    std::ifstream in(pid_file);
    in >> program;
    if (program == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_GT(program, 0);
  v1::AbortRequest abort;
  abort.add_ids(id);
  v1::AbortResponse aborted;
  ASSERT_TRUE(client.abort(abort, aborted).ok());
  EXPECT_TRUE(worker.wait_for_line("cancelled: CANCEL_REASON_ABORTED"));
  EXPECT_TRUE(worker.wait_for_line("stopped after the cancel"));
  EXPECT_EQ(::kill(program, 0), -1);  // gone (reaped by orchctl)
  EXPECT_EQ(join_task(client, id).state(), v1::TASK_STATE_CANCELLED);
}

TEST(Workers, ALateResultOfATimedOutAttemptIsRefusedAndNeverApplied) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  RawWorker raw(client, "late");
  auto spec = worker_spec("late", "p");
  *spec.mutable_worker()->mutable_start_to_close() = oc::to_proto(std::chrono::milliseconds(300));
  const auto id = spawn_task(client, spec);
  const auto a = raw.read_assignment();
  ASSERT_TRUE(a.has_deadline());
  const auto cancel = raw.read();
  ASSERT_TRUE(cancel.has_cancel()) << cancel.DebugString();
  EXPECT_EQ(cancel.cancel().reason(), v1::CANCEL_REASON_DEADLINE);
  raw.send_result(a, "too late");
  const auto refused = raw.read();
  ASSERT_TRUE(refused.has_result_refused()) << refused.DebugString();
  EXPECT_EQ(refused.result_refused().assignment_id(), a.assignment_id());
  EXPECT_EQ(refused.result_refused().reason(), v1::REFUSAL_REASON_CANCELLED);
  const auto task = join_task(client, id);
  ASSERT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(task.result().error().find("start_to_close"), std::string::npos);
  EXPECT_EQ(task.result().worker().result(), "");
  EXPECT_TRUE(wait_for_sample(daemon.admin_port(),
                              "orch_worker_results_refused_total{reason=\"cancelled\",tenant=\"alpha\"}", 1));
}

TEST(Workers, ATimeoutAroundAWorkerTimesOutAndTheWorkerIsCancelled) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  RawWorker raw(client, "t");
  const auto id = spawn_task(client, oc::timeout(std::chrono::milliseconds(300), worker_spec("t", "p")));
  const auto a = raw.read_assignment();
  const auto cancel = raw.read();
  ASSERT_TRUE(cancel.has_cancel()) << cancel.DebugString();
  EXPECT_EQ(cancel.cancel().assignment_id(), a.assignment_id());
  EXPECT_EQ(cancel.cancel().reason(), v1::CANCEL_REASON_ABORTED);
  const auto task = join_task(client, id);
  EXPECT_EQ(task.state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(task.result().timeout().child().state(), v1::TASK_STATE_CANCELLED);
}

TEST(Workers, AWorkerOnlyGetsItsOwnTenantsTasks) {
  DaemonProcess daemon(two_tenants());
  auto alpha = daemon.client(kAlpha);
  auto beta = daemon.client("beta-secret");
  RawWorker other_tenant(beta, "shared");
  auto spec = worker_spec("shared", "p");
  *spec.mutable_worker()->mutable_schedule_to_start() = oc::to_proto(std::chrono::milliseconds(300));
  const auto task = join_task(alpha, spawn_task(alpha, spec));
  EXPECT_EQ(task.state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(task.result().error().find("schedule_to_start"), std::string::npos);
  // A wrong token never gets a session.
  auto stranger = daemon.client("no-such-token");
  auto ctx = stranger.context(kCallDeadline);
  auto stream = stranger.workers().Connect(ctx.get());
  EXPECT_EQ(drain_and_finish(*stream).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(Workers, ProtocolErrorsAndShutdownEndTheStreamWithAStatus) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  {
    auto ctx = client.context(kCallDeadline);
    auto stream = client.workers().Connect(ctx.get());
    v1::WorkerMessage heartbeat;
    heartbeat.mutable_heartbeat();
    stream->Write(heartbeat);
    const auto status = drain_and_finish(*stream);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "the first message must be a hello");
  }
  {
    auto ctx = client.context(kCallDeadline);
    auto stream = client.workers().Connect(ctx.get());
    v1::WorkerMessage hello;
    hello.mutable_hello()->add_queues("bad queue");
    hello.mutable_hello()->set_slots(1);
    stream->Write(hello);
    const auto status = drain_and_finish(*stream);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("hello.queues[0]"), std::string::npos) << status.error_message();
  }
  RawWorker raw(client, "q");
  daemon.stop();
  const auto status = raw.finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << describe(status);
}

}  // namespace
}  // namespace orch::test
