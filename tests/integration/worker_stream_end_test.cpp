// A worker stream that breaks while the daemon is writing to it still ends: the daemon finishes
// the call, so it is not left open forever (which kept a graceful shutdown waiting for it).
// Found by the stress test (tests/stress) with workers SIGKILLed under load.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

TEST(WorkerStreamEnd, AWorkerGoneWhileAnAssignmentIsBeingWrittenLetsTheDaemonShutDown) {
  DaemonProcess daemon(two_tenants());
  auto spawner = daemon.client("alpha-secret");
  // Workers on their own connections, each with a fixed 64 KiB stream window that they never
  // read from: the daemon's writes of their assignments stay in flight. Whether gRPC reports
  // the cancellation or the failed write first varies, so several workers go away.
  constexpr int kWorkers = 12;
  std::vector<std::unique_ptr<oc::Client>> clients;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::ServerMessage>>>
      streams;
  for (int w = 0; w < kWorkers; ++w) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
    clients.push_back(std::make_unique<oc::Client>(
        grpc::CreateCustomChannel(daemon.grpc_address(), grpc::InsecureChannelCredentials(), args),
        oc::ClientOptions{daemon.grpc_address(), "alpha-secret"}));
    contexts.push_back(clients.back()->context(kCallDeadline));
    streams.push_back(clients.back()->workers().Connect(contexts.back().get()));
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_name("stalled-" + std::to_string(w));
    hello.mutable_hello()->add_queues("big");
    hello.mutable_hello()->set_slots(4);
    ASSERT_TRUE(streams.back()->Write(hello));
    v1::ServerMessage welcome;
    ASSERT_TRUE(streams.back()->Read(&welcome));
    ASSERT_TRUE(welcome.has_welcome()) << welcome.DebugString();
  }
  // 4 assignments of 256 KiB per worker: far more than a window holds.
  for (int i = 0; i < 4 * kWorkers; ++i) {
    spawn_task(spawner, oc::worker("big", std::string(256 * 1024, 'x')));
  }
  // Give the daemon time to start writing (if it has not, the test proves less, never fails).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  for (auto& ctx : contexts) ctx->TryCancel();  // gone with writes in flight
  for (auto& stream : streams) {
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }

  // The daemon ended the call: its shutdown does not wait for it (before the fix, gRPC's
  // Server::Wait() waited forever and SIGTERM was ignored).
  EXPECT_EQ(daemon.stop(std::chrono::seconds(20)), 0) << daemon.log();
}

}  // namespace
}  // namespace orch::test
