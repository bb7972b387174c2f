// The .proto files as a public contract: client/python/example.py, running on stubs generated
// from proto/ at build time (protoc + grpc_python_plugin), spawns, joins, selects and times out
// tasks on the real daemon; the C++ client then reads back what it did.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include "daemon_process.h"
#include "proto_json.h"
#include "task_calls.h"
#include "test_support.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;

constexpr const char* kPython3 = ORCH_TEST_PYTHON3;
constexpr const char* kPythonStubs = ORCH_TEST_PYTHON_STUBS;
constexpr auto kExampleBound = std::chrono::seconds(60);

std::string example_path() { return std::string(kSourceDir) + "/client/python/example.py"; }

// The example under Debian's python3, with the generated stubs on its path.
CommandResult run_example(const DaemonProcess& daemon, const std::string& token) {
  return run_command({"/usr/bin/env", std::string("PYTHONPATH=") + kPythonStubs, kPython3,
                      example_path(), "--addr", daemon.grpc_address(), "--token", token},
                     {}, kExampleBound);
}

class PythonClient : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(kPythonStubs).empty()) {
      GTEST_SKIP() << "no Python stubs: grpc_python_plugin (Debian protobuf-compiler-grpc) was "
                      "not found when configuring";
    }
    if (!std::filesystem::exists(kPython3)) GTEST_SKIP() << "no python3 (" << kPython3 << ")";
    const auto probe = run_command({kPython3, "-c", "import grpc, google.protobuf"});
    if (probe.exit_code != 0) {
      GTEST_SKIP() << kPython3 << " lacks grpc or protobuf (Debian python3-grpcio, "
                   << "python3-protobuf): " << probe.err;
    }
    ASSERT_TRUE(std::filesystem::exists(std::string(kPythonStubs) + "/orch/v1/tasks_pb2_grpc.py"))
        << "the stubs were not generated into " << kPythonStubs;
  }
};

// The id in `line` after `prefix` (13 characters of [0-9a-z]), or "" plus a test failure.
std::string id_after(const std::string& line, const std::string& prefix) {
  const std::regex id_re(prefix + "([0-9a-z]{13}) ");
  std::smatch match;
  if (!std::regex_search(line, match, id_re)) {
    ADD_FAILURE() << "no task id after \"" << prefix << "\" in: " << line;
    return {};
  }
  return match[1];
}

TEST_F(PythonClient, ExampleSpawnsJoinsSelectsAndTimesOutThroughGeneratedStubs) {
  TestConfig config;
  config.tenants = {TestTenant{.name = "alpha", .token = "alpha-secret", .max_concurrency = 4}};
  DaemonProcess daemon(config);

  const auto result = run_example(daemon, "alpha-secret");
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(result.err, "");
  const auto lines = lines_of(result.out);
  ASSERT_EQ(lines.size(), 7u) << result.out;
  EXPECT_EQ(lines[0], "tenant: alpha (max_concurrency=4)");
  EXPECT_TRUE(std::regex_match(lines[1],
                               std::regex("spawn\\+join: [0-9a-z]{13} SUCCEEDED name=py-sleep")))
      << lines[1];
  EXPECT_TRUE(std::regex_match(
      lines[2],
      std::regex("select: winner=1 [0-9a-z]{13} SUCCEEDED; loser [0-9a-z]{13} CANCELLED")))
      << lines[2];
  EXPECT_TRUE(std::regex_match(lines[3],
                               std::regex("select node: [0-9a-z]{13} SUCCEEDED winner=1")))
      << lines[3];
  EXPECT_TRUE(std::regex_match(
      lines[4], std::regex("timeout node: [0-9a-z]{13} TIMED_OUT child=CANCELLED")))
      << lines[4];
  EXPECT_TRUE(std::regex_match(
      lines[5],
      std::regex("join timeout: DEADLINE_EXCEEDED; abort: [0-9a-z]{13} CANCELLED \\(aborted=1\\)")))
      << lines[5];
  EXPECT_EQ(lines[6], "ok");

  // What the daemon kept agrees, read through the C++ client: six tasks in the tenant, in the
  // states the example printed.
  auto client = daemon.client("alpha-secret");
  const auto joined = get_task(client, id_after(lines[1], "spawn\\+join: "));
  EXPECT_EQ(joined.state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(joined.name(), "py-sleep");
  EXPECT_EQ(get_task(client, id_after(lines[2], "loser ")).name(), "py-slow");
  const auto timed = get_task(client, id_after(lines[4], "timeout node: "));
  EXPECT_EQ(timed.state(), v1::TASK_STATE_TIMED_OUT);
  EXPECT_TRUE(timed.spec().has_timeout()) << timed.spec().DebugString();

  v1::ListTasksRequest list;
  v1::ListTasksResponse tasks;
  const auto status = client.list(list, tasks, kCallDeadline);
  ASSERT_TRUE(status.ok()) << describe(status);
  std::map<v1::TaskState, int> by_state;
  for (const auto& task : tasks.tasks()) ++by_state[task.state()];
  EXPECT_EQ(tasks.tasks_size(), 6);
  EXPECT_EQ(by_state[v1::TASK_STATE_SUCCEEDED], 3);
  EXPECT_EQ(by_state[v1::TASK_STATE_CANCELLED], 2);
  EXPECT_EQ(by_state[v1::TASK_STATE_TIMED_OUT], 1);
}

TEST_F(PythonClient, AnUnknownTokenIsAnRpcErrorWithExitCode3) {
  DaemonProcess daemon(two_tenants());
  const auto result = run_example(daemon, "not-a-token");
  EXPECT_EQ(result.exit_code, 3) << describe(result);
  EXPECT_EQ(result.err, "UNAUTHENTICATED: unknown token\n");
  EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace orch::test
