#include "orch/client/client.h"

#include <gtest/gtest.h>

#include <mutex>

using namespace std::chrono_literals;

namespace orch::client {
namespace {

// A fake orchestrd: remembers the authorization metadata it saw and answers from canned data.
class FakeServices final : public v1::TaskService::Service, public v1::TenantService::Service {
 public:
  grpc::Status WhoAmI(grpc::ServerContext* ctx, const v1::WhoAmIRequest*,
                      v1::WhoAmIResponse* response) override {
    record(*ctx);
    response->set_tenant("alpha");
    return grpc::Status::OK;
  }

  grpc::Status Spawn(grpc::ServerContext* ctx, const v1::SpawnRequest* request,
                     v1::SpawnResponse* response) override {
    record(*ctx);
    if (!request->spec().has_sleep()) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "spec: only sleep here"};
    }
    response->set_id("task-" + request->name());
    return grpc::Status::OK;
  }

  grpc::Status Watch(grpc::ServerContext* ctx, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::TaskEvent>* writer) override {
    record(*ctx);
    for (const auto& id : request->ids()) {
      v1::TaskEvent event;
      event.set_id(id);
      event.set_state(v1::TASK_STATE_SUCCEEDED);
      writer->Write(event);
    }
    return grpc::Status::OK;
  }

  std::string authorization() {
    std::lock_guard lock(mutex_);
    return authorization_;
  }

 private:
  void record(const grpc::ServerContext& ctx) {
    std::lock_guard lock(mutex_);
    const auto it = ctx.client_metadata().find("authorization");
    authorization_ = it == ctx.client_metadata().end()
                         ? "<none>"
                         : std::string(it->second.data(), it->second.size());
  }

  std::mutex mutex_;
  std::string authorization_;
};

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(static_cast<v1::TaskService::Service*>(&services_));
    builder.RegisterService(static_cast<v1::TenantService::Service*>(&services_));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  ClientOptions options(std::string token = "") const {
    return {"127.0.0.1:" + std::to_string(port_), std::move(token)};
  }

  FakeServices services_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ClientTest, SendsTheTokenAsABearerAuthorization) {
  Client client(options("s3cret"));
  v1::WhoAmIResponse who;
  ASSERT_TRUE(client.who_am_i(who).ok());
  EXPECT_EQ(who.tenant(), "alpha");
  EXPECT_EQ(services_.authorization(), "Bearer s3cret");
}

TEST_F(ClientTest, SendsNoAuthorizationWithoutAToken) {
  Client client(options());
  v1::WhoAmIResponse who;
  ASSERT_TRUE(client.who_am_i(who).ok());
  EXPECT_EQ(services_.authorization(), "<none>");
}

TEST_F(ClientTest, ReturnsTheServersStatusAndResponse) {
  Client client(options());
  v1::SpawnRequest request;
  request.set_name("a");
  v1::SpawnResponse response;
  const auto refused = client.spawn(request, response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "spec: only sleep here");

  *request.mutable_spec() = sleep(1s);
  ASSERT_TRUE(client.spawn(request, response, 5s).ok());
  EXPECT_EQ(response.id(), "task-a");
}

TEST_F(ClientTest, StreamsWatchEventsUntilTheServerEndsTheStream) {
  Client client(options("t"));
  auto ctx = client.context();
  v1::WatchRequest request;
  request.add_ids("x");
  request.add_ids("y");
  auto reader = client.watch(*ctx, request);
  std::vector<std::string> ids;
  v1::TaskEvent event;
  while (reader->Read(&event)) ids.push_back(event.id());
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(services_.authorization(), "Bearer t");
}

TEST_F(ClientTest, ReportsAMissingServerAsUnavailable) {
  server_->Shutdown();
  server_.reset();
  Client client(options());
  v1::WhoAmIResponse who;
  EXPECT_EQ(client.who_am_i(who, 10s).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ClientContext, CarriesTheDeadlineWhenGiven) {
  Client client(ClientOptions{});
  const auto before = std::chrono::system_clock::now();
  const auto ctx = client.context(1500ms);
  EXPECT_GE(ctx->deadline(), before + 1500ms);
  EXPECT_LE(ctx->deadline(), std::chrono::system_clock::now() + 1500ms);
  EXPECT_EQ(client.context()->deadline(), std::chrono::system_clock::time_point::max());
}

}  // namespace
}  // namespace orch::client
