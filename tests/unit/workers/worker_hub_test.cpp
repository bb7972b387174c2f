// The worker hub on its own (assignment, slots, fairness, refusals) and through the engine
// against a manual clock (timeouts, retries, cancellation reaching the worker).
#include "orch/workers/worker_hub.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "orch/engine/engine.h"

using namespace std::chrono_literals;

namespace orch::workers {
namespace {

namespace asio = boost::asio;
using engine::Clock;
using engine::FailureReason;
using engine::State;

struct FakeSink : WorkerSink {
  void wake() override { ++wakes; }
  void close(const std::string& why) override { closed = why; }
  int wakes = 0;
  std::string closed;
};

// Everything queued for a worker, in order.
struct Drained {
  std::vector<Assignment> assignments;
  std::vector<CancelNotice> cancels;
  std::vector<Refusal> refusals;
};

Drained drain(WorkerHub& hub, const std::string& worker) {
  Drained out;
  while (auto m = hub.next_message(worker)) {
    if (auto* batch = std::get_if<std::vector<Assignment>>(&*m)) {
      for (auto& a : *batch) out.assignments.push_back(a);
    } else if (auto* c = std::get_if<CancelNotice>(&*m)) {
      out.cancels.push_back(*c);
    } else {
      out.refusals.push_back(std::get<Refusal>(*m));
    }
  }
  return out;
}

AttemptRequest request(std::string task, std::string queue = "q") {
  AttemptRequest r;
  r.task_id = std::move(task);
  r.attempt = 1;
  r.fencing_token = 100;
  r.queue = std::move(queue);
  r.payload = "payload";
  return r;
}

Report result_for(const Assignment& a, std::string output = "done") {
  return Report{a.assignment_id, a.task_id, a.attempt, a.fencing_token, true, std::move(output), true, {}};
}

class WorkerHubTest : public ::testing::Test {
 protected:
  WorkerHubTest() { Clock::use_manual(); }
  ~WorkerHubTest() override { Clock::use_real(); }
  std::string connect(std::vector<std::string> queues, std::uint32_t slots,
                      std::shared_ptr<FakeSink> sink = std::make_shared<FakeSink>()) {
    auto id = hub_.connect("test", std::move(queues), slots, sink);
    EXPECT_TRUE(id.has_value());
    return id.value_or("");
  }
  WorkerHub hub_{"alpha", WorkerHub::Options{}};
};

TEST(QueueName, Rules) {
  EXPECT_EQ(check_queue_name("images/resize-v2.high:1_x"), "");
  EXPECT_EQ(check_queue_name(""), "must not be empty");
  EXPECT_NE(check_queue_name("a b"), "");
  EXPECT_NE(check_queue_name(std::string(129, 'a')), "");
}

TEST_F(WorkerHubTest, AnAttemptWaitsForAWorkerOfItsQueue) {
  const auto id = hub_.submit(request("t1"));
  EXPECT_EQ(hub_.backlog(), 1u);
  const auto other = connect({"other"}, 4);
  EXPECT_TRUE(drain(hub_, other).assignments.empty());
  auto sink = std::make_shared<FakeSink>();
  const auto worker = connect({"other", "q"}, 4, sink);
  EXPECT_GE(sink->wakes, 1);
  const auto got = drain(hub_, worker);
  ASSERT_EQ(got.assignments.size(), 1u);
  const auto& a = got.assignments[0];
  EXPECT_EQ(a.task_id, "t1");
  EXPECT_EQ(a.attempt, 1u);
  EXPECT_EQ(a.fencing_token, 100u);
  EXPECT_EQ(a.queue, "q");
  EXPECT_EQ(a.payload, "payload");
  EXPECT_EQ(hub_.backlog(), 0u);
  hub_.report(worker, result_for(a, "out"));
  auto result = hub_.take_result(id);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->succeeded);
  EXPECT_EQ(result->output, "out");
  EXPECT_EQ(result->worker_id, worker);
}

TEST_F(WorkerHubTest, SlotsBoundOutstandingAssignmentsAndFreedSlotsTakeTheOldest) {
  const auto worker = connect({"q"}, 2);
  hub_.submit(request("t1"));
  hub_.submit(request("t2"));
  hub_.submit(request("t3"));
  auto got = drain(hub_, worker);
  ASSERT_EQ(got.assignments.size(), 2u);
  EXPECT_EQ(got.assignments[0].task_id, "t1");
  EXPECT_EQ(got.assignments[1].task_id, "t2");
  EXPECT_EQ(hub_.backlog(), 1u);
  hub_.report(worker, result_for(got.assignments[1]));
  got = drain(hub_, worker);
  ASSERT_EQ(got.assignments.size(), 1u);
  EXPECT_EQ(got.assignments[0].task_id, "t3");
  EXPECT_EQ(hub_.running(), 2u);
}

TEST_F(WorkerHubTest, AssignsFairlyToTheLeastLoadedWorker) {
  const auto a = connect({"q"}, 3);
  const auto b = connect({"q"}, 3);
  for (int i = 0; i < 6; ++i) hub_.submit(request("t" + std::to_string(i)));
  EXPECT_EQ(drain(hub_, a).assignments.size(), 3u);
  EXPECT_EQ(drain(hub_, b).assignments.size(), 3u);
}

TEST_F(WorkerHubTest, SetSlotsZeroStopsNewWorkAndMoreSlotsTakeWaitingWork) {
  const auto worker = connect({"q"}, 1);
  hub_.set_slots(worker, 0);
  hub_.submit(request("t1"));
  EXPECT_TRUE(drain(hub_, worker).assignments.empty());
  hub_.set_slots(worker, 1);
  EXPECT_EQ(drain(hub_, worker).assignments.size(), 1u);
}

TEST_F(WorkerHubTest, DisconnectLosesOutstandingAttemptsAsRetryable) {
  const auto worker = connect({"q"}, 1);
  const auto id = hub_.submit(request("t1"));
  drain(hub_, worker);
  hub_.disconnect(worker);
  auto result = hub_.take_result(id);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->succeeded);
  EXPECT_EQ(result->reason, FailureReason::kWorkerLost);
  EXPECT_TRUE(result->retryable);
  EXPECT_EQ(hub_.connected(), 0u);
}

TEST_F(WorkerHubTest, RefusesUnknownMismatchedDuplicateAndCancelledReports) {
  const auto worker = connect({"q"}, 2);
  const auto id1 = hub_.submit(request("t1"));
  hub_.submit(request("t2"));
  auto got = drain(hub_, worker);
  ASSERT_EQ(got.assignments.size(), 2u);

  Report unknown = result_for(got.assignments[0]);
  unknown.assignment_id = "asg-999999";
  hub_.report(worker, unknown);
  Report mismatch = result_for(got.assignments[0]);
  mismatch.fencing_token = 99;  // an older attempt's token
  hub_.report(worker, mismatch);
  hub_.report(worker, result_for(got.assignments[0], "first"));
  hub_.report(worker, result_for(got.assignments[0], "second"));
  hub_.abandon(id1 + 1, "cancelled: aborted by request");
  hub_.report(worker, result_for(got.assignments[1], "late"));

  const auto after = drain(hub_, worker);
  ASSERT_EQ(after.cancels.size(), 1u);
  EXPECT_EQ(after.cancels[0].assignment_id, got.assignments[1].assignment_id);
  EXPECT_EQ(after.cancels[0].reason, CancelReason::kAborted);
  ASSERT_EQ(after.refusals.size(), 4u);
  EXPECT_EQ(after.refusals[0].reason, RefusalReason::kUnknownAssignment);
  EXPECT_EQ(after.refusals[1].reason, RefusalReason::kMismatch);
  EXPECT_EQ(after.refusals[2].reason, RefusalReason::kAlreadyReported);
  EXPECT_EQ(after.refusals[3].reason, RefusalReason::kCancelled);
  EXPECT_EQ(hub_.refused(RefusalReason::kCancelled), 1u);
  // The first report stands.
  auto result = hub_.take_result(id1);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->output, "first");
}

TEST_F(WorkerHubTest, AnOversizedResultIsRefusedAndFailsTheAttemptForGood) {
  WorkerHub hub("alpha", WorkerHub::Options{.max_output_bytes = 4});
  auto sink = std::make_shared<FakeSink>();
  const auto worker = *hub.connect("w", {"q"}, 1, sink);
  const auto id = hub.submit(request("t1"));
  auto got = drain(hub, worker);
  hub.report(worker, result_for(got.assignments[0], "12345"));
  auto result = hub.take_result(id);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->succeeded);
  EXPECT_FALSE(result->retryable);
  EXPECT_NE(result->output.find("output_too_large"), std::string::npos);
  EXPECT_EQ(drain(hub, worker).refusals.at(0).reason, RefusalReason::kTooLarge);
}

TEST_F(WorkerHubTest, DeadlinesFollowTheAttemptsPhase) {
  auto r = request("t1");
  r.schedule_to_start = 5s;
  r.start_to_close = 60s;
  r.heartbeat = 10s;
  const auto start = Clock::now();
  const auto id = hub_.submit(r);
  EXPECT_EQ(hub_.next_deadline(id), start + 5s);
  EXPECT_FALSE(hub_.expire(id, start + 4s));
  Clock::advance(2s);
  const auto worker = connect({"q"}, 1);
  drain(hub_, worker);
  EXPECT_EQ(hub_.next_deadline(id), start + 2s + 10s);  // the heartbeat comes first
  Clock::advance(8s);
  hub_.heartbeat(worker, {"asg-" + std::to_string(id)});
  EXPECT_EQ(hub_.next_deadline(id), start + 20s);
  auto failure = hub_.expire(id, start + 20s);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->reason, FailureReason::kHeartbeat);
  const auto sent = drain(hub_, worker);
  ASSERT_EQ(sent.cancels.size(), 1u);
  EXPECT_EQ(sent.cancels[0].reason, CancelReason::kHeartbeatTimeout);
}

TEST_F(WorkerHubTest, CloseAllClosesEveryStreamAndCloseSilentOnlyTheSilent) {
  auto quiet = std::make_shared<FakeSink>();
  auto chatty = std::make_shared<FakeSink>();
  connect({"q"}, 1, quiet);
  Clock::advance(30s);
  const auto talker = connect({"q"}, 1, chatty);
  hub_.close_silent(Clock::now() - 10s, "silent");
  EXPECT_EQ(quiet->closed, "silent");
  EXPECT_EQ(chatty->closed, "");
  hub_.close_all("shutting down");
  EXPECT_EQ(chatty->closed, "shutting down");
  (void)talker;
}

// --- attempts with a result callback (the engine's root worker tasks) ---------------------------

struct Results {
  std::vector<AttemptResult> got;
  WorkerHub::AttemptDone callback() {
    return [this](AttemptResult r) { got.push_back(std::move(r)); };
  }
};

TEST_F(WorkerHubTest, ACallbackAttemptsResultGoesToItsCallbackOnceAndTheAttemptIsForgotten) {
  const auto worker = connect({"q"}, 1);
  Results results;
  const auto id = hub_.submit(request("t1"), results.callback());
  const auto a = drain(hub_, worker).assignments.at(0);
  EXPECT_EQ(hub_.running(), 1u);
  hub_.report(worker, result_for(a, "out"));
  ASSERT_EQ(results.got.size(), 1u);
  EXPECT_TRUE(results.got[0].succeeded);
  EXPECT_EQ(results.got[0].output, "out");
  EXPECT_EQ(results.got[0].worker_id, worker);
  EXPECT_FALSE(hub_.take_result(id));
  EXPECT_FALSE(hub_.withdraw(id, "too late"));  // ended: nothing to withdraw
  hub_.report(worker, result_for(a, "again"));
  EXPECT_EQ(results.got.size(), 1u);
  EXPECT_EQ(drain(hub_, worker).refusals.at(0).reason, RefusalReason::kAlreadyReported);
  EXPECT_EQ(hub_.running(), 0u);
}

TEST_F(WorkerHubTest, WithdrawingARunningCallbackAttemptCancelsItOnItsWorkerWithoutACallback) {
  const auto worker = connect({"q"}, 1);
  Results results;
  const auto id = hub_.submit(request("t1"), results.callback());
  const auto a = drain(hub_, worker).assignments.at(0);
  EXPECT_TRUE(hub_.withdraw(id, "cancelled: aborted by request"));
  EXPECT_FALSE(hub_.withdraw(id, "twice"));
  auto sent = drain(hub_, worker);
  ASSERT_EQ(sent.cancels.size(), 1u);
  EXPECT_EQ(sent.cancels[0].assignment_id, a.assignment_id);
  EXPECT_EQ(sent.cancels[0].message, "cancelled: aborted by request");
  hub_.report(worker, result_for(a, "late"));
  EXPECT_TRUE(results.got.empty());
  EXPECT_EQ(drain(hub_, worker).refusals.at(0).reason, RefusalReason::kCancelled);
  EXPECT_EQ(hub_.running(), 0u);
}

TEST_F(WorkerHubTest, WithdrawingAWaitingCallbackAttemptLeavesNothingQueued) {
  Results results;
  const auto id = hub_.submit(request("t1"), results.callback());
  EXPECT_EQ(hub_.backlog(), 1u);
  EXPECT_TRUE(hub_.withdraw(id, "cancelled"));
  EXPECT_EQ(hub_.backlog(), 0u);
  const auto worker = connect({"q"}, 1);
  EXPECT_TRUE(drain(hub_, worker).assignments.empty());
  EXPECT_TRUE(results.got.empty());
}

TEST(WorkerHubMemory, AWorkerRemembersItsLastClosedAssignmentsAndForgetsOlderOnes) {
  WorkerHub hub("alpha", WorkerHub::Options{.remembered_per_worker = 2});
  const auto worker = hub.connect("test", {"q"}, 3, std::make_shared<FakeSink>()).value_or("");
  Results results;
  for (const char* task : {"t1", "t2", "t3"}) hub.submit(request(task), results.callback());
  const auto sent = drain(hub, worker).assignments;
  ASSERT_EQ(sent.size(), 3u);
  hub.report(worker, result_for(sent[0]));
  const auto t4_id = hub.submit(request("t4"), results.callback());  // takes the freed slot
  hub.report(worker, result_for(sent[1]));
  EXPECT_TRUE(hub.withdraw(t4_id, "cancelled: aborted by request"));
  hub.report(worker, result_for(sent[2]));
  ASSERT_EQ(results.got.size(), 3u);
  const auto t4 = drain(hub, worker);
  ASSERT_EQ(t4.assignments.size(), 1u);
  // Four closed, two remembered: the last report and the withdrawn t4 are; t1 is not.
  for (const auto& a : {sent[0], sent[2], t4.assignments[0]}) hub.report(worker, result_for(a, "late"));
  const auto refusals = drain(hub, worker).refusals;
  ASSERT_EQ(refusals.size(), 3u);
  EXPECT_EQ(refusals[0].reason, RefusalReason::kUnknownAssignment);
  EXPECT_EQ(refusals[1].reason, RefusalReason::kAlreadyReported);
  EXPECT_EQ(refusals[2].reason, RefusalReason::kCancelled);
  EXPECT_EQ(results.got.size(), 3u);
}

TEST_F(WorkerHubTest, AWaitingCallbackAttemptIsAssignedWhenAWorkerConnectsInQueueOrder) {
  Results results;
  hub_.submit(request("t1"), results.callback());
  hub_.submit(request("t2"));
  hub_.submit(request("t3"), results.callback());
  EXPECT_EQ(hub_.backlog(), 3u);
  const auto worker = connect({"q"}, 2);
  auto got = drain(hub_, worker).assignments;
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].task_id, "t1");
  EXPECT_EQ(got[1].task_id, "t2");
  hub_.report(worker, result_for(got[0]));
  got = drain(hub_, worker).assignments;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task_id, "t3");
  EXPECT_EQ(results.got.size(), 1u);
}

TEST_F(WorkerHubTest, ADisconnectEndsACallbackAttemptAsWorkerLost) {
  const auto worker = connect({"q"}, 1);
  Results results;
  hub_.submit(request("t1"), results.callback());
  drain(hub_, worker);
  hub_.disconnect(worker);
  ASSERT_EQ(results.got.size(), 1u);
  EXPECT_FALSE(results.got[0].succeeded);
  EXPECT_EQ(results.got[0].reason, FailureReason::kWorkerLost);
  EXPECT_NE(results.got[0].output.find("disconnected"), std::string::npos);
  EXPECT_EQ(hub_.running(), 0u);
}

// --- through the engine -------------------------------------------------------------------------

engine::Node worker_node(std::string queue, std::string payload = "in") {
  engine::Node node = engine::make_node(engine::NodeKind::kWorker);
  node.work = engine::WorkerSpec{std::move(queue), std::move(payload), {}, {}, {}};
  return node;
}

engine::WorkerSpec& spec_of(engine::Node& node) { return std::get<engine::WorkerSpec>(node.work); }

class WorkerEngineTest : public ::testing::Test {
 protected:
  WorkerEngineTest() {
    Clock::use_manual();
    hub_ = &hubs_.add_tenant("alpha", WorkerHub::Options{});
    engine_.emplace(io_.get_executor(), engine::EngineOptions{std::chrono::hours(1), &hubs_});
    engine_->add_tenant({"alpha", 4, 20});
  }
  ~WorkerEngineTest() override {
    engine_->stop_accepting();
    asio::co_spawn(io_, engine_->drain(orch::Duration::zero()), asio::detached);
    settle();
    engine_.reset();
    io_.restart();
    io_.poll();
    Clock::use_real();
  }
  void settle() {
    for (int i = 0; i < 1000; ++i) {
      io_.restart();
      if (io_.poll() == 0) break;
    }
  }
  void advance(orch::Duration d) {
    Clock::advance(d);
    settle();
  }
  std::string spawn(engine::Node spec) {
    auto outcome = engine_->spawn("alpha", engine::SpawnArgs{std::move(spec), "", {}, ""});
    EXPECT_TRUE(outcome.has_value());
    settle();
    return outcome ? outcome->id : std::string{};
  }
  engine::TaskSnapshot get(const std::string& id) { return *engine_->get("alpha", id); }
  std::string connect(std::uint32_t slots = 1) {
    return hub_->connect("w", {"q"}, slots, std::make_shared<FakeSink>()).value_or("");
  }
  void report(const std::string& worker, const Assignment& a, std::string out) {
    hub_->report(worker, result_for(a, std::move(out)));
    settle();
  }

  asio::io_context io_;
  WorkerHubs hubs_;
  WorkerHub* hub_ = nullptr;
  std::optional<engine::Engine> engine_;
};

TEST_F(WorkerEngineTest, AWorkerNodeSucceedsWithTheWorkersResult) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q", "hello"));
  auto got = drain(*hub_, worker);
  ASSERT_EQ(got.assignments.size(), 1u);
  EXPECT_EQ(got.assignments[0].task_id, id);
  EXPECT_EQ(got.assignments[0].payload, "hello");
  EXPECT_EQ(get(id).state, State::kRunning);
  report(worker, got.assignments[0], "HELLO");
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  const auto& out = std::get<engine::WorkerOutput>(task.result->output);
  EXPECT_EQ(out.result, "HELLO");
  EXPECT_EQ(out.worker_id, worker);
  EXPECT_EQ(task.result->attempts, 1u);
  EXPECT_EQ(task.result->fencing_token, got.assignments[0].fencing_token);
}

TEST_F(WorkerEngineTest, ScheduleToStartFailsTheAttemptWhenNoWorkerTakesIt) {
  auto node = worker_node("q");
  spec_of(node).schedule_to_start = 5s;
  const auto id = spawn(std::move(node));
  advance(4999ms);
  EXPECT_EQ(get(id).state, State::kRunning);
  EXPECT_EQ(hub_->backlog(), 1u);
  advance(1ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_NE(task.result->error.find("schedule_to_start"), std::string::npos) << task.result->error;
  EXPECT_EQ(hub_->backlog(), 0u);
}

TEST_F(WorkerEngineTest, StartToCloseCancelsOnTheWorkerAndRefusesTheLateResult) {
  const auto worker = connect();
  auto node = worker_node("q");
  spec_of(node).start_to_close = 30s;
  const auto id = spawn(std::move(node));
  const auto a = drain(*hub_, worker).assignments.at(0);
  ASSERT_TRUE(a.deadline);
  EXPECT_EQ(*a.deadline, Clock::now() + 30s);
  advance(30s);
  ASSERT_EQ(get(id).state, State::kFailed);
  EXPECT_NE(get(id).result->error.find("start_to_close"), std::string::npos);
  auto sent = drain(*hub_, worker);
  ASSERT_EQ(sent.cancels.size(), 1u);
  EXPECT_EQ(sent.cancels[0].reason, CancelReason::kDeadline);
  report(worker, a, "too late");
  sent = drain(*hub_, worker);
  ASSERT_EQ(sent.refusals.size(), 1u);
  EXPECT_EQ(sent.refusals[0].reason, RefusalReason::kCancelled);
  EXPECT_EQ(hub_->refused(RefusalReason::kCancelled), 1u);
  EXPECT_EQ(get(id).state, State::kFailed);  // never applied
}

TEST_F(WorkerEngineTest, StartToCloseCountsFromTheAssignmentOfAnAttemptThatWaitedForAWorker) {
  auto node = worker_node("q");
  spec_of(node).start_to_close = 30s;
  const auto id = spawn(std::move(node));
  advance(100s);  // waiting for a worker: no limit yet
  EXPECT_EQ(get(id).state, State::kRunning);
  const auto worker = connect();
  settle();
  const auto a = drain(*hub_, worker).assignments.at(0);
  ASSERT_TRUE(a.deadline);
  advance(29s);
  EXPECT_EQ(get(id).state, State::kRunning);
  advance(1s);
  ASSERT_EQ(get(id).state, State::kFailed);
  EXPECT_NE(get(id).result->error.find("start_to_close"), std::string::npos) << get(id).result->error;
  EXPECT_EQ(drain(*hub_, worker).cancels.size(), 1u);
}

TEST_F(WorkerEngineTest, OneBatchOfReportsEndsEachOfItsAttempts) {
  const auto worker = connect(3);
  const auto first = spawn(worker_node("q", "a"));
  const auto second = spawn(worker_node("q", "b"));
  const auto got = drain(*hub_, worker).assignments;
  ASSERT_EQ(got.size(), 2u);
  std::vector<Report> batch{result_for(got[0], "A"), result_for(got[1], "B"),
                            result_for(got[0], "again")};
  hub_->report(worker, std::move(batch));
  settle();
  EXPECT_EQ(get(first).state, State::kSucceeded);
  EXPECT_EQ(get(second).state, State::kSucceeded);
  const auto sent = drain(*hub_, worker);
  ASSERT_EQ(sent.refusals.size(), 1u);
  EXPECT_EQ(sent.refusals[0].reason, RefusalReason::kAlreadyReported);
}

TEST_F(WorkerEngineTest, HeartbeatsKeepAnAttemptAliveAndSilenceFailsIt) {
  const auto worker = connect();
  auto node = worker_node("q");
  spec_of(node).heartbeat = 10s;
  const auto id = spawn(std::move(node));
  const auto a = drain(*hub_, worker).assignments.at(0);
  EXPECT_EQ(a.heartbeat_timeout, std::optional<orch::Duration>(10s));
  for (int i = 0; i < 5; ++i) {
    advance(9s);
    hub_->heartbeat(worker, {a.assignment_id});
  }
  EXPECT_EQ(get(id).state, State::kRunning);
  advance(10s);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_NE(task.result->error.find("heartbeat"), std::string::npos);
  EXPECT_EQ(drain(*hub_, worker).cancels.at(0).reason, CancelReason::kHeartbeatTimeout);
}

TEST_F(WorkerEngineTest, ALostWorkersAttemptIsRetriedOnAnotherWorker) {
  const auto first = connect();
  auto node = worker_node("q");
  node.retry.max_attempts = 3;
  node.retry.initial_backoff = 1s;
  const auto id = spawn(std::move(node));
  const auto a1 = drain(*hub_, first).assignments.at(0);
  hub_->disconnect(first);
  settle();
  EXPECT_EQ(get(id).state, State::kRunning);
  const auto second = connect();
  advance(1s);  // the backoff
  const auto a2 = drain(*hub_, second).assignments.at(0);
  EXPECT_EQ(a2.attempt, 2u);
  EXPECT_GT(a2.fencing_token, a1.fencing_token);
  report(second, a2, "ok");
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(task.result->attempts, 2u);
  EXPECT_NE(task.result->last_attempt_error.find("disconnected"), std::string::npos);
  EXPECT_EQ(std::get<engine::WorkerOutput>(task.result->output).worker_id, second);
}

TEST_F(WorkerEngineTest, ANonRetryableWorkerErrorEndsTheNodeAtOnce) {
  const auto worker = connect();
  auto node = worker_node("q");
  node.retry.max_attempts = 5;
  node.retry.initial_backoff = 1s;
  const auto id = spawn(std::move(node));
  auto a = drain(*hub_, worker).assignments.at(0);
  hub_->report(worker, Report{a.assignment_id, a.task_id, a.attempt, a.fencing_token, false,
                              "transient", true, "busy"});
  settle();
  advance(1s);
  a = drain(*hub_, worker).assignments.at(0);
  EXPECT_EQ(a.attempt, 2u);
  hub_->report(worker, Report{a.assignment_id, a.task_id, a.attempt, a.fencing_token, false,
                              "cannot parse input", false, "bad_input"});
  settle();
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_EQ(task.result->attempts, 2u);
  EXPECT_NE(task.result->error.find("(bad_input): cannot parse input"), std::string::npos)
      << task.result->error;
}

TEST_F(WorkerEngineTest, AbortSendsCancelToTheWorker) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q"));
  const auto a = drain(*hub_, worker).assignments.at(0);
  ASSERT_TRUE(engine_->abort("alpha", {id}));
  settle();
  EXPECT_EQ(get(id).state, State::kCancelled);
  const auto sent = drain(*hub_, worker);
  ASSERT_EQ(sent.cancels.size(), 1u);
  EXPECT_EQ(sent.cancels[0].assignment_id, a.assignment_id);
  EXPECT_EQ(sent.cancels[0].reason, CancelReason::kAborted);
  EXPECT_EQ(hub_->running(), 0u);
}

TEST_F(WorkerEngineTest, AbortWhileWaitingForAWorkerLeavesNothingQueued) {
  const auto id = spawn(worker_node("q"));
  EXPECT_EQ(hub_->backlog(), 1u);
  ASSERT_TRUE(engine_->abort("alpha", {id}));
  settle();
  EXPECT_EQ(get(id).state, State::kCancelled);
  EXPECT_EQ(hub_->backlog(), 0u);
  const auto worker = connect();
  EXPECT_TRUE(drain(*hub_, worker).assignments.empty());
}

TEST_F(WorkerEngineTest, ATimeoutAroundAWorkerTimesOutAndCancelsTheAssignment) {
  const auto worker = connect();
  const auto id = spawn(engine::make_node(engine::NodeKind::kTimeout, 2s, {worker_node("q")}));
  const auto a = drain(*hub_, worker).assignments.at(0);
  advance(2s);
  EXPECT_EQ(get(id).state, State::kTimedOut);
  const auto sent = drain(*hub_, worker);
  ASSERT_EQ(sent.cancels.size(), 1u);
  EXPECT_EQ(sent.cancels[0].assignment_id, a.assignment_id);
}

// --- root worker tasks run without a coroutine (engine/bare_worker.h) ---------------------------

TEST_F(WorkerEngineTest, ARootWorkerTaskEndsWhenTheReportIsAppliedWithNothingPosted) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q", "hello"));
  const auto a = drain(*hub_, worker).assignments.at(0);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 1u);
  const auto before = Clock::now();
  hub_->report(worker, result_for(a, "HELLO"));  // no settle(): the io_context does not run
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
  const auto& out = std::get<engine::WorkerOutput>(task.result->output);
  EXPECT_EQ(out.result, "HELLO");
  EXPECT_EQ(out.worker_id, worker);
  EXPECT_EQ(task.result->kind, engine::NodeKind::kWorker);
  EXPECT_EQ(task.result->attempts, 1u);
  EXPECT_EQ(task.result->fencing_token, a.fencing_token);
  EXPECT_EQ(a.attempt, 1u);
  EXPECT_TRUE(task.result->started);
  EXPECT_EQ(task.result->finished, std::optional<Clock::time_point>(before));
  EXPECT_EQ(task.result->error, "");
}

TEST_F(WorkerEngineTest, AnInlineTerminalCallbackRunsWhenTheReportIsAppliedAndAPostedOneLater) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q"));
  const auto a = drain(*hub_, worker).assignments.at(0);
  std::vector<std::string> calls;
  ASSERT_TRUE(engine_->on_terminal("alpha", id, [&](engine::TaskSnapshot t) {
    calls.push_back("inline:" + std::string(engine::state_name(t.state)));
  }, std::nullopt, engine::TerminalDelivery::kInline));
  ASSERT_TRUE(engine_->on_terminal("alpha", id, [&](engine::TaskSnapshot t) {
    calls.push_back("posted:" + std::string(engine::state_name(t.state)));
  }));
  hub_->report(worker, result_for(a, "ok"));
  EXPECT_EQ(calls, std::vector<std::string>{"inline:succeeded"});
  settle();
  EXPECT_EQ(calls, (std::vector<std::string>{"inline:succeeded", "posted:succeeded"}));
}

TEST_F(WorkerEngineTest, AWorkersErrorFailsARootWorkerTaskWithItsMessage) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q"));
  const auto a = drain(*hub_, worker).assignments.at(0);
  hub_->report(worker, Report{a.assignment_id, a.task_id, a.attempt, a.fencing_token, false,
                              "cannot parse input", true, "bad_input"});
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_NE(task.result->error.find("(bad_input): cannot parse input"), std::string::npos)
      << task.result->error;
  EXPECT_EQ(task.result->last_attempt_error, task.result->error);
  EXPECT_EQ(std::get<engine::WorkerOutput>(task.result->output).worker_id, worker);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(WorkerEngineTest, AbortOfAnAssignedRootWorkerCancelsItOnTheWorkerAndRefusesItsReport) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q"));
  const auto a = drain(*hub_, worker).assignments.at(0);
  ASSERT_TRUE(engine_->abort("alpha", {id}, "cancelled: by the test"));
  auto task = get(id);  // ended by the abort itself
  ASSERT_EQ(task.state, State::kCancelled);
  EXPECT_EQ(task.result->error, "cancelled: by the test");
  EXPECT_EQ(task.result->fencing_token, a.fencing_token);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
  auto sent = drain(*hub_, worker);
  ASSERT_EQ(sent.cancels.size(), 1u);
  EXPECT_EQ(sent.cancels[0].assignment_id, a.assignment_id);
  EXPECT_EQ(sent.cancels[0].reason, CancelReason::kAborted);
  EXPECT_EQ(sent.cancels[0].message, "cancelled: by the test");
  report(worker, a, "late");
  EXPECT_EQ(drain(*hub_, worker).refusals.at(0).reason, RefusalReason::kCancelled);
  EXPECT_EQ(get(id).state, State::kCancelled);
  EXPECT_EQ(hub_->running(), 0u);
}

TEST_F(WorkerEngineTest, AbortOfARootWorkerWaitingForAWorkerTakesItOutOfTheQueue) {
  const auto id = spawn(worker_node("q"));
  EXPECT_EQ(hub_->backlog(), 1u);
  ASSERT_TRUE(engine_->abort("alpha", {id}));
  EXPECT_EQ(get(id).state, State::kCancelled);
  EXPECT_EQ(hub_->backlog(), 0u);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
  const auto worker = connect();
  EXPECT_TRUE(drain(*hub_, worker).assignments.empty());
}

TEST_F(WorkerEngineTest, RootWorkersQueuedForAPermitStartAsPermitsReturnAndAnAbortedOneNever) {
  const auto worker = connect(10);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(spawn(worker_node("q", "p" + std::to_string(i))));
  auto got = drain(*hub_, worker).assignments;
  ASSERT_EQ(got.size(), 4u);  // max_concurrency 4
  EXPECT_EQ(get(ids[4]).state, State::kPending);
  // Queued for a permit: the abort ends it at once, holding nothing.
  ASSERT_TRUE(engine_->abort("alpha", {ids[4]}));
  EXPECT_EQ(get(ids[4]).state, State::kCancelled);
  // The permit of a finished task goes to the next one; its grant travels through the
  // io_context, and an abort that comes first means it never reaches the worker.
  hub_->report(worker, result_for(got[0], "ok"));
  ASSERT_TRUE(engine_->abort("alpha", {ids[5]}));
  settle();
  EXPECT_EQ(get(ids[5]).state, State::kCancelled);
  EXPECT_TRUE(drain(*hub_, worker).assignments.empty());
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 3u);
  for (std::size_t i = 1; i < 4; ++i) hub_->report(worker, result_for(got[i], "ok"));
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(get(ids[i]).state, State::kSucceeded);
}

TEST_F(WorkerEngineTest, AQueuedRootWorkerReachesAWorkerOnceAPermitFrees) {
  const auto worker = connect(10);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(spawn(worker_node("q")));
  auto got = drain(*hub_, worker).assignments;
  ASSERT_EQ(got.size(), 4u);
  report(worker, got[0], "ok");
  got = drain(*hub_, worker).assignments;
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].task_id, ids[4]);
  EXPECT_EQ(get(ids[4]).state, State::kRunning);
  report(worker, got[0], "ok");
  EXPECT_EQ(get(ids[4]).state, State::kSucceeded);
}

TEST_F(WorkerEngineTest, ALostWorkerFailsARootWorkerTaskAsWorkerLost) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q"));
  drain(*hub_, worker);
  hub_->disconnect(worker);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_NE(task.result->error.find("disconnected while running the attempt"), std::string::npos)
      << task.result->error;
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(WorkerEngineTest, ShutdownCancelsAnAssignedRootWorkerOnItsWorker) {
  const auto worker = connect();
  const auto id = spawn(worker_node("q"));
  const auto a = drain(*hub_, worker).assignments.at(0);
  engine_->stop_accepting();
  asio::co_spawn(io_, engine_->drain(orch::Duration::zero()), asio::detached);
  settle();
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kCancelled);
  EXPECT_NE(task.result->error.find("shutting down"), std::string::npos) << task.result->error;
  EXPECT_EQ(drain(*hub_, worker).cancels.at(0).assignment_id, a.assignment_id);
}

}  // namespace
}  // namespace orch::workers
