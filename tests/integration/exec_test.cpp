// The exec node through the real daemon: orchctl's text and JSON, the tenant guards, retries
// with fencing tokens end to end, and cancellation (timeout, abort, shutdown) that leaves no
// process behind. Programs are scripts written to a scratch directory and allowlisted by their
// absolute paths; /bin/sh is allowlisted too, for `sh -c` one-liners.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "daemon_process.h"
#include "http_get.h"
#include "metrics_text.h"
#include "orch/client/specs.h"
#include "process_probe.h"
#include "proto_json.h"
#include "task_calls.h"
#include "text_assertions.h"

namespace orch::test {
namespace {

namespace v1 = orch::v1;
namespace oc = orch::client;

constexpr const char* kAlpha = "alpha-secret";  // may exec
constexpr const char* kBeta = "beta-secret";    // may not

// "flaky.sh COUNTER FAILURES": logs what the attempt was told, fails FAILURES times, then
// succeeds. The counter file is the caller's, so every test has its own.
constexpr const char* kFlakyScript = R"(counter="$1"
echo "$ORCH_TASK_ID $ORCH_ATTEMPT $ORCH_FENCING_TOKEN" >> "$counter"
n=$(wc -l < "$counter")
if [ "$n" -le "$2" ]; then echo "attempt $n failed" >&2; exit 1; fi
echo "succeeded on attempt $n"
)";

TestConfig exec_config(const std::vector<std::string>& allowlist) {
  TestConfig config = two_tenants();
  config.tenants[0].allowed_kinds = {"sleep", "exec"};
  config.tenants[0].exec_allowlist = allowlist;
  return config;
}

class ExecThroughTheDaemon : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scripts_ = new ScratchDir;
    flaky_ = scripts_->write_script("flaky.sh", kFlakyScript);
    daemon_ = new DaemonProcess(exec_config({"/bin/echo", "/bin/sh", "/usr/bin/env", flaky_}));
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete scripts_;
  }

  static DaemonProcess& daemon() { return *daemon_; }
  static oc::Client client() { return daemon_->client(kAlpha); }
  static Orchctl orchctl() { return daemon_->orchctl(kAlpha); }

  static double metric(const std::string& series) {
    return metric_sample(http_get(daemon_->admin_port(), "/metrics", std::chrono::seconds(5)).body,
                         series)
        .value_or(-1);
  }

  static inline ScratchDir* scripts_ = nullptr;
  static inline std::string flaky_;
  static inline DaemonProcess* daemon_ = nullptr;
};

TEST_F(ExecThroughTheDaemon, OrchctlPrintsTheExitCodeAndTheOutput) {
  const auto run = orchctl()({"spawn", "--wait", "exec", "--", "/bin/echo", "hello", "world"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  EXPECT_TRUE(contains(run.out, "state: SUCCEEDED\n"));
  EXPECT_TRUE(contains(run.out, "result:\n  exec SUCCEEDED took="));
  EXPECT_TRUE(contains(run.out,
                       "\n    exit_code: 0\n    stdout: \"hello world\\n\"\n"
                       "    stderr: \"\"\n"));

  const auto failed = orchctl()({"spawn", "--wait", "exec", "--", "/bin/sh", "-c",
                                 "echo partial; echo 'disk full' >&2; exit 3"});
  EXPECT_EQ(failed.exit_code, 1) << describe(failed);
  EXPECT_TRUE(contains(failed.out, "state: FAILED\n"));
  EXPECT_TRUE(contains(failed.out, "exec FAILED took="));
  EXPECT_TRUE(contains(failed.out, " error=\"exited with code 3: disk full\"\n"));
  EXPECT_TRUE(contains(failed.out,
                       "    exit_code: 3\n    stdout: \"partial\\n\"\n"
                       "    stderr: \"disk full\\n\"\n"));

  const auto killed =
      orchctl()({"spawn", "--wait", "exec", "--", "/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(killed.exit_code, 1) << describe(killed);
  EXPECT_TRUE(contains(killed.out, "    signal: 9 (SIGKILL)\n"));
}

TEST_F(ExecThroughTheDaemon, OrchctlJsonShowsTheWholeResultAndSpec) {
  const auto run =
      orchctl()({"-o", "json", "spawn", "--wait", "exec", "--env", "WHO=json", "--max-output-bytes",
                 "4", "--", "/bin/sh", "-c", "echo $WHO; echo abcdefgh >&2"});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto task = parse_json<v1::TaskInfo>(run.out);
  ASSERT_TRUE(task.result().has_exec()) << run.out;
  const auto& exec = task.result().exec();
  EXPECT_EQ(exec.exit_code(), 0);
  EXPECT_EQ(exec.stdout(), "json");
  EXPECT_TRUE(exec.stdout_truncated());
  EXPECT_EQ(exec.stderr(), "abcd");
  EXPECT_TRUE(exec.stderr_truncated());
  EXPECT_EQ(task.result().attempts(), 1u);
  EXPECT_GT(task.result().fencing_token(), 0u);
  EXPECT_EQ(task.spec().exec().env().at("WHO"), "json");
  EXPECT_EQ(task.spec().exec().max_output_bytes(), 4u);
  EXPECT_EQ(task.spec().exec().kill_grace().seconds(), 5) << "the configured default";
}

TEST_F(ExecThroughTheDaemon, EnvCwdAndStdinReachTheProgram) {
  ScratchDir dir;
  const std::string input = dir.file("input.txt");
  { std::ofstream(input) << "from a file\n"; }
  const auto run = orchctl()({"-o", "json", "spawn", "--wait", "exec", "--cwd", dir.path(),
                              "--stdin", "@" + input, "--env", "A=1", "--", "/bin/sh", "-c",
                              "pwd; cat; echo \"A=$A fence=$ORCH_FENCING_TOKEN\""});
  ASSERT_EQ(run.exit_code, 0) << describe(run);
  const auto task = parse_json<v1::TaskInfo>(run.out);
  EXPECT_EQ(task.result().exec().stdout(),
            dir.path() +
                "\nfrom a file\nA=1 fence=" + std::to_string(task.result().fencing_token()) + "\n");

  const auto env = orchctl()({"-o", "json", "spawn", "--wait", "exec", "--env", "GREETING=hi",
                              "--stdin", "ignored", "--", "/usr/bin/env"});
  ASSERT_EQ(env.exit_code, 0) << describe(env);
  const auto env_task = parse_json<v1::TaskInfo>(env.out);
  const auto lines = lines_of(env_task.result().exec().stdout());
  ASSERT_EQ(lines.size(), 5u) << env_task.result().exec().stdout();
  EXPECT_TRUE(starts_with(lines[0], "PATH="));
  EXPECT_EQ(lines[1], "GREETING=hi");
  EXPECT_EQ(lines[2], "ORCH_TASK_ID=" + env_task.id());
  EXPECT_EQ(lines[3], "ORCH_ATTEMPT=1");
  EXPECT_EQ(lines[4], "ORCH_FENCING_TOKEN=" + std::to_string(env_task.result().fencing_token()));
}

TEST_F(ExecThroughTheDaemon, ProgramsOutsideTheAllowlistArePermissionDenied) {
  const auto run = orchctl()({"spawn", "exec", "--", "/bin/rm", "-rf", "/tmp/nothing"});
  EXPECT_EQ(run.exit_code, 3) << describe(run);
  EXPECT_EQ(
      run.err,
      "PERMISSION_DENIED: spec.exec.argv[0]: /bin/rm is not in tenant alpha's exec_allowlist\n");

  auto beta = daemon().orchctl(kBeta)({"spawn", "exec", "--", "/bin/echo", "hi"});
  EXPECT_EQ(beta.exit_code, 3) << describe(beta);
  EXPECT_TRUE(starts_with(
      beta.err, "PERMISSION_DENIED: spec.exec: tenant beta may not use node kind 'exec'"));
  EXPECT_GE(metric("orch_tasks_rejected_total{reason=\"permission\",tenant=\"alpha\"}"), 1);
}

TEST_F(ExecThroughTheDaemon, RetriesUntilSuccessEachAttemptFencedAbove) {
  ScratchDir dir;
  const std::string counter = dir.file("attempts");
  const double attempts_before = metric("orch_task_attempts_total{kind=\"exec\",tenant=\"alpha\"}");
  const double failures_before = metric(
      "orch_task_attempt_failures_total{kind=\"exec\",reason=\"exit_code\",tenant=\"alpha\"}");
  const double ones_before = metric("orch_exec_exits_total{code=\"1\",tenant=\"alpha\"}");

  auto c = client();
  const auto spec = oc::with_retry(
      oc::exec({flaky_, counter, "2"}),
      oc::retry_policy(5, std::chrono::milliseconds(20), std::chrono::milliseconds(100)));
  const auto task = join_task(c, spawn_task(c, spec));
  ASSERT_EQ(task.state(), v1::TASK_STATE_SUCCEEDED) << task.result().error();
  EXPECT_EQ(task.result().attempts(), 3u);
  EXPECT_EQ(task.result().last_attempt_error(), "exited with code 1: attempt 2 failed");
  EXPECT_EQ(task.result().exec().stdout(), "succeeded on attempt 3\n");

  std::istringstream log(dir.read("attempts").value_or(""));
  std::string id;
  std::uint32_t number = 0;
  std::uint64_t token = 0;
  std::uint64_t previous = 0;
  for (std::uint32_t expected = 1; expected <= 3; ++expected) {
    ASSERT_TRUE(log >> id >> number >> token);
    EXPECT_EQ(id, task.id());
    EXPECT_EQ(number, expected);
    EXPECT_GT(token, previous);
    previous = token;
  }
  EXPECT_EQ(task.result().fencing_token(), previous);

  EXPECT_EQ(metric("orch_task_attempts_total{kind=\"exec\",tenant=\"alpha\"}") - attempts_before,
            3);
  EXPECT_EQ(
      metric(
          "orch_task_attempt_failures_total{kind=\"exec\",reason=\"exit_code\",tenant=\"alpha\"}") -
          std::max(failures_before, 0.0),
      2);
  EXPECT_EQ(metric("orch_exec_exits_total{code=\"1\",tenant=\"alpha\"}") - ones_before, 2);
}

TEST_F(ExecThroughTheDaemon, OrchctlRetriesAndNonRetryableErrors) {
  ScratchDir dir;
  const auto retried = orchctl()({"spawn", "--wait", "exec", "--retries", "3", "--backoff", "10ms",
                                  "--", flaky_, dir.file("a"), "1"});
  ASSERT_EQ(retried.exit_code, 0) << describe(retried);
  EXPECT_TRUE(contains(retried.out, "exec SUCCEEDED took="));
  EXPECT_TRUE(contains(retried.out, " attempts=2\n"));
  EXPECT_TRUE(
      contains(retried.out, "last_attempt_error: \"exited with code 1: attempt 1 failed\"\n"));

  const auto stopped =
      orchctl()({"spawn", "--wait", "exec", "--retries", "3", "--backoff", "10ms",
                 "--non-retryable", "exit_code", "--", flaky_, dir.file("b"), "1"});
  EXPECT_EQ(stopped.exit_code, 1) << describe(stopped);
  EXPECT_TRUE(
      contains(stopped.out, "error=\"attempt 1 of 4: exited with code 1: attempt 1 failed\"\n"));
  EXPECT_EQ(dir.read("b").value_or("").find('\n'), dir.read("b").value_or("").size() - 1)
      << "exactly one attempt ran";
}

TEST_F(ExecThroughTheDaemon, ATimeoutKillsAProcessTreeThatIgnoresSigterm) {
  ScratchDir dir;
  oc::ExecOptions options;
  options.kill_grace = std::chrono::milliseconds(300);
  const auto spec = oc::timeout(
      std::chrono::seconds(1),
      oc::exec({"/bin/sh", "-c",
                "trap '' TERM; echo $$ > " + dir.file("pid") + "; sleep 1000 & sleep 1000 & wait"},
               options));
  auto c = client();
  const auto task = join_task(c, spawn_task(c, spec));
  ASSERT_EQ(task.state(), v1::TASK_STATE_TIMED_OUT) << task.result().error();
  const auto& child = task.result().timeout().child();
  EXPECT_EQ(child.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(child.exec().signal(), SIGKILL);
  const pid_t group = static_cast<pid_t>(std::stol(dir.read("pid").value_or("0")));
  ASSERT_GT(group, 0);
  EXPECT_FALSE(process_alive(group)) << "the daemon reaps the leader before the node ends";
  EXPECT_TRUE(wait_until_group_gone(group, std::chrono::seconds(10))) << describe_group(group);
}

TEST_F(ExecThroughTheDaemon, AbortStopsARunningProgram) {
  ScratchDir dir;
  auto c = client();
  const std::string id = spawn_task(
      c, oc::exec({"/bin/sh", "-c", "echo $$ > " + dir.file("pid") + "; exec sleep 1000"}));
  const auto pid = dir.wait_for_line("pid", std::chrono::seconds(20));
  ASSERT_TRUE(pid.has_value()) << "the program never started";
  const auto aborted = orchctl()({"abort", id});
  ASSERT_EQ(aborted.exit_code, 0) << describe(aborted);
  EXPECT_EQ(aborted.out, id + " aborted\n");
  const auto task = join_task(c, id);
  EXPECT_EQ(task.state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(task.result().exec().signal(), SIGTERM);
  const pid_t group = static_cast<pid_t>(std::stol(*pid));
  EXPECT_FALSE(process_alive(group));
  EXPECT_TRUE(wait_until_group_gone(group, std::chrono::seconds(10))) << describe_group(group);
}

TEST_F(ExecThroughTheDaemon, TheDaemonKeepsNoChildOrZombieOnceItsTasksEnded) {
  ScratchDir dir;
  auto c = client();
  const std::vector<v1::TaskSpec> specs = {
      oc::exec({"/bin/echo", "ok"}), oc::exec({"/bin/sh", "-c", "exit 4"}),
      oc::exec({"/bin/sh", "-c", "kill -TERM $$"}),
      oc::exec({"/bin/sh", "-c", "sleep 1000 & exit 0"}),
      oc::timeout(std::chrono::milliseconds(100), oc::exec({"/bin/sh", "-c", "sleep 1000"}))};
  std::vector<std::string> ids;
  for (const auto& spec : specs) ids.push_back(spawn_task(c, spec));
  const auto tasks = join_tasks(c, ids);
  ASSERT_EQ(tasks.size(), specs.size());
  EXPECT_EQ(tasks[0].state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(tasks[1].state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(tasks[2].result().exec().signal(), SIGTERM);
  EXPECT_EQ(tasks[3].state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(tasks[4].state(), v1::TASK_STATE_TIMED_OUT);
  // Every leader is reaped before its node ends: the daemon has no child left, not even a
  // zombie.
  const auto children = children_of(daemon().pid());
  EXPECT_TRUE(children.empty()) << children.front();
}

TEST(ExecShutdown, ADaemonShuttingDownLeavesNoChildBehind) {
  ScratchDir dir;
  TestConfig config = exec_config({"/bin/sh"});
  config.shutdown_grace = "200ms";
  DaemonProcess daemon(config);
  auto c = daemon.client(kAlpha);
  oc::ExecOptions options;
  options.kill_grace = std::chrono::milliseconds(300);
  const std::string id = spawn_task(c, oc::exec({"/bin/sh", "-c",
                                                 "trap '' TERM; echo $$ > " + dir.file("pid") +
                                                     "; sleep 1000 & sleep 1000 & wait"},
                                                options));
  const auto pid = dir.wait_for_line("pid", std::chrono::seconds(20));
  ASSERT_TRUE(pid.has_value()) << "the program never started";
  const pid_t group = static_cast<pid_t>(std::stol(*pid));
  ASSERT_TRUE(process_alive(group));

  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
  EXPECT_FALSE(process_alive(group));
  EXPECT_TRUE(wait_until_group_gone(group, std::chrono::seconds(10))) << describe_group(group);
}

}  // namespace
}  // namespace orch::test
