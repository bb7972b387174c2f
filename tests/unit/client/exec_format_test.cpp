// How orchctl prints a work leaf's attempts and an exec node's process and output.
#include <gtest/gtest.h>
#include <signal.h>

#include "orch/client/format.h"

namespace orch::client {
namespace {

namespace v1 = orch::v1;

v1::TaskSpec exec_spec() {
  v1::TaskSpec spec;
  spec.mutable_exec()->add_argv("/bin/sh");
  return spec;
}

TEST(ExecFormat, AFinishedExecShowsItsExitCodeAndBothStreamsQuoted) {
  v1::NodeResult result;
  result.set_state(v1::TASK_STATE_FAILED);
  result.set_error("exited with code 3: disk full");
  result.set_attempts(1);
  result.set_last_attempt_error("exited with code 3: disk full");
  auto* exec = result.mutable_exec();
  exec->set_exit_code(3);
  exec->set_stdout("line 1\nline \"2\"\n");
  exec->set_stderr("disk full\n");
  exec->set_stderr_truncated(true);
  const auto spec = exec_spec();
  EXPECT_EQ(format_result(result, &spec, 1),
            "  exec FAILED error=\"exited with code 3: disk full\"\n"
            "    exit_code: 3\n"
            "    stdout: \"line 1\\nline \\\"2\\\"\\n\"\n"
            "    stderr: \"disk full\\n\" (truncated)\n");
  // Without the spec the output still names the kind.
  EXPECT_TRUE(format_result(result, nullptr, 0).starts_with("exec FAILED"));
}

TEST(ExecFormat, ASignalIsNamedAndRetriesShowTheAttemptsAndTheEarlierError) {
  v1::NodeResult result;
  result.set_state(v1::TASK_STATE_SUCCEEDED);
  result.set_attempts(3);
  result.set_last_attempt_error("killed by signal 9 (SIGKILL)");
  result.mutable_exec()->set_signal(SIGTERM);
  const auto spec = exec_spec();
  EXPECT_EQ(format_result(result, &spec, 0),
            "exec SUCCEEDED attempts=3\n"
            "  last_attempt_error: \"killed by signal 9 (SIGKILL)\"\n"
            "  signal: 15 (SIGTERM)\n"
            "  stdout: \"\"\n"
            "  stderr: \"\"\n");
}

}  // namespace
}  // namespace orch::client
