// Request limits on the real daemon: gRPC message size, streams per tenant and waiting calls
// per tenant, each refused with RESOURCE_EXHAUSTED naming the limit; other tenants unaffected.
#include <gtest/gtest.h>

#include <thread>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;

TestConfig with_limit(const std::string& key, const std::string& value) {
  TestConfig config = two_tenants();
  config.limits = {{key, value}};
  return config;
}

// A Watch of one task, open until cancelled; open() returns once the daemon sent the task's
// current state, so the stream holds its slot from then on.
class OpenWatch {
 public:
  OpenWatch(oc::Client& client, const std::string& id) : ctx_(client.context(kCallDeadline)) {
    v1::WatchRequest request;
    request.add_ids(id);
    reader_ = client.watch(*ctx_, request);
  }
  ~OpenWatch() { close(); }
  bool first_event() {
    v1::TaskEvent event;
    return reader_->Read(&event);
  }
  grpc::Status close() {
    if (closed_) return status_;
    closed_ = true;
    ctx_->TryCancel();
    v1::TaskEvent event;
    while (reader_->Read(&event)) {
    }
    status_ = reader_->Finish();
    return status_;
  }
  // The status of a stream that ended by itself (refused).
  grpc::Status finish() {
    closed_ = true;
    v1::TaskEvent event;
    while (reader_->Read(&event)) {
    }
    status_ = reader_->Finish();
    return status_;
  }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<v1::TaskEvent>> reader_;
  bool closed_ = false;
  grpc::Status status_;
};

TEST(RequestLimits, AMessageOverMaxGrpcMessageBytesIsRefusedBeforeItIsParsed) {
  DaemonProcess daemon(with_limit("max_grpc_message_bytes", "65536"));
  auto alpha = daemon.client(kAlpha);
  v1::SpawnRequest big;
  *big.mutable_spec() = oc::sleep(1ms);
  big.set_name(std::string(70'000, 'x'));
  v1::SpawnResponse response;
  const auto refused = alpha.spawn(big, response, kCallDeadline);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(refused);
  EXPECT_TRUE(contains(refused.error_message(), "65536")) << describe(refused);
  // A request under the limit still goes through, on the same connection.
  EXPECT_EQ(join_task(alpha, spawn_task(alpha, oc::sleep(1ms))).state(), v1::TASK_STATE_SUCCEEDED);
}

TEST(RequestLimits, StreamsPerTenantAreCappedAndAClosedStreamGivesItsSlotBack) {
  DaemonProcess daemon(with_limit("max_streams_per_tenant", "2"));
  auto alpha = daemon.client(kAlpha);
  auto beta = daemon.client(kBeta);
  const auto id = spawn_task(alpha, oc::sleep(60s));
  OpenWatch first(alpha, id);
  OpenWatch second(alpha, id);
  ASSERT_TRUE(first.first_event());
  ASSERT_TRUE(second.first_event());

  OpenWatch third(alpha, id);
  const auto refused = third.finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(starts_with(refused.error_message(), "max_streams_per_tenant (2) reached: tenant alpha"))
      << describe(refused);
  // Every kind of stream counts: a Ticks stream is refused too.
  v1::TicksRequest ticks;
  *ticks.mutable_period() = oc::to_proto(10ms);
  ticks.set_count(1);
  auto ctx = alpha.context(kCallDeadline);
  auto reader = alpha.schedules().Ticks(ctx.get(), ticks);
  v1::Tick tick;
  EXPECT_FALSE(reader->Read(&tick));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Another tenant's streams are its own.
  const auto beta_id = spawn_task(beta, oc::sleep(60s));
  OpenWatch other(beta, beta_id);
  EXPECT_TRUE(other.first_event());
  // Unary calls are not streams.
  EXPECT_EQ(get_task(alpha, id).id(), id);

  // A closed stream's slot comes back once the daemon is done with it.
  EXPECT_EQ(first.close().error_code(), grpc::StatusCode::CANCELLED);
  bool reopened = false;
  for (int attempt = 0; attempt < 200 && !reopened; ++attempt) {
    OpenWatch again(alpha, id);
    reopened = again.first_event();
    if (!reopened) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(reopened);
}

TEST(RequestLimits, WaitingCallsPerTenantAreCappedAcrossLockJoinRecvAndAJoiningSpawnBatch) {
  DaemonProcess daemon(with_limit("max_waiting_rpcs_per_tenant", "2"));
  auto alpha = daemon.client(kAlpha);
  auto beta = daemon.client(kBeta);
  const auto lock = [&](grpc::ClientContext* ctx) {
    v1::LockRequest request;
    request.set_name("m");
    v1::LockResponse response;
    return alpha.mutexes().Lock(ctx, request, &response).error_code();
  };
  auto hold_ctx = alpha.context(kCallDeadline);
  ASSERT_EQ(lock(hold_ctx.get()), grpc::StatusCode::OK);

  // Two Lock calls that wait for the held mutex, cancelled by the test at the end.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::thread> waiters;
  std::vector<grpc::StatusCode> codes(2, grpc::StatusCode::OK);
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(alpha.context(kCallDeadline));
    waiters.emplace_back([&, i, ctx = contexts.back().get()] { codes[i] = lock(ctx); });
  }
  // Both are parked once the mutex counts two waiters (Get does not wait).
  bool parked = false;
  for (int attempt = 0; attempt < 400 && !parked; ++attempt) {
    v1::GetMutexRequest get;
    get.set_name("m");
    v1::MutexInfo info;
    auto ctx = alpha.context(kCallDeadline);
    parked = alpha.mutexes().Get(ctx.get(), get, &info).ok() && info.waiters() == 2;
    if (!parked) std::this_thread::sleep_for(25ms);
  }
  ASSERT_TRUE(parked);

  // Every other call that may wait is refused now: Join, Select, Recv, Send, Lock.
  const auto id = spawn_task(alpha, oc::sleep(60s));
  v1::JoinRequest join;
  join.add_ids(id);
  v1::JoinResponse joined;
  const auto refused = alpha.join(join, joined, kCallDeadline);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << describe(refused);
  EXPECT_TRUE(starts_with(refused.error_message(),
                          "max_waiting_rpcs_per_tenant (2) reached: tenant alpha"))
      << describe(refused);
  v1::SelectRequest select;
  select.add_ids(id);
  v1::SelectResponse selected;
  EXPECT_EQ(alpha.select(select, selected, kCallDeadline).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  v1::RecvRequest recv;
  recv.set_name("nothing");
  v1::RecvResponse received;
  auto recv_ctx = alpha.context(kCallDeadline);
  EXPECT_EQ(alpha.channels().Recv(recv_ctx.get(), recv, &received).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto third_ctx = alpha.context(kCallDeadline);
  EXPECT_EQ(lock(third_ctx.get()), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // A SpawnBatch that joins its tasks waits too; one that does not still works.
  v1::SpawnBatchRequest batch;
  *batch.add_tasks()->mutable_spec() = oc::sleep(0ms);
  v1::SpawnBatchResponse spawned;
  EXPECT_TRUE(alpha.spawn_batch(batch, spawned, kCallDeadline).ok());
  batch.mutable_join();
  EXPECT_EQ(alpha.spawn_batch(batch, spawned, kCallDeadline).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Calls that do not wait still work, and beta waits as it likes.
  EXPECT_EQ(get_task(alpha, id).state(), v1::TASK_STATE_RUNNING);
  EXPECT_EQ(join_task(beta, spawn_task(beta, oc::sleep(1ms))).state(), v1::TASK_STATE_SUCCEEDED);

  // Cancelled calls give their slots back.
  for (auto& ctx : contexts) ctx->TryCancel();
  for (auto& t : waiters) t.join();
  for (auto code : codes) EXPECT_EQ(code, grpc::StatusCode::CANCELLED);
  grpc::Status after;
  for (int attempt = 0; attempt < 200; ++attempt) {
    *join.mutable_timeout() = oc::to_proto(10ms);
    after = alpha.join(join, joined, kCallDeadline);
    if (after.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(after.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << describe(after);
  EXPECT_EQ(get_task(alpha, id).state(), v1::TASK_STATE_RUNNING);
}

}  // namespace
}  // namespace orch::test
