// Work of different kinds composed in one task: the loser of a select is really stopped,
// whatever its kind (an http request's connection closed, an exec's process gone).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "daemon_process.h"
#include "http_peer.h"
#include "orch/client/specs.h"
#include "process_probe.h"
#include "task_calls.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

constexpr auto kWait = std::chrono::seconds(10);

TestConfig exec_and_http() {
  TestConfig config;
  config.tenants = {TestTenant{.name = "alpha",
                               .token = kAlpha,
                               .allowed_kinds = {"sleep", "http", "exec"},
                               .exec_allowlist = {"/bin/echo", "/bin/sleep"}}};
  return config;
}

TEST(Composition, SelectOfASlowHttpAndAFastExecIsWonByTheExecAndTheRequestIsClosed) {
  HttpPeer peer([](const PeerRequest&, std::size_t) {
    PeerReply r;
    r.hang = true;
    return r;
  });
  DaemonProcess daemon(exec_and_http());
  auto client = daemon.client(kAlpha);
  // The exec takes two seconds, far more than the request needs to reach the peer; the
  // request never gets an answer.
  const auto task = join_task(
      client, spawn_task(client, oc::select({oc::http("GET", peer.url("/slow")),
                                             oc::exec({"/bin/sleep", "2"})})));
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.DebugString();
  EXPECT_EQ(task.result().select().winner(), 1u);
  EXPECT_EQ(task.result().select().result().exec().exit_code(), 0);
  const auto& loser = task.result().select().children(0);
  EXPECT_EQ(loser.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(loser.error(), "cancelled: lost the select to child 1");
  // The request reached the peer, then its connection was closed: the side effect stopped.
  ASSERT_TRUE(peer.wait_for_requests(1, kWait));
  EXPECT_TRUE(peer.wait_for_client_closes(1, kWait)) << "the losing request is still open";
}

TEST(Composition, SelectOfASlowExecAndAFastHttpIsWonByTheHttpAndTheProcessIsGone) {
  HttpPeer peer([](const PeerRequest&, std::size_t) {
    PeerReply r;
    r.status = 200;
    r.body = "fast";
    return r;
  });
  DaemonProcess daemon(exec_and_http());
  auto client = daemon.client(kAlpha);
  const auto task = join_task(
      client, spawn_task(client, oc::select({oc::exec({"/bin/sleep", "300"}),
                                             oc::http("GET", peer.url("/fast"))})));
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.DebugString();
  EXPECT_EQ(task.result().select().winner(), 1u);
  EXPECT_EQ(task.result().select().result().http().body(), "fast");
  EXPECT_EQ(task.result().select().children(0).state(), v1::TASK_STATE_CANCELLED);
  // The losing program was killed and reaped: the daemon has no child left (bounded wait).
  std::vector<std::string> children = children_of(daemon.pid());
  for (auto until = std::chrono::steady_clock::now() + kWait;
       !children.empty() && std::chrono::steady_clock::now() < until;
       children = children_of(daemon.pid())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(children.empty()) << "left behind: " << children.front();
}

}  // namespace
}  // namespace orch::test
