// send and recv task nodes against the real daemon: select and timeout over receives are
// cancel-safe (like tokio::select! over receivers), a send into a full channel waits for room,
// and orchctl spawns both.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <thread>

#include "daemon_process.h"
#include "orch/client/specs.h"
#include "orch/v1/channels.grpc.pb.h"
#include "proto_json.h"
#include "task_calls.h"
#include "test_support.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;
using namespace std::chrono_literals;

constexpr auto kWait = std::chrono::seconds(30);

TestConfig config() {
  TestConfig c = two_tenants();
  for (auto& t : c.tenants) {
    t.max_queued = 20'000;
    t.max_channel_capacity = 20'000;
  }
  return c;
}

class ChannelNodes : public ::testing::Test {
 protected:
  ChannelNodes()
      : daemon_(config()), orchctl_(daemon_.orchctl(kAlpha)), client_(daemon_.client(kAlpha)) {}

  void create(const std::string& name, std::uint32_t capacity) {
    v1::CreateChannelRequest request;
    request.set_name(name);
    request.set_kind(v1::CHANNEL_KIND_MPSC);
    request.set_capacity(capacity);
    v1::ChannelInfo info;
    auto ctx = client_.context(10s);
    const auto status = client_.channels().Create(ctx.get(), request, &info);
    ASSERT_TRUE(status.ok()) << describe(status);
  }

  void send(const std::string& name, const std::vector<std::string>& payloads) {
    v1::SendRequest request;
    request.set_name(name);
    for (const auto& p : payloads) request.add_payloads(p);
    v1::SendResponse response;
    auto ctx = client_.context(kWait);
    const auto status = client_.channels().Send(ctx.get(), request, &response);
    ASSERT_TRUE(status.ok()) << describe(status);
  }

  // Takes every message left in the channel (never waits).
  std::vector<std::string> drain(const std::string& name) {
    std::vector<std::string> got;
    for (;;) {
      v1::RecvRequest request;
      request.set_name(name);
      request.set_no_wait(true);
      request.set_max_messages(1000);
      v1::RecvResponse response;
      auto ctx = client_.context(kWait);
      const auto status = client_.channels().Recv(ctx.get(), request, &response);
      EXPECT_TRUE(status.ok()) << describe(status);
      if (!status.ok() || response.messages().empty()) return got;
      for (const auto& m : response.messages()) got.push_back(m.payload());
    }
  }

  v1::ChannelInfo info(const std::string& name) {
    v1::GetChannelRequest request;
    request.set_name(name);
    v1::ChannelInfo out;
    auto ctx = client_.context(10s);
    const auto status = client_.channels().Get(ctx.get(), request, &out);
    EXPECT_TRUE(status.ok()) << describe(status);
    return out;
  }

  // Polls until `ready()` holds; false after kWait.
  template <typename Ready>
  bool eventually(Ready ready) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ready()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  DaemonProcess daemon_;
  Orchctl orchctl_;
  orch::client::Client client_;
};

// 10,000 races: ten rounds of 1,000 select{recv a, recv b} tasks spawned with SpawnBatch. In
// even rounds both channels already hold a message per task, in odd rounds the tasks wait
// first and the messages arrive afterwards. Every message sent is a winner's payload or still
// in its channel, exactly once. (The engine-level unit test runs the same 10,000 races on a
// manual clock; this one goes through gRPC and the daemon's threads.)
TEST_F(ChannelNodes, SelectOverTwoRecvsLosesNoMessageThroughTheDaemon) {
  constexpr int kRounds = 10;
  constexpr int kPerRound = 1000;
  create("a", 20'000);
  create("b", 20'000);
  std::set<std::string> sent;
  std::vector<std::string> received;
  int next = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> to_a, to_b;
    for (int i = 0; i < kPerRound; ++i, ++next) {
      to_a.push_back("a" + std::to_string(next));
      to_b.push_back("b" + std::to_string(next));
    }
    sent.insert(to_a.begin(), to_a.end());
    sent.insert(to_b.begin(), to_b.end());
    const bool messages_first = round % 2 == 0;
    if (messages_first) {
      send("a", to_a);
      send("b", to_b);
    }
    v1::SpawnBatchRequest batch;
    for (int i = 0; i < kPerRound; ++i) {
      *batch.add_tasks()->mutable_spec() = oc::select({oc::recv("a"), oc::recv("b")});
    }
    v1::SpawnBatchResponse spawned;
    ASSERT_TRUE(client_.spawn_batch(batch, spawned).ok());
    ASSERT_EQ(spawned.ids_size(), kPerRound);
    if (!messages_first) {
      // Half the messages to each channel: together enough for every waiting task.
      send("a", std::vector<std::string>(to_a.begin(), to_a.begin() + kPerRound / 2));
      send("b", std::vector<std::string>(to_b.begin(), to_b.begin() + kPerRound / 2));
      send("a", std::vector<std::string>(to_a.begin() + kPerRound / 2, to_a.end()));
      send("b", std::vector<std::string>(to_b.begin() + kPerRound / 2, to_b.end()));
    }
    const auto tasks =
        join_tasks(client_, std::vector<std::string>(spawned.ids().begin(), spawned.ids().end()));
    ASSERT_EQ(tasks.size(), static_cast<std::size_t>(kPerRound));
    for (const auto& task : tasks) {
      ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.DebugString();
      const auto& select = task.result().select();
      ASSERT_TRUE(select.result().has_recv()) << task.DebugString();
      received.push_back(select.result().recv().payload());
      const auto& loser = select.children(1 - static_cast<int>(select.winner()));
      EXPECT_EQ(loser.state(), v1::TASK_STATE_CANCELLED);
      EXPECT_FALSE(loser.has_recv());
    }
  }
  for (auto& p : drain("a")) received.push_back(std::move(p));
  for (auto& p : drain("b")) received.push_back(std::move(p));
  std::map<std::string, int> seen;
  for (const auto& p : received) ++seen[p];
  EXPECT_EQ(received.size(), sent.size());
  for (const auto& p : sent) ASSERT_EQ(seen[p], 1) << p;
}

TEST_F(ChannelNodes, SelectOfRecvAndALongSleepIsWonByAMessageThatArrives) {
  create("a", 10);
  const auto id = spawn_task(client_, oc::select({oc::recv("a"), oc::sleep(5s)}));
  ASSERT_TRUE(eventually([&] { return info("a").receivers() == 1; }));
  send("a", {"hello"});
  const auto task = join_task(client_, id);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.result().select().winner(), 0u);
  EXPECT_EQ(task.result().select().result().recv().payload(), "hello");
  EXPECT_EQ(task.result().select().children(1).state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(info("a").depth(), 0u);
}

TEST_F(ChannelNodes, TimeoutRecvOnAnEmptyChannelTimesOutAndALaterMessageStays) {
  create("a", 10);
  const auto task = join_task(client_, spawn_task(client_, oc::timeout(300ms, oc::recv("a"))));
  ASSERT_EQ(task.state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_EQ(task.result().timeout().child().state(), v1::TASK_STATE_CANCELLED);
  send("a", {"later"});
  EXPECT_EQ(info("a").receivers(), 0u);
  EXPECT_EQ(drain("a"), std::vector<std::string>{"later"});
}

TEST_F(ChannelNodes, SendIntoAFullCapacityOneChannelWaitsUntilARecv) {
  create("a", 1);
  send("a", {"first"});
  const auto id = spawn_task(client_, oc::send("a", "second"));
  ASSERT_TRUE(eventually([&] { return info("a").senders() == 1; }));
  EXPECT_EQ(get_task(client_, id).state(), v1::TASK_STATE_RUNNING);
  const auto receiver = join_task(client_, spawn_task(client_, oc::recv("a")));
  ASSERT_EQ(receiver.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(receiver.result().recv().payload(), "first");
  const auto sender = join_task(client_, id);
  ASSERT_EQ(sender.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(sender.result().send().receivers(), 1u);
  EXPECT_EQ(drain("a"), std::vector<std::string>{"second"});
}

TEST_F(ChannelNodes, ASequenceOfRecvAndSendIsAPipelineStage) {
  create("in", 10);
  create("out", 10);
  const auto id = spawn_task(client_, oc::sequence({oc::recv("in"), oc::send("out", "done")}));
  send("in", {"work"});
  const auto task = join_task(client_, id);
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.result().sequence().children(0).recv().payload(), "work");
  EXPECT_EQ(drain("out"), std::vector<std::string>{"done"});
  EXPECT_EQ(info("in").depth(), 0u);
}

TEST_F(ChannelNodes, AnotherTenantsChannelIsNotFound) {
  create("jobs", 10);
  send("jobs", {"alpha only"});
  auto beta = daemon_.client(kBeta);
  const auto recv = join_task(beta, spawn_task(beta, oc::recv("jobs")));
  EXPECT_EQ(recv.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(recv.result().error(), "channel jobs not found");
  const auto send = join_task(beta, spawn_task(beta, oc::send("jobs", "x")));
  EXPECT_EQ(send.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(send.result().error(), "channel jobs not found");
  EXPECT_EQ(drain("jobs"), std::vector<std::string>{"alpha only"});
}

TEST_F(ChannelNodes, ClosedChannelsFailAndBadSpecsAreRefusedNamingTheField) {
  create("jobs", 10);
  v1::CloseChannelRequest close;
  close.set_name("jobs");
  v1::ChannelInfo closed;
  auto ctx = client_.context(10s);
  ASSERT_TRUE(client_.channels().Close(ctx.get(), close, &closed).ok());
  const auto recv = join_task(client_, spawn_task(client_, oc::recv("jobs")));
  EXPECT_EQ(recv.state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(recv.result().error(), "channel jobs is closed");

  v1::SpawnRequest bad;
  *bad.mutable_spec() = oc::send("jobs", std::string((1 << 20) + 1, 'x'));
  v1::SpawnResponse response;
  const auto status = client_.spawn(bad, response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "spec.send.payload: 1048577 bytes, more than 1048576 (tenant max_message_bytes)");
  *bad.mutable_spec() = oc::recv("");
  EXPECT_EQ(client_.spawn(bad, response).error_message(), "spec.recv.channel: must not be empty");
}

TEST_F(ChannelNodes, OrchctlSpawnsSendAndRecvAndPrintsThePayload) {
  create("jobs", 10);
  const auto sent = orchctl_({"spawn", "--wait", "send", "jobs", "build 42"});
  ASSERT_EQ(sent.exit_code, 0) << describe(sent);
  EXPECT_NE(sent.out.find("send SUCCEEDED"), std::string::npos) << sent.out;
  EXPECT_NE(sent.out.find("receivers=1"), std::string::npos) << sent.out;

  const auto got = orchctl_({"spawn", "--wait", "recv", "jobs"});
  ASSERT_EQ(got.exit_code, 0) << describe(got);
  EXPECT_NE(got.out.find("recv SUCCEEDED"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("payload=\"build 42\" sequence=1"), std::string::npos) << got.out;

  send("jobs", {"second"});
  const auto json = orchctl_({"-o", "json", "spawn", "--wait", "recv", "jobs"});
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  const auto task = parse_json<v1::TaskInfo>(json.out);
  EXPECT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(task.result().recv().payload(), "second");
  EXPECT_EQ(task.result().recv().sequence(), 2u);
  EXPECT_EQ(task.spec().recv().channel(), "jobs");

  // A recv that fails exits 1 and says why.
  const auto missing = orchctl_({"spawn", "--wait", "recv", "nope"});
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_NE(missing.out.find("error=\"channel nope not found\""), std::string::npos)
      << missing.out;
  // Without a channel it is a usage error.
  EXPECT_EQ(orchctl_({"spawn", "recv"}).exit_code, 2);
}

}  // namespace
}  // namespace orch::test
