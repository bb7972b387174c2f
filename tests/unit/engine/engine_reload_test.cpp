// A configuration reload changes a tenant's permits and queue under load (Engine::add_tenant
// for a tenant that exists), against a manual clock as in engine_test.cpp.
#include "orch/engine/engine.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

using namespace std::chrono_literals;

namespace orch::engine {
namespace {

namespace asio = boost::asio;

Node sleep_node(Duration d) { return make_node(NodeKind::kSleep, d); }

class EngineReloadTest : public ::testing::Test {
 protected:
  EngineReloadTest() {
    Clock::use_manual();
    engine_.emplace(io_.get_executor(), EngineOptions{std::chrono::hours(1)});
    engine_->add_tenant({"alpha", 3, 20});
    engine_->add_tenant({"beta", 3, 20});
  }
  ~EngineReloadTest() override {
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

TEST_F(EngineReloadTest, AGrowingLimitStartsQueuedTasksAtOnce) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(spawn(sleep_node(1s)));
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 3u);
  EXPECT_EQ(engine_->usage("alpha")->permits_waiting, 4u);
  engine_->add_tenant({"alpha", 5, 20});
  settle();
  // Two queued tasks start now, in arrival order; nothing running was touched.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(state(ids[i]), State::kRunning) << i;
  for (int i = 5; i < 7; ++i) EXPECT_EQ(state(ids[i]), State::kPending) << i;
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 5u);
  advance(1s);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(state(ids[i]), State::kSucceeded) << i;
  EXPECT_EQ(state(ids[5]), State::kRunning);
  advance(1s);
  EXPECT_EQ(state(ids[6]), State::kSucceeded);
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(EngineReloadTest, AShrinkingLimitLetsRunningTasksFinishAndThenHoldsTheNewLimit) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(spawn(sleep_node(1s)));
  engine_->add_tenant({"alpha", 1, 20});
  settle();
  // The three running tasks keep their permits and finish; the queue waits.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(state(ids[i]), State::kRunning) << i;
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 3u);
  advance(1s);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(state(ids[i]), State::kSucceeded) << i;
  // From now on one at a time.
  for (int round = 3; round < 6; ++round) {
    EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 1u) << round;
    EXPECT_EQ(state(ids[round]), State::kRunning) << round;
    for (int later = round + 1; later < 6; ++later) EXPECT_EQ(state(ids[later]), State::kPending);
    advance(1s);
    EXPECT_EQ(state(ids[round]), State::kSucceeded) << round;
  }
  EXPECT_EQ(engine_->usage("alpha")->permits_in_use, 0u);
}

TEST_F(EngineReloadTest, ANewQueueBoundAppliesToTheNextSpawnAndAnotherTenantIsUntouched) {
  for (int i = 0; i < 5; ++i) spawn(sleep_node(1s));  // 3 running, 2 queued
  engine_->add_tenant({"alpha", 3, 2});
  auto refused = engine_->spawn("alpha", SpawnArgs{sleep_node(1s), "", {}, ""});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "tenant alpha has 2 tasks queued (max_queued=2)");
  EXPECT_EQ(engine_->usage("alpha")->live_tasks, 5u);
  EXPECT_EQ(engine_->usage("beta")->permits_in_use, 0u);
  engine_->add_tenant({"alpha", 3, 3});
  EXPECT_TRUE(engine_->spawn("alpha", SpawnArgs{sleep_node(1s), "", {}, ""}).has_value());
}

TEST_F(EngineReloadTest, AWatchWhoseReaderStopsReadingEndsPastItsBacklogInsteadOfGrowing) {
  engine_->add_tenant({"bulk", 1, 20'000});
  auto watch = engine_->watch("bulk", {});
  ASSERT_TRUE(watch.has_value());
  // Each spawn is one event (PENDING); nobody reads them.
  for (std::size_t i = 0; i <= TaskWatch::kMaxBacklog; ++i) {
    ASSERT_TRUE(engine_->spawn("bulk", SpawnArgs{sleep_node(1h), "", {}, ""}).has_value());
  }
  settle();
  // The reader finds the stream ended with RESOURCE_EXHAUSTED, not a backlog of every event.
  std::optional<Result<std::optional<TaskSnapshot>>> next;
  start((*watch)->next(), next);
  ASSERT_TRUE(next.has_value());
  ASSERT_FALSE(next->has_value());
  EXPECT_EQ(next->error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(next->error().message.find("fell more than 10000 events behind"), std::string::npos);
}

}  // namespace
}  // namespace orch::engine
