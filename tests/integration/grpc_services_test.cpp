// The gRPC surface beyond orchestrd's own services: the standard health service.
#include <google/protobuf/empty.pb.h>
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <future>

#include "daemon_process.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;

TEST(GrpcServices, StandardHealthCheckAnswersServing) {
  DaemonProcess daemon(two_tenants());
  auto client = daemon.client();

  // grpc.health.v1 is not installed as a generated header. On the wire its messages are
  // HealthCheckRequest{string service = 1} and HealthCheckResponse{ServingStatus status = 1}:
  // an Empty asks about the whole server ("") and the enum reads as an Int32Value (varint
  // field 1), SERVING being 1.
  grpc::TemplatedGenericStub<google::protobuf::Empty, google::protobuf::Int32Value> stub(
      client.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  google::protobuf::Empty request;
  google::protobuf::Int32Value response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  const auto status = done.get_future().get();
  ASSERT_TRUE(status.ok()) << describe(status);
  EXPECT_EQ(response.value(), 1) << "1 = SERVING";
}

}  // namespace
}  // namespace orch::test
