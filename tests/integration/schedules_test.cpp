// ScheduleService's interval schedules against the real daemon: each tick spawns the template
// into the caller's tenant, labelled with the schedule and the tick.
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "orch/v1/schedules.grpc.pb.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

class ScheduleCalls {
 public:
  explicit ScheduleCalls(orch::client::Client& client)
      : client_(client), stub_(v1::ScheduleService::NewStub(client.channel())) {}

  grpc::Status create(const v1::CreateIntervalRequest& request, v1::ScheduleInfo& info) {
    auto ctx = client_.context(std::chrono::seconds(10));
    return stub_->CreateInterval(ctx.get(), request, &info);
  }
  grpc::Status get(const std::string& name, v1::ScheduleInfo& info) {
    auto ctx = client_.context(std::chrono::seconds(10));
    v1::GetScheduleRequest request;
    request.set_name(name);
    return stub_->Get(ctx.get(), request, &info);
  }
  grpc::Status remove(const std::string& name, bool abort_running,
                      v1::DeleteScheduleResponse& response) {
    auto ctx = client_.context(std::chrono::seconds(10));
    v1::DeleteScheduleRequest request;
    request.set_name(name);
    request.set_abort_running(abort_running);
    return stub_->Delete(ctx.get(), request, &response);
  }
  // Polls Get until the schedule is FINISHED (or 10 s pass).
  v1::ScheduleInfo wait_finished(const std::string& name) {
    v1::ScheduleInfo info;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      info.Clear();
      EXPECT_TRUE(get(name, info).ok());
      if (info.state() == v1::SCHEDULE_STATE_FINISHED) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return info;
  }

 private:
  orch::client::Client& client_;
  std::unique_ptr<v1::ScheduleService::Stub> stub_;
};

v1::CreateIntervalRequest every_100ms(const std::string& name, std::uint64_t max_ticks) {
  v1::CreateIntervalRequest request;
  request.set_name(name);
  request.mutable_period()->set_nanos(100'000'000);
  request.set_max_ticks(max_ticks);
  request.set_overlap_policy(v1::OVERLAP_POLICY_ALLOW);
  *request.mutable_template_() = oc::sleep(std::chrono::milliseconds(10));
  (*request.mutable_task_labels())["team"] = "core";
  return request;
}

TEST(Schedules, AnIntervalSpawnsMaxTicksLabelledTasksThenIsFinished) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  ScheduleCalls schedules(client);
  v1::ScheduleInfo created;
  ASSERT_TRUE(schedules.create(every_100ms("nightly", 3), created).ok());
  EXPECT_EQ(created.name(), "nightly");
  EXPECT_EQ(created.missed_tick_behavior(), v1::MISSED_TICK_BEHAVIOR_SKIP);
  EXPECT_EQ(created.overlap_policy(), v1::OVERLAP_POLICY_ALLOW);

  const auto info = schedules.wait_finished("nightly");
  ASSERT_EQ(info.state(), v1::SCHEDULE_STATE_FINISHED) << info.DebugString();
  EXPECT_EQ(info.ticks_fired(), 3u);
  EXPECT_FALSE(info.has_next_tick_at());
  EXPECT_FALSE(info.last_task_id().empty());

  v1::ListTasksRequest list;
  (*list.mutable_labels())["schedule"] = "nightly";
  v1::ListTasksResponse tasks;
  ASSERT_TRUE(client.list(list, tasks).ok());
  ASSERT_EQ(tasks.tasks_size(), 3);
  std::set<std::string> ticks;
  for (const auto& task : tasks.tasks()) {
    EXPECT_EQ(task.labels().at("team"), "core");
    ticks.insert(task.labels().at("tick"));
  }
  EXPECT_EQ(ticks, (std::set<std::string>{"1", "2", "3"}));
}

TEST(Schedules, BadRequestsNameTheFieldAndNamesAreUniquePerTenant) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  ScheduleCalls schedules(client);
  v1::ScheduleInfo info;

  auto no_period = every_100ms("x", 0);
  no_period.clear_period();
  auto status = schedules.create(no_period, info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(starts_with(status.error_message(), "period: ")) << status.error_message();

  auto bad_template = every_100ms("x", 0);
  bad_template.mutable_template_()->mutable_sleep()->mutable_duration()->set_seconds(-1);
  status = schedules.create(bad_template, info);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(starts_with(status.error_message(), "template.")) << status.error_message();

  ASSERT_TRUE(schedules.create(every_100ms("dup", 0), info).ok());
  EXPECT_EQ(schedules.create(every_100ms("dup", 0), info).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  auto beta = daemon.client(kBeta);
  ScheduleCalls beta_schedules(beta);
  EXPECT_EQ(beta_schedules.get("dup", info).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::DeleteScheduleResponse deleted;
  ASSERT_TRUE(schedules.remove("dup", true, deleted).ok());
  EXPECT_EQ(schedules.get("dup", info).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(Schedules, AnActiveScheduleWithRunningTasksDoesNotHoldUpShutdown) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  ScheduleCalls schedules(client);
  auto request = every_100ms("busy", 0);
  *request.mutable_template_() = oc::sleep(std::chrono::seconds(30));
  v1::ScheduleInfo info;
  ASSERT_TRUE(schedules.create(request, info).ok());
  // The first tick is due at once: wait until its task runs.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (info.running_tasks() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    info.Clear();
    ASSERT_TRUE(schedules.get("busy", info).ok());
  }
  ASSERT_GE(info.running_tasks(), 1u);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}

// How far after its tick's due instant a scheduled task may be created and still count as on
// time. Ticks are typically well under a millisecond late (see bench/README.md); the margin is
// for a shared 2-core machine under a full build, where a thread can wait to be scheduled.
constexpr auto kOnTimeTolerance = std::chrono::milliseconds(200);

std::chrono::nanoseconds since_epoch(const google::protobuf::Timestamp& t) {
  return std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos());
}

TEST(Schedules, OrchctlIntervalCreateSpawnsExactlyMaxTicksTasksOnTimeThenRmExitsZero) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto created = orchctl(
      {"interval", "create", "beat", "--every", "250ms", "--max-ticks", "5", "sleep", "10ms"});
  ASSERT_EQ(created.exit_code, 0) << describe(created);
  EXPECT_TRUE(contains(created.out, "name: beat\n")) << created.out;

  v1::ScheduleInfo info;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    const auto got = orchctl({"interval", "get", "beat", "-o", "json"});
    ASSERT_EQ(got.exit_code, 0) << describe(got);
    info = parse_json<v1::ScheduleInfo>(got.out);
    if (info.state() == v1::SCHEDULE_STATE_FINISHED) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(info.state(), v1::SCHEDULE_STATE_FINISHED) << info.DebugString();
  EXPECT_EQ(info.ticks_fired(), 5u);

  const auto listed = orchctl({"ls", "--label", "schedule=beat", "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << describe(listed);
  const auto tasks = parse_json<v1::ListTasksResponse>(listed.out);
  ASSERT_EQ(tasks.tasks_size(), 5) << listed.out;
  // On time: each task was created within the tolerance after a due instant of the timeline
  // (start_at + k * period; k is tick - 1 unless a tick was missed under load).
  const auto start = since_epoch(info.start_at());
  const std::chrono::nanoseconds period = std::chrono::milliseconds(250);
  for (const auto& task : tasks.tasks()) {
    const auto after_start = since_epoch(task.created_at()) - start;
    ASSERT_GE(after_start.count(), 0) << task.DebugString();
    const auto late = after_start % period;
    EXPECT_LE(late, kOnTimeTolerance) << "tick " << task.labels().at("tick") << " created "
                                      << late.count() << " ns after its due instant";
  }

  // The schedule's series, and none left once it is removed.
  auto metrics = http_get(daemon.admin_port(), "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(metric_sample(metrics.body,
                          R"(orch_schedule_ticks_fired_total{schedule="beat",tenant="alpha"})"),
            5.0)
      << metrics.body;
  EXPECT_EQ(metric_sample(metrics.body,
                          R"(orch_schedule_tick_lateness_seconds_count{schedule="beat",tenant="alpha"})"),
            5.0)
      << metrics.body;

  const auto removed = orchctl({"interval", "rm", "beat"});
  EXPECT_EQ(removed.exit_code, 0) << describe(removed);
  metrics = http_get(daemon.admin_port(), "/metrics");
  EXPECT_FALSE(contains(metrics.body, R"(schedule="beat")")) << metrics.body;
}

TEST(Schedules, OrchctlStartAtPutsTheFirstTickAtThatInstant) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  // A whole second an hour from now: far enough that nothing fires during the test.
  google::protobuf::Timestamp start;
  start.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(1))
                        .count());
  const std::string text = google::protobuf::util::TimeUtil::ToString(start);
  const auto created = orchctl({"interval", "create", "later", "--every", "1m", "--start-at",
                                text, "-o", "json", "sleep", "1ms"});
  ASSERT_EQ(created.exit_code, 0) << describe(created);
  const auto info = parse_json<v1::ScheduleInfo>(created.out);
  EXPECT_EQ(info.start_at().seconds(), start.seconds());
  EXPECT_EQ(info.next_tick_at().seconds(), start.seconds());
  EXPECT_EQ(info.ticks_fired(), 0u);

  const auto bad = orchctl({"interval", "create", "x", "--every", "1m", "--start-at", "tomorrow",
                            "sleep", "1ms"});
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
  EXPECT_TRUE(contains(bad.err, "--start-at: \"tomorrow\" is not an RFC 3339 time")) << bad.err;
  const auto both = orchctl({"interval", "create", "x", "--every", "1m", "--start-at", text,
                             "--delay", "1s", "sleep", "1ms"});
  EXPECT_EQ(both.exit_code, 2) << describe(both);
}

TEST(Schedules, OrchctlPauseStopsTicksResumeRestartsThemAndRmAbortsRunningTasks) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  // Every 100 ms, each tick's task runs for a minute (overlap allow: they pile up).
  ASSERT_EQ(orchctl({"interval", "create", "p", "--every", "100ms", "--overlap", "allow", "sleep",
                     "1m"})
                .exit_code,
            0);
  auto info_of = [&] {
    const auto got = orchctl({"interval", "get", "p", "-o", "json"});
    EXPECT_EQ(got.exit_code, 0) << describe(got);
    return parse_json<v1::ScheduleInfo>(got.out);
  };
  auto wait_fired = [&](std::uint64_t at_least) {
    v1::ScheduleInfo info;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      info = info_of();
      if (info.ticks_fired() >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < until);
    return info;
  };
  ASSERT_GE(wait_fired(2).ticks_fired(), 2u);

  const auto paused = orchctl({"interval", "pause", "p", "-o", "json"});
  ASSERT_EQ(paused.exit_code, 0) << describe(paused);
  const auto at_pause = parse_json<v1::ScheduleInfo>(paused.out);
  EXPECT_EQ(at_pause.state(), v1::SCHEDULE_STATE_PAUSED);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // 4 periods
  const auto still = info_of();
  EXPECT_EQ(still.state(), v1::SCHEDULE_STATE_PAUSED);
  EXPECT_EQ(still.ticks_fired(), at_pause.ticks_fired());
  EXPECT_FALSE(still.has_next_tick_at());

  ASSERT_EQ(orchctl({"interval", "resume", "p"}).exit_code, 0);
  const auto resumed = wait_fired(at_pause.ticks_fired() + 1);
  EXPECT_EQ(resumed.state(), v1::SCHEDULE_STATE_ACTIVE);
  EXPECT_GT(resumed.ticks_fired(), at_pause.ticks_fired());
  EXPECT_GT(resumed.ticks_missed(), 0u);  // the ticks due while paused

  const auto removed = orchctl({"interval", "rm", "p", "--abort-running", "-o", "json"});
  ASSERT_EQ(removed.exit_code, 0) << describe(removed);
  const auto deleted = parse_json<v1::DeleteScheduleResponse>(removed.out);
  EXPECT_GE(deleted.aborted_size(), 3) << removed.out;
  auto client = daemon.client(kAlpha);
  std::vector<std::string> ids(deleted.aborted().begin(), deleted.aborted().end());
  for (const auto& task : join_tasks(client, ids)) {
    EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED) << task.DebugString();
  }
  EXPECT_EQ(orchctl({"interval", "get", "p"}).exit_code, 3);
}

TEST(Schedules, UnderAFullSemaphoreTicksQueueAndOverlapPoliciesHold) {
  TestConfig config = two_tenants();
  config.tenants[0].max_concurrency = 1;
  DaemonProcess daemon(config);
  auto client = daemon.client(kAlpha);
  ScheduleCalls schedules(client);
  // The tenant's only permit is taken until the blocker is aborted.
  const std::string blocker = spawn_task(client, oc::sleep(std::chrono::minutes(5)), "blocker");
  ASSERT_FALSE(blocker.empty());

  auto request = [](const std::string& name, v1::OverlapPolicy overlap, std::uint64_t max_ticks) {
    auto r = every_100ms(name, max_ticks);
    r.set_overlap_policy(overlap);
    return r;
  };
  v1::ScheduleInfo info;
  ASSERT_TRUE(schedules.create(request("allow", v1::OVERLAP_POLICY_ALLOW, 3), info).ok());
  ASSERT_TRUE(schedules.create(request("skip", v1::OVERLAP_POLICY_SKIP, 0), info).ok());
  ASSERT_TRUE(schedules.create(request("buffer", v1::OVERLAP_POLICY_BUFFER_ONE, 0), info).ok());

  // Waits (at most 10 s) until `done` holds for the schedule's info.
  auto wait_for = [&](const std::string& name, auto done) {
    v1::ScheduleInfo current;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      current.Clear();
      EXPECT_TRUE(schedules.get(name, current).ok());
      if (done(current)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return current;
  };
  auto tasks_of = [&](const std::string& name) {
    v1::ListTasksRequest list;
    (*list.mutable_labels())["schedule"] = name;
    v1::ListTasksResponse response;
    EXPECT_TRUE(client.list(list, response).ok());
    return response;
  };

  // ALLOW: every tick spawns, and the tasks queue behind the blocker.
  info = wait_for("allow", [](const auto& i) { return i.ticks_fired() == 3; });
  EXPECT_EQ(info.ticks_fired(), 3u);
  const auto allowed = tasks_of("allow");
  ASSERT_EQ(allowed.tasks_size(), 3);
  for (const auto& task : allowed.tasks()) EXPECT_EQ(task.state(), v1::TASK_STATE_PENDING);

  // SKIP: a queued task counts as running, so later ticks spawn nothing.
  info = wait_for("skip", [](const auto& i) { return i.ticks_skipped() >= 2; });
  EXPECT_GE(info.ticks_skipped(), 2u);
  EXPECT_EQ(info.ticks_fired(), 1u);
  EXPECT_EQ(tasks_of("skip").tasks_size(), 1);

  // BUFFER_ONE: one tick is held, the rest are skipped.
  info = wait_for("buffer", [](const auto& i) { return i.tick_buffered() && i.ticks_skipped() >= 1; });
  EXPECT_TRUE(info.tick_buffered());
  EXPECT_EQ(info.ticks_fired(), 1u);
  EXPECT_EQ(tasks_of("buffer").tasks_size(), 1);

  // Free the permit: the queued ticks run, and the held tick spawns once its predecessor ends.
  v1::AbortRequest abort;
  abort.add_ids(blocker);
  v1::AbortResponse aborted;
  ASSERT_TRUE(client.abort(abort, aborted).ok());
  std::vector<std::string> ids;
  for (const auto& task : allowed.tasks()) ids.push_back(task.id());
  for (const auto& task : join_tasks(client, ids)) EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  info = wait_for("buffer", [](const auto& i) { return i.ticks_fired() >= 2; });
  EXPECT_GE(info.ticks_fired(), 2u);
}

}  // namespace
}  // namespace orch::test
