// ScheduleService.Ticks against the real daemon: orchctl ticks, the stream's end, refusals.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "daemon_process.h"
#include "orch/v1/schedules.grpc.pb.h"
#include "proto_json.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;

TEST(Ticks, OrchctlTicksPrintsExactlyCountTickLinesNumberedFromOneAndExitsZero) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl(kAlpha)({"ticks", "--every", "100ms", "--count", "5"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 5u) << run.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_TRUE(starts_with(lines[i], "TICK " + std::to_string(i + 1) + " scheduled=")) << lines[i];
    EXPECT_TRUE(contains(lines[i], " sent=")) << lines[i];
    EXPECT_TRUE(contains(lines[i], " missed=")) << lines[i];
  }
  EXPECT_EQ(run.err, "");
}

TEST(Ticks, OrchctlTicksJsonPrintsOneTickObjectPerLine) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl(kAlpha)(
      {"-o", "json", "ticks", "--every", "50ms", "--count", "3", "--missed-tick", "burst"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto lines = lines_of(run.out);
  ASSERT_EQ(lines.size(), 3u) << run.out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto tick = parse_json<v1::Tick>(lines[i]);
    EXPECT_EQ(tick.tick(), i + 1);
    EXPECT_EQ(tick.missed(), 0u);
    EXPECT_TRUE(tick.has_scheduled_at());
    EXPECT_TRUE(tick.has_sent_at());
  }
}

TEST(Ticks, AZeroPeriodIsInvalidArgumentNamingTheField) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto stub = v1::ScheduleService::NewStub(client.channel());
  auto ctx = client.context(std::chrono::seconds(10));
  v1::TicksRequest request;
  request.set_count(1);
  auto reader = stub->Ticks(ctx.get(), request);
  v1::Tick tick;
  EXPECT_FALSE(reader->Read(&tick));
  const auto status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(starts_with(status.error_message(), "period: ")) << status.error_message();
}

TEST(Ticks, AWrongTokenIsUnauthenticated) {
  DaemonProcess daemon(two_tenants());
  const auto run = daemon.orchctl("wrong-token")({"ticks", "--every", "100ms", "--count", "1"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_TRUE(starts_with(run.err, "UNAUTHENTICATED: ")) << run.err;
  EXPECT_EQ(run.out, "");
}

TEST(Ticks, ACancelledStreamEndsWithoutHurtingTheDaemon) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto stub = v1::ScheduleService::NewStub(client.channel());
  auto ctx = client.context(std::chrono::seconds(10));
  v1::TicksRequest request;
  request.mutable_period()->set_nanos(10'000'000);  // 10ms, no count: until cancelled
  auto reader = stub->Ticks(ctx.get(), request);
  v1::Tick tick;
  ASSERT_TRUE(reader->Read(&tick));
  ASSERT_TRUE(reader->Read(&tick));
  EXPECT_EQ(tick.tick(), 2u);
  ctx->TryCancel();
  while (reader->Read(&tick)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The daemon still serves: a fresh stream works.
  const auto run = daemon.orchctl(kAlpha)({"ticks", "--every", "10ms", "--count", "2"});
  EXPECT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_EQ(lines_of(run.out).size(), 2u);
}

TEST(Ticks, AnEndlessStreamDoesNotHoldUpShutdown) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client(kAlpha);
  auto stub = v1::ScheduleService::NewStub(client.channel());
  auto ctx = client.context(std::chrono::seconds(30));
  v1::TicksRequest request;
  request.mutable_period()->set_nanos(10'000'000);  // 10ms, no count
  auto reader = stub->Ticks(ctx.get(), request);
  v1::Tick tick;
  ASSERT_TRUE(reader->Read(&tick));
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
  while (reader->Read(&tick)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
}

TEST(Ticks, OrchctlTicksWithoutCountEndsCleanlyOnCtrlC) {
  DaemonProcess daemon(two_tenants());
  auto ticks = daemon.orchctl(kAlpha).start({"ticks", "--every", "20ms"});
  const auto first = ticks.read_line(10s);
  ASSERT_TRUE(first.has_value()) << describe(ticks.finish(1s));
  EXPECT_TRUE(starts_with(*first, "TICK 1 ")) << *first;
  ::kill(ticks.pid(), SIGINT);
  const auto run = ticks.finish(10s);
  EXPECT_EQ(run.exit_code, 0) << "Ctrl-C ends ticks with exit 0\n" << describe(run);
  EXPECT_EQ(run.err, "");
  EXPECT_FALSE(daemon.wait_exit(0ms).has_value()) << "orchestrd died";
}

}  // namespace
}  // namespace orch::test
