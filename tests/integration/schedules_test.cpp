// ScheduleService's interval schedules against the real daemon: each tick spawns the template
// into the caller's tenant, labelled with the schedule and the tick.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "orch/v1/schedules.grpc.pb.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

constexpr const char* kAlpha = "alpha-secret";
constexpr const char* kBeta = "beta-secret";

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

TEST(Schedules, OrchctlIntervalCreateRunsMaxTicksTasksThenRmExitsZero) {
  DaemonProcess daemon(two_tenants());
  const auto orchctl = daemon.orchctl(kAlpha);
  const auto created = orchctl(
      {"interval", "create", "beat", "--every", "100ms", "--max-ticks", "5", "sleep", "10ms"});
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
  EXPECT_EQ(parse_json<v1::ListTasksResponse>(listed.out).tasks_size(), 5) << listed.out;

  const auto removed = orchctl({"interval", "rm", "beat"});
  EXPECT_EQ(removed.exit_code, 0) << describe(removed);
}

}  // namespace
}  // namespace orch::test
