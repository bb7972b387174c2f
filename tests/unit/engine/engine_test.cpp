// The engine's semantics against a manual clock: time moves only when a test says so, and the
// io_context runs on the test's own thread, so every assertion is about an exact instant.
#include "orch/engine/engine.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <atomic>
#include <optional>
#include <thread>

#include "orch/metrics/metrics.h"

using namespace std::chrono_literals;

namespace orch::engine {
namespace {

namespace asio = boost::asio;

Node sleep_node(Duration d) { return make_node(NodeKind::kSleep, d); }
Node join_node(std::vector<Node> children, bool fail_fast = false) {
  Node join = make_node(NodeKind::kJoin, {}, std::move(children));
  join.fail_fast = fail_fast;
  return join;
}
Node select_node(std::vector<Node> children) {
  return make_node(NodeKind::kSelect, {}, std::move(children));
}
Node timeout_node(Duration d, Node child) {
  return make_node(NodeKind::kTimeout, d, {std::move(child)});
}
Node sequence_node(std::vector<Node> children) {
  return make_node(NodeKind::kSequence, {}, std::move(children));
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() {
    Clock::use_manual();
    engine_.emplace(io_.get_executor(), EngineOptions{std::chrono::hours(1)});
    engine_->add_tenant({"alpha", 3, 20});
    engine_->add_tenant({"beta", 3, 20});
  }
  ~EngineTest() override {
    // Tasks reference the engine: end them all before it goes.
    engine_->stop_accepting();
    asio::co_spawn(io_, engine_->drain(Duration::zero()), asio::detached);
    settle();
    engine_.reset();
    io_.restart();
    io_.poll();
    Clock::use_real();
  }

  // Runs every ready handler, including timers that the clock has passed.
  // (Parked waits are no work to the io_context, so it may have stopped: restart it.)
  void settle() {
    for (int i = 0; i < 1000; ++i) {
      io_.restart();
      if (io_.poll() == 0) break;
    }
  }
  void advance(Duration d) {
    Clock::advance(d);
    settle();
  }

  std::string spawn(Node spec, std::string tenant = "alpha", std::string key = {}) {
    auto outcome = engine_->spawn(tenant, SpawnArgs{std::move(spec), "", {}, std::move(key)});
    EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().message);
    settle();
    return outcome ? outcome->id : std::string{};
  }

  TaskSnapshot get(const std::string& id, std::string tenant = "alpha") {
    auto snapshot = engine_->get(tenant, id);
    EXPECT_TRUE(snapshot.has_value());
    return snapshot ? *snapshot : TaskSnapshot{};
  }

  State state(const std::string& id) { return get(id).state; }

  // Starts an engine coroutine; its result lands in `out` when it completes.
  template <typename T>
  void start(asio::awaitable<T> op, std::optional<T>& out) {
    asio::co_spawn(io_, std::move(op), [&out](std::exception_ptr e, T value) {
      ASSERT_FALSE(e);
      out = std::move(value);
    });
    settle();
  }

  asio::io_context io_;
  std::optional<Engine> engine_;
};

TEST_F(EngineTest, SleepRunsForExactlyItsDuration) {
  const auto id = spawn(sleep_node(300ms));
  EXPECT_EQ(state(id), State::kRunning);
  advance(299ms);
  EXPECT_EQ(state(id), State::kRunning);
  advance(1ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(*task.finished - *task.started, 300ms);
}

TEST_F(EngineTest, JoinRunsItsChildrenConcurrently) {
  const auto id = spawn(join_node({sleep_node(300ms), sleep_node(300ms), sleep_node(300ms)}));
  advance(300ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  ASSERT_EQ(task.result->children.size(), 3u);
  for (const auto& child : task.result->children) EXPECT_EQ(child.state, State::kSucceeded);
}

TEST_F(EngineTest, SelectReturnsTheWinnerAndCancelsTheLoser) {
  const auto id = spawn(select_node({sleep_node(3s), sleep_node(300ms)}));
  advance(300ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(task.result->winner, 1u);
  EXPECT_EQ(task.result->children[0].state, State::kCancelled);
  EXPECT_NE(task.result->children[0].error.find("lost the select to child 1"), std::string::npos);
  EXPECT_EQ(task.result->children[1].state, State::kSucceeded);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(EngineTest, TimeoutEndsItsChildAtTheDeadline) {
  const auto id = spawn(timeout_node(300ms, sleep_node(5s)));
  advance(299ms);
  EXPECT_EQ(state(id), State::kRunning);
  advance(1ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kTimedOut);
  EXPECT_EQ(task.result->error, "deadline of 300ms passed");
  EXPECT_EQ(task.result->children.at(0).state, State::kCancelled);
}

TEST_F(EngineTest, TimeoutPassesThroughAChildThatEndsInTime) {
  const auto id = spawn(timeout_node(1s, sleep_node(200ms)));
  advance(200ms);
  EXPECT_EQ(state(id), State::kSucceeded);
}

TEST_F(EngineTest, SequenceStopsAtTheFirstFailure) {
  const auto id = spawn(sequence_node({timeout_node(100ms, sleep_node(1s)), sleep_node(1s)}));
  advance(100ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kTimedOut);
  EXPECT_EQ(task.result->children.size(), 1u);
}

TEST_F(EngineTest, SequenceRunsStepsOneAfterAnother) {
  const auto id = spawn(sequence_node({sleep_node(100ms), sleep_node(200ms)}));
  advance(100ms);
  EXPECT_EQ(state(id), State::kRunning);
  advance(199ms);
  EXPECT_EQ(state(id), State::kRunning);
  advance(1ms);
  EXPECT_EQ(state(id), State::kSucceeded);
  EXPECT_EQ(get(id).result->children.size(), 2u);
}

TEST_F(EngineTest, FailFastJoinCancelsSiblingsAtTheFirstFailure) {
  const auto id = spawn(join_node({timeout_node(100ms, sleep_node(1s)), sleep_node(1s)}, true));
  advance(100ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kTimedOut);
  EXPECT_EQ(task.result->children[1].state, State::kCancelled);
  EXPECT_NE(task.result->children[1].error.find("fail_fast"), std::string::npos);
}

TEST_F(EngineTest, JoinWithoutFailFastWaitsForEveryChild) {
  const auto id = spawn(join_node({timeout_node(100ms, sleep_node(1s)), sleep_node(1s)}));
  advance(100ms);
  EXPECT_EQ(state(id), State::kRunning);
  advance(900ms);
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kTimedOut);
  EXPECT_EQ(task.result->children[1].state, State::kSucceeded);
}

TEST_F(EngineTest, SevenSleepsUnderThreePermitsRunInThreeWaves) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(spawn(sleep_node(500ms)));
  auto count = [&](State s) {
    return std::count_if(ids.begin(), ids.end(), [&](const auto& id) { return state(id) == s; });
  };
  EXPECT_EQ(count(State::kRunning), 3);
  EXPECT_EQ(count(State::kPending), 4);
  advance(500ms);
  EXPECT_EQ(count(State::kSucceeded), 3);
  EXPECT_EQ(count(State::kRunning), 3);
  // Arrival order: the first three finished first, the next three run now.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(state(ids[i]), State::kSucceeded);
  for (int i = 3; i < 6; ++i) EXPECT_EQ(state(ids[i]), State::kRunning);
  advance(500ms);
  EXPECT_EQ(count(State::kSucceeded), 6);
  EXPECT_EQ(count(State::kRunning), 1);
  advance(500ms);
  EXPECT_EQ(count(State::kSucceeded), 7);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(EngineTest, SpawnPastTheQueueBoundIsRefusedWhileAnotherTenantStillSpawns) {
  for (int i = 0; i < 23; ++i) spawn(sleep_node(1s));
  auto refused = engine_->spawn("alpha", SpawnArgs{sleep_node(1s), "", {}, ""});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(refused.error().message, "tenant alpha has 20 tasks queued (max_queued=20)");
  EXPECT_TRUE(engine_->spawn("beta", SpawnArgs{sleep_node(1s), "", {}, ""}).has_value());
}

TEST_F(EngineTest, AbortCancelsEveryDescendant) {
  const auto id = spawn(join_node({sleep_node(5s), select_node({sleep_node(5s), sleep_node(6s)})}));
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 3u);
  auto aborted = engine_->abort("alpha", {id});
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(*aborted, std::vector<std::string>{id});
  settle();
  const auto task = get(id);
  ASSERT_EQ(task.state, State::kCancelled);
  const auto& result = *task.result;
  EXPECT_EQ(result.children[0].state, State::kCancelled);
  EXPECT_EQ(result.error, "cancelled: aborted by request");
  EXPECT_EQ(result.children[0].error, "cancelled: aborted by request");
  EXPECT_EQ(result.children[1].state, State::kCancelled);
  for (const auto& leaf : result.children[1].children) EXPECT_EQ(leaf.state, State::kCancelled);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
  EXPECT_EQ(engine_->usage("alpha")->live_tasks, 0u);
}

TEST_F(EngineTest, AbortOfAPendingTaskFreesItsQueuePlace) {
  for (int i = 0; i < 3; ++i) spawn(sleep_node(1s));
  const auto queued = spawn(sleep_node(1s));
  EXPECT_EQ(state(queued), State::kPending);
  ASSERT_TRUE(engine_->abort("alpha", {queued}).has_value());
  settle();
  EXPECT_EQ(state(queued), State::kCancelled);
  EXPECT_EQ(engine_->usage("alpha")->permits_waiting, 0u);
}

TEST_F(EngineTest, IdempotencyKeyReturnsTheFirstTask) {
  const auto first = spawn(sleep_node(1s), "alpha", "key-1");
  auto second = engine_->spawn("alpha", SpawnArgs{sleep_node(2s), "", {}, "key-1"});
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->id, first);
  EXPECT_TRUE(second->existing);
  // Keys are per tenant.
  auto other = engine_->spawn("beta", SpawnArgs{sleep_node(2s), "", {}, "key-1"});
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(other->id, first);
  EXPECT_FALSE(other->existing);
}

TEST_F(EngineTest, AnotherTenantsTaskIsNotFound) {
  const auto id = spawn(sleep_node(1s), "alpha");
  auto read = engine_->get("beta", id);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(engine_->abort("beta", {id}).error().code, ErrorCode::kNotFound);
}

TEST_F(EngineTest, ResultsAreForgottenAfterTheRetentionPeriod) {
  engine_->add_tenant({"short", 3, 20});
  const auto id = spawn(sleep_node(0ms), "short");
  EXPECT_EQ(get(id, "short").state, State::kSucceeded);
  advance(59min);
  EXPECT_TRUE(engine_->get("short", id).has_value());
  advance(1min);
  EXPECT_EQ(engine_->get("short", id).error().code, ErrorCode::kNotFound);
}

TEST_F(EngineTest, JoinWaitsForAllAndReturnsInRequestOrder) {
  const auto slow = spawn(sleep_node(500ms));
  const auto fast = spawn(sleep_node(100ms));
  std::optional<Result<std::vector<TaskSnapshot>>> joined;
  start(engine_->join("alpha", {slow, fast}, {}), joined);
  advance(100ms);
  EXPECT_FALSE(joined.has_value());
  advance(400ms);
  ASSERT_TRUE(joined.has_value());
  ASSERT_TRUE(joined->has_value());
  EXPECT_EQ((**joined)[0].id, slow);
  EXPECT_EQ((**joined)[1].state, State::kSucceeded);
}

TEST_F(EngineTest, JoinTimeoutIsDeadlineExceededAndAbortsTheRestWhenAsked) {
  const auto id = spawn(sleep_node(5s));
  std::optional<Result<std::vector<TaskSnapshot>>> joined;
  start(engine_->join("alpha", {id}, JoinOptions{false, true, 200ms}), joined);
  advance(200ms);
  ASSERT_TRUE(joined.has_value());
  ASSERT_FALSE(joined->has_value());
  EXPECT_EQ(joined->error().code, ErrorCode::kDeadlineExceeded);
  settle();
  EXPECT_EQ(state(id), State::kCancelled);
}

TEST_F(EngineTest, FailFastJoinReturnsAtTheFirstFailure) {
  const auto failing = spawn(timeout_node(100ms, sleep_node(1s)));
  const auto slow = spawn(sleep_node(5s));
  std::optional<Result<std::vector<TaskSnapshot>>> joined;
  start(engine_->join("alpha", {slow, failing}, JoinOptions{true, false, std::nullopt}), joined);
  advance(100ms);
  ASSERT_TRUE(joined.has_value() && joined->has_value());
  EXPECT_EQ((**joined)[1].state, State::kTimedOut);
  EXPECT_EQ((**joined)[0].state, State::kRunning);  // not aborted without abort_remaining
}

TEST_F(EngineTest, SelectNamesTheFirstTaskToFinishAndAbortsLosers) {
  const auto slow = spawn(sleep_node(3s));
  const auto fast = spawn(sleep_node(300ms));
  std::optional<Result<SelectOutcome>> selected;
  start(engine_->select("alpha", {slow, fast}, true, std::nullopt), selected);
  advance(300ms);
  ASSERT_TRUE(selected.has_value() && selected->has_value());
  EXPECT_EQ((*selected)->winner, 1u);
  EXPECT_EQ((*selected)->task.id, fast);
  settle();
  EXPECT_EQ(state(slow), State::kCancelled);
}

TEST_F(EngineTest, CancelledJoinStopsWaitingWithoutAbortingTasks) {
  const auto id = spawn(sleep_node(5s));
  asio::cancellation_signal signal;
  std::optional<Result<std::vector<TaskSnapshot>>> joined;
  asio::co_spawn(io_, engine_->join("alpha", {id}, {}),
                 asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e, auto r) {
                   ASSERT_FALSE(e);
                   joined = std::move(r);
                 }));
  settle();
  signal.emit(asio::cancellation_type::terminal);
  settle();
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined->error().code, ErrorCode::kCancelled);
  EXPECT_EQ(state(id), State::kRunning);
}

TEST_F(EngineTest, OnTerminalCallsBackOnceWithTheTerminalSnapshot) {
  const auto id = spawn(sleep_node(300ms));
  int calls = 0;
  std::optional<TaskSnapshot> seen;
  auto wait = engine_->on_terminal("alpha", id, [&](TaskSnapshot task) {
    ++calls;
    seen = std::move(task);
  });
  ASSERT_TRUE(wait.has_value());
  advance(299ms);
  EXPECT_EQ(calls, 0);
  advance(1ms);
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->id, id);
  EXPECT_EQ(seen->state, State::kSucceeded);
  ASSERT_TRUE(seen->result.has_value());
  EXPECT_EQ(seen->result->state, State::kSucceeded);
  // It has run: nothing is left to cancel.
  EXPECT_FALSE(engine_->cancel_on_terminal(*wait));
  advance(1s);
  EXPECT_EQ(calls, 1);
}

TEST_F(EngineTest, OnTerminalOfAFinishedTaskRunsOnTheExecutorNotInline) {
  const auto id = spawn(sleep_node(0ms));
  ASSERT_EQ(state(id), State::kSucceeded);
  int calls = 0;
  auto wait = engine_->on_terminal("alpha", id, [&](TaskSnapshot task) {
    ++calls;
    EXPECT_EQ(task.state, State::kSucceeded);
  });
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(calls, 0);
  // Already queued: too late to cancel.
  EXPECT_FALSE(engine_->cancel_on_terminal(*wait));
  settle();
  EXPECT_EQ(calls, 1);
}

TEST_F(EngineTest, CancelledOnTerminalNeverRunsAndLeavesTheTaskRunning) {
  const auto id = spawn(sleep_node(1s));
  int calls = 0;
  auto wait = engine_->on_terminal("alpha", id, [&](TaskSnapshot) { ++calls; });
  ASSERT_TRUE(wait.has_value());
  EXPECT_TRUE(engine_->cancel_on_terminal(*wait));
  EXPECT_FALSE(engine_->cancel_on_terminal(*wait));
  EXPECT_EQ(state(id), State::kRunning);
  advance(1s);
  EXPECT_EQ(state(id), State::kSucceeded);
  EXPECT_EQ(calls, 0);
}

TEST_F(EngineTest, OnTerminalOfAnotherTenantsOrUnknownTaskIsNotFound) {
  const auto id = spawn(sleep_node(1s));
  auto other = engine_->on_terminal("beta", id, [](TaskSnapshot) { ADD_FAILURE(); });
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(other.error().message, "task " + id + " not found");
  auto unknown = engine_->on_terminal("alpha", "nope", [](TaskSnapshot) { ADD_FAILURE(); });
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  advance(1s);
}

// The permit goes back under the same lock that publishes the terminal state: another thread
// that has seen T of the tasks end finds at most (all - T) permits in use. It used to go back
// just after that lock; a Join answered in between found it still held (an integration test
// failed so on a loaded machine). That window was too narrow for this test to hit; a release
// later than that (posted, say) would leave it a wide one.
TEST_F(EngineTest, AnObserverThatSeesATaskEndedSeesItsPermitFree) {
  constexpr std::uint32_t kTasks = 300;
  engine_->add_tenant({"wide", kTasks, 20});
  std::vector<std::string> ids;
  for (std::uint32_t i = 0; i < kTasks; ++i) ids.push_back(spawn(sleep_node(1ms), "wide"));
  ASSERT_EQ(engine_->usage("wide")->permits_in_use, kTasks);

  std::atomic<bool> done{false};
  std::string violation;
  std::thread observer([&] {
    // Watches one task at a time, and reads the permits the moment it sees that one end.
    std::vector<bool> ended(kTasks, false);
    std::uint32_t seen = 0;
    while (seen < kTasks && violation.empty()) {
      const bool all_ended_before_this_scan = done;
      for (std::uint32_t i = 0; i < kTasks; ++i) {
        if (ended[i]) continue;
        auto task = engine_->get("wide", ids[i]);
        if (!task || !is_terminal(task->state)) continue;
        ended[i] = true;
        ++seen;
        const auto in_use = engine_->usage("wide")->permits_in_use;
        if (in_use > kTasks - seen) {
          violation = std::to_string(seen) + " tasks seen ended, " + std::to_string(in_use) +
                      " permits still in use";
          break;
        }
      }
      if (violation.empty() && all_ended_before_this_scan && seen < kTasks) {
        violation = "only " + std::to_string(seen) + " tasks ended";
      }
    }
  });
  advance(1ms);  // every sleep ends here, on this thread, while the observer reads
  done = true;
  observer.join();
  EXPECT_EQ(violation, "");
  EXPECT_EQ(engine_->usage("wide")->permits_in_use, 0u);
}

TEST_F(EngineTest, ARootSleepOfZeroEndsInsideSpawnOnTheCallingThread) {
  auto outcome = engine_->spawn("alpha", SpawnArgs{sleep_node(0ms), "", {}, ""});
  ASSERT_TRUE(outcome.has_value());
  // Nothing was posted: the task is terminal before the io_context runs anything.
  const auto task = get(outcome->id);
  EXPECT_EQ(task.state, State::kSucceeded);
  ASSERT_TRUE(task.result.has_value());
  EXPECT_EQ(task.result->state, State::kSucceeded);
  ASSERT_TRUE(task.started.has_value());
  ASSERT_TRUE(task.finished.has_value());
  EXPECT_EQ(*task.finished, *task.started);
  ASSERT_TRUE(task.spec);
  EXPECT_EQ(task.spec->kind, NodeKind::kSleep);
  EXPECT_EQ(task.spec->duration, Duration::zero());
  const auto usage = engine_->usage("alpha");
  EXPECT_EQ(usage->permits_in_use, 0u);
  EXPECT_EQ(usage->live_tasks, 0u);
  io_.restart();
  EXPECT_EQ(io_.poll(), 0u);
}

TEST_F(EngineTest, ARootSleepOfZeroBehindAFullSemaphoreEndsWhenItGetsItsPermit) {
  for (int i = 0; i < 3; ++i) spawn(sleep_node(1s));
  const auto id = spawn(sleep_node(0ms));
  EXPECT_EQ(state(id), State::kPending);
  advance(1s);
  const auto task = get(id);
  EXPECT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(*task.finished - task.created, 1s);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(EngineTest, ARootSleepOfZeroAbortedWhileQueuedIsCancelledNotRun) {
  for (int i = 0; i < 3; ++i) spawn(sleep_node(1s));
  const auto id = spawn(sleep_node(0ms));
  ASSERT_TRUE(engine_->abort("alpha", {id}).has_value());
  settle();
  EXPECT_EQ(state(id), State::kCancelled);
  advance(1s);
  EXPECT_EQ(state(id), State::kCancelled);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(EngineTest, ARootSleepOfZeroIsWatchedThroughEveryState) {
  auto watch = engine_->watch("alpha", {});
  ASSERT_TRUE(watch.has_value());
  const auto id = spawn(sleep_node(0ms));
  std::vector<std::pair<std::string, State>> seen;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
          auto event = co_await (*watch)->next();
          if (!event || !*event) break;
          seen.emplace_back((*event)->id, (*event)->state);
        }
      },
      [](std::exception_ptr e) { ASSERT_FALSE(e); });
  settle();
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, State>>{
                      {id, State::kPending}, {id, State::kRunning}, {id, State::kSucceeded}}));
}

TEST_F(EngineTest, ASpawnBatchOfZeroSleepsEndsThoseWithAPermitAtOnceAndTheRestInTurn) {
  std::vector<SpawnArgs> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(SpawnArgs{sleep_node(0ms), "", {}, ""});
  auto outcomes = engine_->spawn_batch("alpha", std::move(batch));
  ASSERT_TRUE(outcomes.has_value());
  ASSERT_EQ(outcomes->size(), 10u);
  // Three permits: the first three ended inside the call; the rest get theirs as those return.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(state((*outcomes)[i].id), State::kSucceeded) << i;
  settle();
  for (const auto& outcome : *outcomes) EXPECT_EQ(state(outcome.id), State::kSucceeded);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
  EXPECT_EQ(engine_->usage("alpha")->live_tasks, 0u);
}

TEST_F(EngineTest, OnTerminalInlineOfAFinishedTaskRunsBeforeItReturns) {
  const auto id = spawn(sleep_node(0ms));
  int calls = 0;
  auto wait = engine_->on_terminal(
      "alpha", id,
      [&](TaskSnapshot task) {
        ++calls;
        EXPECT_EQ(task.id, id);
        EXPECT_EQ(task.state, State::kSucceeded);
        ASSERT_TRUE(task.result.has_value());
      },
      {}, TerminalDelivery::kInline);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(engine_->cancel_on_terminal(*wait));
  settle();
  EXPECT_EQ(calls, 1);
}

TEST_F(EngineTest, OnTerminalInlineOfARunningTaskCallsBackWhenItEnds) {
  const auto id = spawn(sleep_node(100ms));
  int calls = 0;
  auto wait = engine_->on_terminal("alpha", id, [&](TaskSnapshot) { ++calls; }, {}, TerminalDelivery::kInline);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(calls, 0);
  advance(100ms);
  EXPECT_EQ(calls, 1);
  // A wait still registered can be cancelled as any other.
  const auto other = spawn(sleep_node(100ms));
  auto cancelled = engine_->on_terminal("alpha", other, [&](TaskSnapshot) { ++calls; }, {},
                                        TerminalDelivery::kInline);
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_TRUE(engine_->cancel_on_terminal(*cancelled));
  advance(100ms);
  EXPECT_EQ(calls, 1);
}

// A sleep of 0 that ends inside spawn counts as any task: spawned once, finished once with its
// outcome, one run time and one permit wait observed.
TEST(EngineMetrics, ARootSleepOfZeroIsCountedOnceSpawnedAndOnceFinished) {
  Clock::use_manual();
  asio::io_context io;
  metrics::Metrics metrics;
  {
    Engine engine(io.get_executor(), EngineOptions{}, &metrics);
    engine.add_tenant({"alpha", 3, 20});
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(engine.spawn("alpha", SpawnArgs{sleep_node(0ms), "", {}, ""}).has_value());
    }
    io.restart();
    io.poll();
    auto& tenant = metrics.add_tenant("alpha");
    EXPECT_EQ(tenant.spawned(metrics::KindLabel::kSleep).Value(), 5);
    EXPECT_EQ(tenant.finished(metrics::KindLabel::kSleep, metrics::OutcomeLabel::kSucceeded).Value(), 5);
    for (auto outcome : {metrics::OutcomeLabel::kFailed, metrics::OutcomeLabel::kCancelled,
                         metrics::OutcomeLabel::kTimedOut}) {
      EXPECT_EQ(tenant.finished(metrics::KindLabel::kSleep, outcome).Value(), 0);
    }
    EXPECT_EQ(metrics.task_duration(metrics::KindLabel::kSleep).Collect().histogram.sample_count, 5u);
    EXPECT_EQ(tenant.permit_wait.Collect().histogram.sample_count, 5u);
    EXPECT_EQ(engine.usage("alpha")->permits_in_use, 0u);
  }
  Clock::use_real();
}

TEST_F(EngineTest, AbortWithAReasonExplainsTheCancellation) {
  const auto id = spawn(sleep_node(1s));
  auto aborted = engine_->abort("alpha", {id}, "cancelled: the caller went away");
  ASSERT_TRUE(aborted.has_value());
  settle();
  const auto task = get(id);
  EXPECT_EQ(task.state, State::kCancelled);
  ASSERT_TRUE(task.result.has_value());
  EXPECT_EQ(task.result->error, "cancelled: the caller went away");
}

TEST_F(EngineTest, WatchStreamsStatesUntilTheTaskEnds) {
  for (int i = 0; i < 3; ++i) spawn(sleep_node(100ms));
  const auto id = spawn(sleep_node(100ms));
  auto watch = engine_->watch("alpha", {id});
  ASSERT_TRUE(watch.has_value());
  std::vector<State> seen;
  bool ended = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          auto event = co_await (*watch)->next();
          if (!event || !*event) break;
          seen.push_back((*event)->state);
        }
        ended = true;
      },
      [](std::exception_ptr e) { ASSERT_FALSE(e); });
  advance(100ms);
  advance(100ms);
  EXPECT_TRUE(ended);
  EXPECT_EQ(seen, (std::vector<State>{State::kPending, State::kRunning, State::kSucceeded}));
}

TEST_F(EngineTest, ListPagesNewestFirstAndFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(spawn(sleep_node(i < 2 ? 0ms : 1s)));
  auto page = engine_->list("alpha", ListQuery{std::nullopt, {}, 2, ""});
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->tasks.size(), 2u);
  EXPECT_EQ(page->tasks[0].id, ids[4]);
  EXPECT_EQ(page->tasks[1].id, ids[3]);
  auto next = engine_->list("alpha", ListQuery{std::nullopt, {}, 2, page->next_page_token});
  EXPECT_EQ(next->tasks[0].id, ids[2]);
  auto done = engine_->list("alpha", ListQuery{State::kSucceeded, {}, 10, ""});
  ASSERT_EQ(done->tasks.size(), 2u);
  EXPECT_TRUE(done->next_page_token.empty());
}

TEST_F(EngineTest, DrainRefusesSpawnsThenCancelsWhatOutlivesTheGrace) {
  const auto quick = spawn(sleep_node(100ms));
  const auto slow = spawn(sleep_node(10s));
  engine_->stop_accepting();
  auto refused = engine_->spawn("alpha", SpawnArgs{sleep_node(1s), "", {}, ""});
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  bool drained = false;
  asio::co_spawn(io_, engine_->drain(1s), [&](std::exception_ptr e) {
    ASSERT_FALSE(e);
    drained = true;
  });
  settle();
  advance(100ms);
  EXPECT_EQ(state(quick), State::kSucceeded);
  EXPECT_FALSE(drained);
  advance(900ms);
  EXPECT_TRUE(drained);
  EXPECT_EQ(state(slow), State::kCancelled);
  EXPECT_EQ(get(slow).result->error, "cancelled: orchestrd is shutting down");
}

// A queued task is a small entry of the tenant's semaphore, no coroutine: its abort takes it
// out of the queue, ends it CANCELLED with the usual reason, and it never runs.
TEST_F(EngineTest, AbortOfAQueuedTaskTakesItOutOfTheQueue) {
  for (int i = 0; i < 3; ++i) spawn(sleep_node(1s));
  const auto first = spawn(sleep_node(1s));
  const auto second = spawn(sleep_node(1s));
  EXPECT_EQ(engine_->usage("alpha")->permits_waiting, 2u);
  auto aborted = engine_->abort("alpha", {first});
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(*aborted, std::vector<std::string>{first});
  settle();
  const auto task = get(first);
  ASSERT_EQ(task.state, State::kCancelled);
  ASSERT_TRUE(task.result.has_value());
  EXPECT_EQ(task.result->state, State::kCancelled);
  EXPECT_EQ(task.result->error, "cancelled: aborted by request");
  EXPECT_FALSE(task.started.has_value());
  EXPECT_TRUE(task.finished.has_value());
  EXPECT_EQ(engine_->usage("alpha")->permits_waiting, 1u);
  EXPECT_EQ(engine_->usage("alpha")->live_tasks, 4u);
  // The freed permit goes to the next in the queue; the aborted task stays cancelled.
  advance(1s);
  EXPECT_EQ(state(second), State::kRunning);
  EXPECT_EQ(state(first), State::kCancelled);
  advance(1s);
  EXPECT_EQ(state(second), State::kSucceeded);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

// Queued root leaves (semaphore entries) and the leaves of running trees (parked coroutines)
// share one arrival order.
TEST_F(EngineTest, QueuedRootsAndTreeLeavesAreGrantedInArrivalOrder) {
  engine_->add_tenant({"gamma", 1, 20});
  const auto holder = spawn(sleep_node(1s), "gamma");
  const auto tree_a = spawn(join_node({sleep_node(1s)}), "gamma");
  const auto root_b = spawn(sleep_node(1s), "gamma");
  const auto tree_c = spawn(sequence_node({sleep_node(1s)}), "gamma");
  const auto root_d = spawn(sleep_node(1s), "gamma");
  EXPECT_EQ(engine_->usage("gamma")->permits_waiting, 4u);
  const std::vector<std::string> order{tree_a, root_b, tree_c, root_d};
  EXPECT_EQ(get(holder, "gamma").state, State::kRunning);
  for (std::size_t i = 0; i < order.size(); ++i) {
    advance(1s);
    for (std::size_t j = 0; j < order.size(); ++j) {
      const State expected = j < i ? State::kSucceeded : j == i ? State::kRunning : State::kPending;
      EXPECT_EQ(get(order[j], "gamma").state, expected) << "wave " << i << ", task " << j;
    }
  }
  advance(1s);
  EXPECT_EQ(get(root_d, "gamma").state, State::kSucceeded);
}

// A queued task's coroutine state is made only at grant time; a reload that raises the limit
// starts queued tasks at once, each showing when it really started.
TEST_F(EngineTest, QueuedTasksStartWhenARaisedLimitGrantsThem) {
  for (int i = 0; i < 3; ++i) spawn(sleep_node(1s));
  std::vector<std::string> queued;
  for (int i = 0; i < 4; ++i) queued.push_back(spawn(sleep_node(500ms)));
  for (const auto& id : queued) EXPECT_FALSE(get(id).started.has_value());
  advance(100ms);
  engine_->add_tenant({"alpha", 7, 20});
  settle();
  for (const auto& id : queued) {
    const auto task = get(id);
    EXPECT_EQ(task.state, State::kRunning);
    ASSERT_TRUE(task.started.has_value());
    EXPECT_EQ(*task.started - task.created, 100ms);
  }
  advance(500ms);
  for (const auto& id : queued) EXPECT_EQ(state(id), State::kSucceeded);
}

// An abort that meets a task whose grant is on its way (granted, not yet started) ends it
// before its first step, and the permit it was handed goes back.
TEST_F(EngineTest, AbortOfATaskBeingGrantedEndsItBeforeItsFirstStep) {
  engine_->add_tenant({"gamma", 1, 20});
  const auto holder = spawn(sleep_node(1s), "gamma");
  const auto next = spawn(sleep_node(1s), "gamma");
  const auto last = spawn(sleep_node(1s), "gamma");
  Clock::advance(1s);
  // Run handlers one by one until the holder's timer handler has run: its permit is granted
  // to `next`, whose start is posted but has not run.
  for (int i = 0; i < 100 && get(holder, "gamma").state != State::kSucceeded; ++i) {
    io_.restart();
    io_.poll_one();
  }
  ASSERT_EQ(get(holder, "gamma").state, State::kSucceeded);
  ASSERT_EQ(get(next, "gamma").state, State::kPending);
  ASSERT_TRUE(engine_->abort("gamma", {next}).has_value());
  settle();
  const auto task = get(next, "gamma");
  EXPECT_EQ(task.state, State::kCancelled);
  EXPECT_EQ(task.result->error, "cancelled: aborted by request");
  EXPECT_FALSE(task.started.has_value());
  EXPECT_EQ(get(last, "gamma").state, State::kRunning);
  EXPECT_EQ(engine_->usage("gamma")->permits_in_use, 1u);
}

TEST_F(EngineTest, ABareSleepReadsBackItsSpecAndAbortsLikeAnyTask) {
  const auto id = spawn(sleep_node(5s));
  const auto task = get(id);
  ASSERT_TRUE(task.spec);
  EXPECT_EQ(task.spec->kind, NodeKind::kSleep);
  EXPECT_EQ(task.spec->duration, 5s);
  advance(1s);
  ASSERT_TRUE(engine_->abort("alpha", {id}).has_value());
  settle();
  const auto done = get(id);
  EXPECT_EQ(done.state, State::kCancelled);
  EXPECT_EQ(done.result->error, "cancelled: aborted by request");
  EXPECT_EQ(*done.result->finished - *done.result->started, 1s);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(EngineTest, JoinOfManyTasksSomeAlreadyEnded) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(spawn(sleep_node(0ms)));
  for (int i = 0; i < 10; ++i) ids.push_back(spawn(sleep_node(100ms)));
  std::optional<Result<std::vector<TaskSnapshot>>> joined;
  start(engine_->join("alpha", ids, {}), joined);
  EXPECT_FALSE(joined.has_value());
  for (int wave = 0; wave < 4 && !joined; ++wave) advance(100ms);
  ASSERT_TRUE(joined.has_value() && joined->has_value());
  ASSERT_EQ((*joined)->size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ((**joined)[i].id, ids[i]);
    EXPECT_EQ((**joined)[i].state, State::kSucceeded);
  }
}

TEST_F(EngineTest, JoinInTheStateDetailCopiesNoTreesAndOnlyTheFailuresError) {
  const auto ok = engine_->spawn("alpha", SpawnArgs{sleep_node(10ms), "named", {{"k", "v"}}, "key"});
  ASSERT_TRUE(ok.has_value());
  const auto late = spawn(timeout_node(10ms, join_node({sleep_node(1s), sleep_node(1s)})));
  std::optional<Result<std::vector<TaskSnapshot>>> brief;
  JoinOptions options;
  options.detail = SnapshotDetail::kState;
  start(engine_->join("alpha", {ok->id, late}, options), brief);
  advance(10ms);
  ASSERT_TRUE(brief.has_value() && brief->has_value());
  const TaskSnapshot& succeeded = (**brief)[0];
  EXPECT_EQ(succeeded.id, ok->id);
  EXPECT_EQ(succeeded.state, State::kSucceeded);
  EXPECT_FALSE(succeeded.result.has_value());
  EXPECT_EQ(succeeded.spec, nullptr);
  EXPECT_TRUE(succeeded.name.empty() && succeeded.labels.empty() && succeeded.idempotency_key.empty());
  EXPECT_TRUE(succeeded.finished.has_value());

  const TaskSnapshot& timed_out = (**brief)[1];
  const TaskSnapshot full = get(late);
  EXPECT_EQ(timed_out.state, State::kTimedOut);
  ASSERT_TRUE(timed_out.result.has_value() && full.result.has_value());
  EXPECT_EQ(timed_out.result->state, State::kTimedOut);
  EXPECT_EQ(timed_out.result->error, full.result->error);
  EXPECT_FALSE(full.result->children.empty());
  EXPECT_TRUE(timed_out.result->children.empty());  // the tree is not copied
  EXPECT_EQ(timed_out.spec, nullptr);

  // The default detail is the full snapshot, as Get reads it.
  std::optional<Result<std::vector<TaskSnapshot>>> whole;
  start(engine_->join("alpha", {ok->id}, {}), whole);
  ASSERT_TRUE(whole.has_value() && whole->has_value());
  EXPECT_EQ((**whole)[0].name, "named");
  ASSERT_NE((**whole)[0].spec, nullptr);
  EXPECT_EQ((**whole)[0].spec->kind, NodeKind::kSleep);
  EXPECT_TRUE((**whole)[0].result.has_value());
}

TEST_F(EngineTest, UnknownAndMalformedIdsAreNotFound) {
  spawn(sleep_node(1s));
  for (const std::string id : {"", "nope", "ZZZZZZZZZZZZZ", "0000000000000", "zzzzzzzzzzzzz"}) {
    auto read = engine_->get("alpha", id);
    ASSERT_FALSE(read.has_value()) << id;
    EXPECT_EQ(read.error().code, ErrorCode::kNotFound);
    EXPECT_EQ(read.error().message, "task " + id + " not found");
  }
}

}  // namespace
}  // namespace orch::engine
