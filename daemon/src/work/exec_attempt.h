#pragma once
// The `exec` node: one attempt runs one program (no shell) in a process group of its own.
//
// The child's environment is not the daemon's: it is PATH (kExecDefaultPath unless the spec
// sets PATH), the spec's `env`, and ORCH_TASK_ID, ORCH_ATTEMPT and ORCH_FENCING_TOKEN. Its
// working directory is the spec's `cwd` ("/" when empty); stdin carries the spec's bytes
// (/dev/null when there are none). stdout and stderr are read concurrently until their end,
// each kept up to `max_output_bytes` and the rest read and dropped (`*_truncated`), so a
// chatty child never blocks on a full pipe.
//
// Outcome: exit code 0 is SUCCEEDED; another code FAILED (reason exit_code); death by a signal
// FAILED (reason signal); a program that cannot be started FAILED (reason spawn). When the
// program exits, whatever it left running in its group is SIGKILLed, and output still held
// open by a process that escaped the group is read for at most `kill_grace` more.
//
// Cancellation (abort, a timeout node, a lost select, shutdown): SIGTERM to the group, SIGKILL
// to the group `kill_grace` later if the leader still runs, then the attempt waits for the
// leader's exit and returns CANCELLED with what the process wrote. Nothing blocks a thread.

#include <boost/asio/awaitable.hpp>
#include <cstdint>

#include "engine/leaf_runner.h"

namespace orch::work {

/// Used when a spec leaves them unset (validation normally fills in the configured values).
inline constexpr std::uint64_t kExecDefaultMaxOutputBytes = 1 << 20;
inline constexpr Duration kExecDefaultKillGrace = std::chrono::seconds(5);
/// The child's PATH unless the spec sets one.
inline constexpr const char* kExecDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One attempt of an exec node (an engine::AttemptFn).
boost::asio::awaitable<engine::AttemptOutcome> exec_attempt(const engine::Node& node,
                                                            engine::RunContext& ctx,
                                                            const engine::AttemptInfo& attempt);

/// The environment an attempt's process gets, "NAME=value" each, in the order described above.
std::vector<std::string> exec_environment(const engine::ExecSpec& spec,
                                          const engine::AttemptInfo& attempt);

/// "exited with code 3", "killed by signal 9 (SIGKILL)", plus the last line of stderr when
/// there is one: the error of a failed attempt.
std::string describe_exit(const engine::ExecOutput& output);

}  // namespace orch::work
