// Interval schedules against the real engine and a manual clock: what each tick spawns, the
// overlap policy, pause and resume, delete, and tenant isolation.
#include "orch/schedules/schedule_registry.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <set>

#include "orch/metrics/metrics.h"

using namespace std::chrono_literals;

constexpr std::uint32_t kMaxSchedules = 10;

namespace orch::schedules {
namespace {

namespace asio = boost::asio;
using engine::Clock;
using engine::ErrorCode;
using engine::Node;
using engine::NodeKind;

Node sleep_node(Duration d) { return engine::make_node(NodeKind::kSleep, d); }

class ScheduleRegistryTest : public ::testing::Test {
 protected:
  ScheduleRegistryTest() {
    Clock::use_manual();
    engine_.emplace(io_.get_executor(), engine::EngineOptions{std::chrono::hours(1)});
    engine_->add_tenant({"alpha", 3, 20});
    engine_->add_tenant({"beta", 3, 20});
    registry_.emplace(io_.get_executor(), *engine_, &metrics_);
  }
  ~ScheduleRegistryTest() override {
    registry_->stop();
    settle();
    engine_->stop_accepting();
    asio::co_spawn(io_, engine_->drain(Duration::zero()), asio::detached);
    settle();
    registry_.reset();
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
  // Moves the clock 1 ms at a time, running what comes due at each step.
  void advance(Duration d) {
    for (Duration t{}; t < d; t += 1ms) {
      Clock::advance(1ms);
      settle();
    }
  }

  ScheduleSpec spec(std::string name, Duration period, Duration task, OverlapPolicy overlap) {
    ScheduleSpec s;
    s.name = std::move(name);
    s.timing.start = Clock::now();
    s.timing.period = period;
    s.overlap = overlap;
    s.task_template = sleep_node(task);
    s.task_labels = {{"team", "core"}};
    return s;
  }

  ScheduleSnapshot create(std::string tenant, ScheduleSpec s) {
    auto created = registry_->create(tenant, std::move(s), kMaxSchedules);
    EXPECT_TRUE(created.has_value()) << (created ? "" : created.error().message);
    settle();
    return created ? *created : ScheduleSnapshot{};
  }

  ScheduleSnapshot get(const std::string& name, std::string tenant = "alpha") {
    auto s = registry_->get(tenant, name);
    EXPECT_TRUE(s.has_value());
    return s ? *s : ScheduleSnapshot{};
  }

  std::vector<engine::TaskSnapshot> tasks_of(const std::string& name) {
    engine::ListQuery query;
    query.labels = {{"schedule", name}};
    auto page = engine_->list("alpha", query);
    EXPECT_TRUE(page.has_value());
    return page ? page->tasks : std::vector<engine::TaskSnapshot>{};
  }

  // The value of `family{schedule="NAME",tenant="alpha"}` in the exposition; nullopt when the
  // series is absent.
  std::optional<double> series(const std::string& family, const std::string& name) {
    const std::string text = metrics_.serialize();
    const std::string key = family + "{schedule=\"" + name + "\",tenant=\"alpha\"} ";
    const auto at = text.find(key);
    if (at == std::string::npos) return std::nullopt;
    return std::stod(text.substr(at + key.size()));
  }

  metrics::Metrics metrics_;
  asio::io_context io_;
  std::optional<engine::Engine> engine_;
  std::optional<ScheduleRegistry> registry_;
};

TEST_F(ScheduleRegistryTest, EachTickSpawnsTheTemplateLabelledWithScheduleAndTickUntilMaxTicks) {
  auto s = spec("nightly", 10ms, 1ms, OverlapPolicy::kAllow);
  s.max_ticks = 3;
  create("alpha", std::move(s));
  advance(100ms);
  const auto tasks = tasks_of("nightly");
  ASSERT_EQ(tasks.size(), 3u);
  std::set<std::string> ticks;
  for (const auto& task : tasks) {
    EXPECT_EQ(task.name, "nightly");
    EXPECT_EQ(task.labels.at("team"), "core");
    ticks.insert(task.labels.at("tick"));
    EXPECT_EQ(task.state, engine::State::kSucceeded);
  }
  EXPECT_EQ(ticks, (std::set<std::string>{"1", "2", "3"}));
  const auto info = get("nightly");
  EXPECT_EQ(info.state, ScheduleSnapshot::State::kFinished);
  EXPECT_EQ(info.ticks_fired, 3u);
  EXPECT_FALSE(info.next_tick_at.has_value());
  EXPECT_EQ(info.running_tasks, 0u);
}

TEST_F(ScheduleRegistryTest, OverlapSkipSpawnsNothingWhileTheLastTaskRuns) {
  create("alpha", spec("slow", 10ms, 25ms, OverlapPolicy::kSkip));
  // Tick 0 spawns (runs to 25); 10 and 20 are skipped; 30 spawns (runs to 55); 40, 50 skipped.
  advance(50ms);
  const auto info = get("slow");
  EXPECT_EQ(info.ticks_fired, 2u);
  EXPECT_EQ(info.ticks_skipped, 4u);
  EXPECT_EQ(info.running_tasks, 1u);
  EXPECT_EQ(tasks_of("slow").size(), 2u);
}

TEST_F(ScheduleRegistryTest, APausedScheduleSpawnsNothingUntilResumed) {
  create("alpha", spec("p", 10ms, 1ms, OverlapPolicy::kAllow));
  EXPECT_EQ(get("p").ticks_fired, 1u);  // the first tick is due at once
  ASSERT_TRUE(registry_->pause("alpha", "p").has_value());
  advance(35ms);
  auto info = get("p");
  EXPECT_EQ(info.state, ScheduleSnapshot::State::kPaused);
  EXPECT_EQ(info.ticks_fired, 1u);
  EXPECT_FALSE(info.next_tick_at.has_value());
  ASSERT_TRUE(registry_->resume("alpha", "p", false).has_value());
  advance(10ms);
  info = get("p");
  EXPECT_EQ(info.state, ScheduleSnapshot::State::kActive);
  EXPECT_GE(info.ticks_fired, 2u);
  EXPECT_GT(info.ticks_missed, 0u);
}

TEST_F(ScheduleRegistryTest, SchedulesDueAtOneInstantEachSpawnTheirOwnTicks) {
  // One timer wakes them all: every schedule still gets each of its own ticks, once.
  for (int i = 0; i < 5; ++i) {
    auto s = spec("same" + std::to_string(i), 10ms, 1ms, OverlapPolicy::kAllow);
    s.max_ticks = 3;
    registry_->create("alpha", std::move(s), kMaxSchedules);
  }
  settle();
  advance(45ms);
  for (int i = 0; i < 5; ++i) {
    const std::string name = "same" + std::to_string(i);
    EXPECT_EQ(get(name).ticks_fired, 3u) << name;
    EXPECT_EQ(get(name).state, ScheduleSnapshot::State::kFinished) << name;
    EXPECT_EQ(tasks_of(name).size(), 3u) << name;
  }
}

TEST_F(ScheduleRegistryTest, ResumeWithResetMovesTheNextTickOnePeriodFromTheResume) {
  create("alpha", spec("r", 10ms, 1ms, OverlapPolicy::kAllow));
  ASSERT_EQ(get("r").ticks_fired, 1u);
  advance(5ms);
  // Reset while active: the tick due at 10 ms moves to 15 ms (the hub's wake-up at 10 finds
  // nothing due).
  ASSERT_TRUE(registry_->pause("alpha", "r").has_value());
  auto resumed = registry_->resume("alpha", "r", true);
  ASSERT_TRUE(resumed.has_value());
  ASSERT_TRUE(resumed->next_tick_at.has_value());
  EXPECT_EQ(*resumed->next_tick_at, Clock::now() + 10ms);
  advance(9ms);
  EXPECT_EQ(get("r").ticks_fired, 1u);
  advance(1ms);
  EXPECT_EQ(get("r").ticks_fired, 2u);
  advance(10ms);
  EXPECT_EQ(get("r").ticks_fired, 3u);
}

TEST_F(ScheduleRegistryTest, ADeletedScheduleNeverFiresAgainAndItsNameCanBeReused) {
  create("alpha", spec("d", 10ms, 1ms, OverlapPolicy::kAllow));
  ASSERT_TRUE(registry_->remove("alpha", "d", false).has_value());
  advance(30ms);
  EXPECT_EQ(tasks_of("d").size(), 1u);  // only the first tick, spawned at creation
  create("alpha", spec("d", 10ms, 1ms, OverlapPolicy::kAllow));
  advance(10ms);
  EXPECT_EQ(get("d").ticks_fired, 2u);
  EXPECT_EQ(tasks_of("d").size(), 3u);
}

TEST_F(ScheduleRegistryTest, NamesAreUniquePerTenantAndInvisibleToOtherTenants) {
  create("alpha", spec("n", 1s, 1ms, OverlapPolicy::kSkip));
  auto again = registry_->create("alpha", spec("n", 1s, 1ms, OverlapPolicy::kSkip), kMaxSchedules);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  auto other = registry_->get("beta", "n");
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code, ErrorCode::kNotFound);
  create("beta", spec("n", 1s, 1ms, OverlapPolicy::kSkip));
  EXPECT_EQ(registry_->list("alpha").size(), 1u);
  EXPECT_EQ(registry_->list("beta").size(), 1u);
}

TEST_F(ScheduleRegistryTest, DeleteWithAbortRunningAbortsTheTaskAndNoTickFiresAgain) {
  create("alpha", spec("d", 10ms, 1h, OverlapPolicy::kSkip));
  const auto running = get("d").last_task_id;
  ASSERT_FALSE(running.empty());
  auto aborted = registry_->remove("alpha", "d", true);
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(*aborted, std::vector<std::string>{running});
  advance(50ms);
  EXPECT_EQ(tasks_of("d").size(), 1u);
  EXPECT_EQ(engine_->get("alpha", running)->state, engine::State::kCancelled);
  EXPECT_EQ(registry_->get("alpha", "d").error().code, ErrorCode::kNotFound);
}

TEST_F(ScheduleRegistryTest, CancelPreviousAbortsTheRunningTaskBeforeSpawningTheNext) {
  create("alpha", spec("c", 10ms, 1h, OverlapPolicy::kCancelPrevious));
  const auto first = get("c").last_task_id;
  advance(10ms);
  const auto info = get("c");
  EXPECT_EQ(engine_->get("alpha", first)->state, engine::State::kCancelled);
  EXPECT_NE(info.last_task_id, first);
  EXPECT_EQ(info.ticks_fired, 2u);
  EXPECT_EQ(info.running_tasks, 1u);
}

TEST_F(ScheduleRegistryTest, BufferOneSpawnsTheHeldTickWhenTheRunningTaskEnds) {
  create("alpha", spec("b", 10ms, 25ms, OverlapPolicy::kBufferOne));
  advance(10ms);  // tick 2 is held while task 1 runs until 25
  auto info = get("b");
  EXPECT_TRUE(info.tick_buffered);
  EXPECT_EQ(info.ticks_fired, 1u);
  advance(15ms);  // task 1 ends at 25: the held tick spawns at once
  info = get("b");
  EXPECT_EQ(info.ticks_fired, 2u);
  EXPECT_FALSE(info.tick_buffered);
  EXPECT_EQ(info.ticks_skipped, 1u);  // the tick due at 20 found one held already
  EXPECT_EQ(info.running_tasks, 1u);
}

TEST_F(ScheduleRegistryTest, ARefusedSpawnIsCountedWithItsReason) {
  engine_->stop_accepting();
  create("alpha", spec("r", 10ms, 1ms, OverlapPolicy::kSkip));
  advance(20ms);
  const auto info = get("r");
  EXPECT_EQ(info.ticks_fired, 0u);
  EXPECT_EQ(info.ticks_rejected, 3u);
  EXPECT_FALSE(info.last_error.empty());
  EXPECT_EQ(info.running_tasks, 0u);
}

}  // namespace
}  // namespace orch::schedules

namespace orch::schedules {
namespace {

TEST_F(ScheduleRegistryTest, ATenantHasAtMostMaxSchedules) {
  for (std::uint32_t i = 0; i < kMaxSchedules; ++i) {
    create("alpha", spec("s" + std::to_string(i), 1s, 1ms, OverlapPolicy::kSkip));
  }
  auto over = registry_->create("alpha", spec("one-more", 1s, 1ms, OverlapPolicy::kSkip), kMaxSchedules);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(over.error().message, "tenant alpha has 10 schedules (max_schedules=10)");
  // Another tenant's schedules do not count, and a deleted one frees its place.
  create("beta", spec("s0", 1s, 1ms, OverlapPolicy::kSkip));
  ASSERT_TRUE(registry_->remove("alpha", "s3", false).has_value());
  create("alpha", spec("one-more", 1s, 1ms, OverlapPolicy::kSkip));
}

TEST_F(ScheduleRegistryTest, MetricsCountFiredSkippedAndMissedTicksPerSchedule) {
  // Tick 0 spawns (runs to 25); 10 and 20 are skipped by the overlap policy; 30 spawns.
  create("alpha", spec("slow", 10ms, 25ms, OverlapPolicy::kSkip));
  advance(35ms);
  EXPECT_EQ(series("orch_schedule_ticks_fired_total", "slow"), 2.0);
  EXPECT_EQ(series("orch_schedule_ticks_skipped_total", "slow"), 2.0);
  EXPECT_EQ(series("orch_schedule_ticks_missed_total", "slow"), 0.0);
  EXPECT_EQ(series("orch_schedule_tick_lateness_seconds_count", "slow"), 4.0);

  // Paused for 3 periods: resuming (SKIP behaviour) misses the ticks passed meanwhile.
  ASSERT_TRUE(registry_->pause("alpha", "slow").has_value());
  advance(30ms);
  ASSERT_TRUE(registry_->resume("alpha", "slow", false).has_value());
  advance(1ms);
  const auto info = get("slow");
  EXPECT_GT(info.ticks_missed, 0u);
  EXPECT_EQ(series("orch_schedule_ticks_missed_total", "slow"), static_cast<double>(info.ticks_missed));
  EXPECT_EQ(series("orch_schedule_ticks_fired_total", "slow"), static_cast<double>(info.ticks_fired));
  EXPECT_EQ(series("orch_schedule_ticks_skipped_total", "slow"), static_cast<double>(info.ticks_skipped));
}

TEST_F(ScheduleRegistryTest, LatenessIsHowLongAfterItsDueInstantATickFired) {
  auto s = spec("late", 10ms, 1ms, OverlapPolicy::kAllow);
  s.timing.missed_tick_behavior = MissedTickBehavior::kBurst;
  create("alpha", std::move(s));
  // The daemon stalls for 25 ms: the ticks due at 10 and 20 fire at 25 (BURST), 15 and 5 ms late.
  Clock::advance(25ms);
  settle();
  EXPECT_EQ(series("orch_schedule_tick_lateness_seconds_count", "late"), 3.0);
  const double sum = *series("orch_schedule_tick_lateness_seconds_sum", "late");
  EXPECT_NEAR(sum, 0.020, 1e-9);
}

TEST_F(ScheduleRegistryTest, DeletingAScheduleRemovesItsSeriesAndANewOneOfTheSameNameStartsAtZero) {
  create("alpha", spec("gone", 10ms, 1ms, OverlapPolicy::kAllow));
  advance(20ms);
  EXPECT_EQ(series("orch_schedule_ticks_fired_total", "gone"), 3.0);
  ASSERT_TRUE(registry_->remove("alpha", "gone", false).has_value());
  EXPECT_EQ(series("orch_schedule_ticks_fired_total", "gone"), std::nullopt);
  EXPECT_EQ(series("orch_schedule_tick_lateness_seconds_count", "gone"), std::nullopt);
  create("alpha", spec("gone", 10ms, 1ms, OverlapPolicy::kAllow));
  EXPECT_EQ(series("orch_schedule_ticks_fired_total", "gone"), 1.0);
}

}  // namespace
}  // namespace orch::schedules
