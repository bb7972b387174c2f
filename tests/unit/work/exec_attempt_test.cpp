// The exec node inside the engine, with real processes: outcomes, output caps, environment,
// fencing across retries, and every cancellation path reaching the whole process group.
// The io_context runs on the test's thread with the real clock; every wait is bounded.
#include "work/exec_attempt.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <optional>
#include <sstream>

#include "metrics_text.h"
#include "orch/engine/engine.h"
#include "orch/metrics/metrics.h"
#include "process_probe.h"
#include "text_assertions.h"

using namespace std::chrono_literals;

namespace orch::engine {
namespace {

namespace asio = boost::asio;
using test::ScratchDir;

// Far beyond what any test here needs on a loaded machine, far below the ctest timeout.
constexpr auto kLimit = 30s;

Node exec_node(std::vector<std::string> argv, ExecSpec spec = {}) {
  spec.argv = std::move(argv);
  Node node = make_node(NodeKind::kExec);
  node.work = std::move(spec);
  return node;
}

Node sh(const std::string& script, ExecSpec spec = {}) {
  return exec_node({"/bin/sh", "-c", script}, std::move(spec));
}

const ExecOutput& exec_output(const NodeResult& result) {
  static const ExecOutput none;
  const auto* output = std::get_if<ExecOutput>(&result.output);
  EXPECT_NE(output, nullptr) << "the node has no exec output";
  return output != nullptr ? *output : none;
}

class ExecAttemptTest : public ::testing::Test {
 protected:
  ExecAttemptTest() {
    Clock::use_real();
    engine_.emplace(io_.get_executor(), EngineOptions{std::chrono::hours(1)}, &metrics_);
    engine_->add_tenant({"alpha", 8, 100});
  }

  ~ExecAttemptTest() override {
    // Tasks reference the engine: end them all (their processes too) before it goes.
    engine_->stop_accepting();
    bool drained = false;
    asio::co_spawn(io_, engine_->drain(Duration::zero()),
                   [&drained](std::exception_ptr) { drained = true; });
    EXPECT_TRUE(run_until([&] { return drained; }));
    engine_.reset();
    io_.restart();
    io_.poll();
  }

  // Runs the io_context until `done()` or kLimit; false on the limit.
  template <typename Done>
  bool run_until(Done done, std::chrono::milliseconds limit = kLimit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.restart();
      io_.run_for(10ms);
    }
    return true;
  }

  std::string spawn(Node spec) {
    auto outcome = engine_->spawn("alpha", SpawnArgs{std::move(spec), "", {}, ""});
    EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().message);
    return outcome ? outcome->id : std::string{};
  }

  TaskSnapshot get(const std::string& id) {
    auto snapshot = engine_->get("alpha", id);
    EXPECT_TRUE(snapshot.has_value());
    return snapshot ? *snapshot : TaskSnapshot{};
  }

  // Runs the task to its end.
  TaskSnapshot finish(const std::string& id) {
    EXPECT_TRUE(run_until([&] { return is_terminal(get(id).state); }))
        << "task " << id << " did not end within " << kLimit.count() << " s";
    return get(id);
  }

  TaskSnapshot run(Node spec) { return finish(spawn(std::move(spec))); }

  // Runs the io_context until the script has written the pid it put in `name`.
  pid_t wait_for_pid(const ScratchDir& dir, const std::string& name) {
    std::optional<std::string> line;
    EXPECT_TRUE(run_until([&] { return (line = dir.wait_for_line(name, 0ms)).has_value(); }))
        << "the program never wrote " << name;
    return line ? static_cast<pid_t>(std::stol(*line)) : 0;
  }

  double exits(const std::string& code) {
    return test::metric_sample(metrics_.serialize(),
                               "orch_exec_exits_total{code=\"" + code + "\",tenant=\"alpha\"}")
        .value_or(-1);
  }

  metrics::Metrics metrics_;
  asio::io_context io_;
  std::optional<Engine> engine_;
};

TEST_F(ExecAttemptTest, ExitZeroSucceedsWithBothStreamsCaptured) {
  const auto task = run(sh("printf 'to stdout\\n'; printf 'to stderr\\n' >&2"));
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  const auto& out = exec_output(*task.result);
  EXPECT_EQ(out.exit_code, 0);
  EXPECT_FALSE(out.signal.has_value());
  EXPECT_EQ(out.stdout_data, "to stdout\n");
  EXPECT_EQ(out.stderr_data, "to stderr\n");
  EXPECT_FALSE(out.stdout_truncated);
  EXPECT_FALSE(out.stderr_truncated);
  EXPECT_EQ(task.result->attempts, 1u);
  EXPECT_EQ(exits("0"), 1);
}

TEST_F(ExecAttemptTest, NonZeroExitFailsAndQuotesTheLastLineOfStderr) {
  const auto task =
      run(sh("echo working; echo 'first problem' >&2; echo 'no such table' >&2; exit 3"));
  ASSERT_EQ(task.state, State::kFailed);
  const auto& out = exec_output(*task.result);
  EXPECT_EQ(out.exit_code, 3);
  EXPECT_EQ(out.stdout_data, "working\n");
  EXPECT_EQ(task.result->error, "exited with code 3: no such table");
  EXPECT_EQ(task.result->last_attempt_error, "exited with code 3: no such table");
  EXPECT_EQ(exits("other"), 1);
}

TEST_F(ExecAttemptTest, AProgramKilledByASignalFailsWithThatSignal) {
  const auto task = run(sh("kill -KILL $$"));
  ASSERT_EQ(task.state, State::kFailed);
  const auto& out = exec_output(*task.result);
  EXPECT_FALSE(out.exit_code.has_value());
  EXPECT_EQ(out.signal, SIGKILL);
  EXPECT_EQ(task.result->error, "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(exits("signal"), 1);
}

TEST_F(ExecAttemptTest, AProgramThatCannotStartFailsWithSpawn) {
  ScratchDir dir;
  auto task = run(exec_node({dir.file("missing")}));
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_EQ(task.result->error,
            "cannot start " + dir.file("missing") + ": No such file or directory");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(task.result->output));

  ExecSpec in_missing_dir;
  in_missing_dir.cwd = dir.file("nowhere");
  task = run(exec_node({"/bin/true"}, in_missing_dir));
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_EQ(task.result->error,
            "cannot start cwd " + dir.file("nowhere") + ": No such file or directory");

  const std::string not_executable = dir.file("data.txt");
  { std::ofstream(not_executable) << "just data\n"; }
  task = run(exec_node({not_executable}));
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_EQ(task.result->error, "cannot start " + not_executable + ": Permission denied");
}

TEST_F(ExecAttemptTest, OutputIsCappedPerStreamAndTheRestIsDrained) {
  ExecSpec capped;
  capped.max_output_bytes = 1000;
  // 4 MiB on stdout is far more than a pipe holds: the child finishes only if we keep reading.
  const auto task = run(sh("head -c 4194304 /dev/zero | tr '\\0' o; printf 'short' >&2", capped));
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  const auto& out = exec_output(*task.result);
  EXPECT_EQ(out.stdout_data, std::string(1000, 'o'));
  EXPECT_TRUE(out.stdout_truncated);
  EXPECT_EQ(out.stderr_data, "short");
  EXPECT_FALSE(out.stderr_truncated);

  const auto on_stderr = run(sh("printf '12345'; head -c 5000 /dev/zero | tr '\\0' e >&2", capped));
  const auto& err = exec_output(*on_stderr.result);
  EXPECT_EQ(err.stdout_data, "12345");
  EXPECT_FALSE(err.stdout_truncated);
  EXPECT_EQ(err.stderr_data.size(), 1000u);
  EXPECT_TRUE(err.stderr_truncated);

  ExecSpec exact;
  exact.max_output_bytes = 5;
  const auto at_cap = run(sh("printf '12345'", exact));
  EXPECT_EQ(exec_output(*at_cap.result).stdout_data, "12345");
  EXPECT_FALSE(exec_output(*at_cap.result).stdout_truncated);
}

TEST_F(ExecAttemptTest, TheChildSeesOnlyItsOwnEnvironmentCwdAndStdin) {
  ScratchDir dir;
  ::setenv("ORCH_TEST_DAEMON_SECRET", "must not leak", 1);
  ExecSpec spec;
  spec.env = {{"GREETING", "hello world"}, {"EMPTY", ""}};
  spec.cwd = dir.path();
  spec.stdin_data = std::string("line one\nline two\n") + '\0' + "binary";
  const auto env_task = run(exec_node({"/usr/bin/env"}, spec));
  ::unsetenv("ORCH_TEST_DAEMON_SECRET");
  ASSERT_EQ(env_task.state, State::kSucceeded) << env_task.result->error;
  const std::string expected =
      std::string("PATH=") + work::kExecDefaultPath +
      "\nGREETING=hello world\nEMPTY=\nORCH_TASK_ID=" + env_task.id +
      "\nORCH_ATTEMPT=1\nORCH_FENCING_TOKEN=" + std::to_string(env_task.result->fencing_token) +
      "\n";
  EXPECT_EQ(exec_output(*env_task.result).stdout_data, expected);

  const auto pwd_task = run(exec_node({"/bin/pwd"}, spec));
  EXPECT_EQ(exec_output(*pwd_task.result).stdout_data, dir.path() + "\n");
  const auto cat_task = run(exec_node({"/bin/cat"}, spec));
  EXPECT_EQ(exec_output(*cat_task.result).stdout_data, spec.stdin_data);

  ExecSpec root;
  const auto default_cwd = run(exec_node({"/bin/pwd"}, root));
  EXPECT_EQ(exec_output(*default_cwd.result).stdout_data, "/\n");
  // Without stdin bytes the child reads /dev/null: EOF at once.
  EXPECT_EQ(exec_output(*run(exec_node({"/bin/cat"}, root)).result).stdout_data, "");

  ExecSpec own_path;
  own_path.env = {{"PATH", "/bin"}};
  const auto path_task = run(sh("echo $PATH", own_path));
  EXPECT_EQ(exec_output(*path_task.result).stdout_data, "/bin\n");
}

TEST_F(ExecAttemptTest, AChildThatClosesStdinEarlyDoesNotStopTheAttempt) {
  ExecSpec spec;
  spec.stdin_data = std::string(1 << 20, 'x');  // more than a pipe holds
  const auto task = run(sh("exec 0<&-; echo closed", spec));
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  EXPECT_EQ(exec_output(*task.result).stdout_data, "closed\n");
}

TEST_F(ExecAttemptTest, RetriesUntilSuccessWithAGrowingFencingToken) {
  ScratchDir dir;
  // Fails twice, then succeeds; every attempt logs what it was told.
  const std::string script = dir.write_script(
      "flaky.sh", "echo \"$ORCH_TASK_ID $ORCH_ATTEMPT $ORCH_FENCING_TOKEN\" >> " +
                      dir.file("attempts") +
                      "\n"
                      "n=$(wc -l < " +
                      dir.file("attempts") +
                      ")\n"
                      "if [ \"$n\" -lt 3 ]; then echo \"try $n failed\" >&2; exit 7; fi\n"
                      "echo done\n");
  Node node = exec_node({script});
  node.retry.max_attempts = 5;
  node.retry.initial_backoff = 10ms;
  node.retry.max_backoff = 20ms;
  const auto task = run(node);
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  EXPECT_EQ(task.result->attempts, 3u);
  EXPECT_EQ(task.result->last_attempt_error, "exited with code 7: try 2 failed");
  EXPECT_EQ(exec_output(*task.result).stdout_data, "done\n");

  const auto log = dir.read("attempts").value_or("");
  std::istringstream lines(log);
  std::string id;
  std::uint32_t number = 0;
  std::uint64_t token = 0;
  std::uint64_t previous = 0;
  for (std::uint32_t expected = 1; expected <= 3; ++expected) {
    ASSERT_TRUE(lines >> id >> number >> token) << log;
    EXPECT_EQ(id, task.id);
    EXPECT_EQ(number, expected);
    EXPECT_GT(token, previous) << log;
    previous = token;
  }
  EXPECT_EQ(task.result->fencing_token, previous);
  EXPECT_EQ(exits("other"), 2);
  EXPECT_EQ(exits("0"), 1);
}

TEST_F(ExecAttemptTest, ANonRetryableFailureEndsTheNodeAtOnce) {
  ScratchDir dir;
  const std::string script =
      dir.write_script("fail.sh", "echo x >> " + dir.file("runs") + "\nexit 1\n");
  Node node = exec_node({script});
  node.retry.max_attempts = 5;
  node.retry.initial_backoff = 10ms;
  node.retry.non_retryable_errors = {FailureReason::kExitCode};
  const auto task = run(node);
  ASSERT_EQ(task.state, State::kFailed);
  EXPECT_EQ(task.result->attempts, 1u);
  EXPECT_EQ(task.result->error, "attempt 1 of 5: exited with code 1");
  EXPECT_EQ(dir.read("runs"), "x\n");

  // A reason not listed is retried as usual.
  Node killed = sh("kill -KILL $$");
  killed.retry = node.retry;
  const auto retried = run(killed);
  EXPECT_EQ(retried.result->attempts, 5u);
  EXPECT_EQ(retried.result->error, "attempt 5 of 5: killed by signal 9 (SIGKILL)");
}

TEST_F(ExecAttemptTest, ATimeoutKillsAProcessTreeThatIgnoresSigterm) {
  ScratchDir dir;
  ExecSpec spec;
  spec.kill_grace = 300ms;
  const std::string script = "trap '' TERM; echo $$ > " + dir.file("pid") +
                             "; sleep 1000 & sleep 1000 & echo started; wait";
  const auto id = spawn(make_node(NodeKind::kTimeout, 1s, {sh(script, spec)}));
  const pid_t group = wait_for_pid(dir, "pid");
  ASSERT_GT(group, 0);
  const auto task = finish(id);
  ASSERT_EQ(task.state, State::kTimedOut);
  const NodeResult& child = task.result->children.at(0);
  EXPECT_EQ(child.state, State::kCancelled);
  EXPECT_EQ(child.error, "cancelled: deadline of 1s passed");
  const auto& out = exec_output(child);
  EXPECT_EQ(out.signal, SIGKILL) << "the shell ignores SIGTERM: only SIGKILL ends it";
  EXPECT_EQ(out.stdout_data, "started\n");
  // The leader is reaped before the node ends; its sleeps were SIGKILLed with the group.
  EXPECT_FALSE(test::process_alive(group));
  EXPECT_TRUE(test::wait_until_group_gone(group, 10s)) << test::describe_group(group);
}

TEST_F(ExecAttemptTest, AbortStopsTheProgramWithSigterm) {
  ScratchDir dir;
  ExecSpec spec;
  spec.kill_grace = 20s;  // the program honours SIGTERM, so the grace never runs out
  const auto id = spawn(sh("echo $$ > " + dir.file("pid") + "; exec sleep 1000", spec));
  const pid_t group = wait_for_pid(dir, "pid");
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine_->abort("alpha", {id}).has_value());
  const auto task = finish(id);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  ASSERT_EQ(task.state, State::kCancelled);
  EXPECT_EQ(exec_output(*task.result).signal, SIGTERM);
  EXPECT_FALSE(test::process_alive(group));
  EXPECT_TRUE(test::wait_until_group_gone(group, 10s)) << test::describe_group(group);
}

TEST_F(ExecAttemptTest, ASelectLoserIsKilled) {
  ScratchDir dir;
  ExecSpec spec;
  spec.kill_grace = 200ms;
  const auto id = spawn(make_node(
      NodeKind::kSelect, {},
      {sh("echo $$ > " + dir.file("pid") + "; exec sleep 1000", spec),
       sh("while [ ! -s " + dir.file("pid") + " ]; do sleep 0.01; done; echo fast", spec)}));
  const auto task = finish(id);
  ASSERT_EQ(task.state, State::kSucceeded);
  EXPECT_EQ(task.result->winner, 1u);
  EXPECT_EQ(task.result->children.at(0).state, State::kCancelled);
  const pid_t group = static_cast<pid_t>(std::stol(dir.read("pid").value_or("0")));
  ASSERT_GT(group, 0);
  EXPECT_TRUE(test::wait_until_group_gone(group, 10s)) << test::describe_group(group);
}

TEST_F(ExecAttemptTest, ShutdownDrainLeavesNoProcess) {
  ScratchDir dir;
  ExecSpec spec;
  spec.kill_grace = 200ms;
  const auto id =
      spawn(sh("trap '' TERM; echo $$ > " + dir.file("pid") + "; sleep 1000 & wait", spec));
  const pid_t group = wait_for_pid(dir, "pid");
  engine_->stop_accepting();
  bool drained = false;
  asio::co_spawn(io_, engine_->drain(Duration::zero()),
                 [&drained](std::exception_ptr) { drained = true; });
  ASSERT_TRUE(run_until([&] { return drained; }));
  EXPECT_EQ(get(id).state, State::kCancelled);
  EXPECT_FALSE(test::process_alive(group));
  EXPECT_TRUE(test::wait_until_group_gone(group, 10s)) << test::describe_group(group);
}

TEST_F(ExecAttemptTest, WhatTheProgramLeavesRunningInItsGroupIsKilledWhenItExits) {
  ScratchDir dir;
  const auto task = run(sh("echo $$ > " + dir.file("pid") + "; sleep 1000 & echo left"));
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  EXPECT_EQ(exec_output(*task.result).stdout_data, "left\n");
  const pid_t group = static_cast<pid_t>(std::stol(dir.read("pid").value_or("0")));
  EXPECT_TRUE(test::wait_until_group_gone(group, 10s)) << test::describe_group(group);
}

TEST_F(ExecAttemptTest, OutputHeldOpenByAnEscapedProcessIsReadForAtMostTheGrace) {
  ScratchDir dir;
  ExecSpec spec;
  spec.kill_grace = 300ms;
  // setsid puts the sleep in a session (and group) of its own, out of the group's reach; it
  // keeps the stdout pipe open. The program exits once the escape is done.
  const std::string escaped = dir.file("escaped");
  const auto started = std::chrono::steady_clock::now();
  const auto task = run(sh("setsid sh -c 'echo $$ > " + escaped +
                               "; exec sleep 20' & "
                               "while [ ! -s " +
                               escaped + " ]; do sleep 0.01; done; echo parent",
                           spec));
  const auto took = std::chrono::steady_clock::now() - started;
  const pid_t pid = static_cast<pid_t>(std::stol(dir.read("escaped").value_or("0")));
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(test::process_alive(pid)) << "the escaped process should have outlived the group";
  ::kill(pid, SIGKILL);
  ASSERT_EQ(task.state, State::kSucceeded) << task.result->error;
  EXPECT_EQ(exec_output(*task.result).stdout_data, "parent\n");
  EXPECT_GE(took, 300ms) << "the pipes were closed before the grace";
  EXPECT_LT(took, 15s) << "the held pipe kept the attempt waiting";
}

TEST(ExecEnvironment, PathFirstThenTheSpecThenTheAttempt) {
  ExecSpec spec;
  spec.env = {{"A", "1"}, {"B", "x=y"}};
  const std::string task_id = "01TASK";
  const AttemptInfo attempt{task_id, 4, 99};
  EXPECT_EQ(
      work::exec_environment(spec, attempt),
      (std::vector<std::string>{std::string("PATH=") + work::kExecDefaultPath, "A=1", "B=x=y",
                                "ORCH_TASK_ID=01TASK", "ORCH_ATTEMPT=4", "ORCH_FENCING_TOKEN=99"}));
}

TEST(DescribeExit, NamesTheCodeOrSignalAndTheLastLineOfStderr) {
  ExecOutput out;
  out.exit_code = 2;
  EXPECT_EQ(work::describe_exit(out), "exited with code 2");
  out.stderr_data = "warning\nfatal: bad input\n\n";
  EXPECT_EQ(work::describe_exit(out), "exited with code 2: fatal: bad input");
  out.stderr_data = std::string(500, 'e');
  EXPECT_EQ(work::describe_exit(out), "exited with code 2: " + std::string(200, 'e'));
  ExecOutput killed;
  killed.signal = SIGTERM;
  EXPECT_EQ(work::describe_exit(killed), "killed by signal 15 (SIGTERM)");
}

}  // namespace
}  // namespace orch::engine
