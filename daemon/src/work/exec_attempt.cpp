#include "work/exec_attempt.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <variant>

#include "engine/engine_metrics.h"
#include "orch/engine/engine.h"
#include "work/process_group.h"

namespace orch::work {
namespace {

namespace asio = boost::asio;
using asio::experimental::make_parallel_group;
using asio::experimental::wait_for_all;
using asio::experimental::wait_for_one;
using engine::AttemptOutcome;
using engine::ExecOutput;
using engine::ExecSpec;
using engine::FailureReason;
using engine::State;
using engine::Timer;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;
// Longest tail of stderr quoted in a failed attempt's error.
constexpr std::size_t kQuotedStderrBytes = 200;

// Makes the calling coroutine deaf to cancellation from its parent from now on.
auto ignore_cancellation() {
  return asio::this_coro::reset_cancellation_state(
      [](asio::cancellation_type) { return asio::cancellation_type::none; });
}

// The state one attempt's coroutines share; they all run on the task's strand.
struct ExecRun {
  ExecRun(ProcessGroup& child, const ExecSpec& spec, const engine::AttemptInfo& attempt,
          const asio::any_io_executor& executor)
      : child(child),
        spec(spec),
        attempt(attempt),
        max_output(spec.max_output_bytes == 0 ? kExecDefaultMaxOutputBytes : spec.max_output_bytes),
        kill_grace(spec.kill_grace.value_or(kExecDefaultKillGrace)),
        pipes_done(executor) {}

  ProcessGroup& child;
  const ExecSpec& spec;
  const engine::AttemptInfo& attempt;
  const std::uint64_t max_output;
  const Duration kill_grace;
  ExecOutput output;
  bool cancelled = false;
  int open_pumps = 3;  // stdin, stdout, stderr
  Timer pipes_done;    // cancelled by the last pump to finish

  void pump_finished() {
    if (--open_pumps == 0) pipes_done.cancel();
  }
};

// Writes the spec's stdin bytes, then closes the pipe so the child reads EOF. A child that
// exits or closes stdin first ends the write with EPIPE, which is no error of the attempt.
asio::awaitable<void> feed_stdin(ExecRun& run) {
  co_await ignore_cancellation();
  if (!run.spec.stdin_data.empty()) {
    co_await asio::async_write(run.child.stdin_pipe(), asio::buffer(run.spec.stdin_data), kAwait);
  }
  boost::system::error_code ignored;
  run.child.stdin_pipe().close(ignored);
  run.pump_finished();
}

// Reads one output stream to its end, keeping at most max_output bytes of it.
asio::awaitable<void> drain(ExecRun& run, ProcessGroup::Pipe& pipe, std::string& kept,
                            bool& truncated) {
  co_await ignore_cancellation();
  std::array<char, kReadChunk> chunk;
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(chunk), kAwait);
    const std::size_t room = run.max_output - std::min<std::uint64_t>(run.max_output, kept.size());
    kept.append(chunk.data(), std::min(n, room));
    if (n > room) truncated = true;
    if (ec) break;  // EOF, or the pipe was closed under us
  }
  run.pump_finished();
}

// Waits for the child's end. On cancellation: SIGTERM to the group, SIGKILL after kill_grace,
// then waits for the leader all the same. Afterwards gives the pipes up to kill_grace to reach
// their end (a process that escaped the group may hold them open) before closing them.
asio::awaitable<ExitStatus> supervise(ExecRun& run) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto executor = co_await asio::this_coro::executor;
  std::optional<ExitStatus> status = co_await run.child.wait_exit();
  if (!status) {
    run.cancelled = true;
    co_await ignore_cancellation();  // a second cancellation must not cut the grace short
    spdlog::debug("task {} attempt {}: cancelled, SIGTERM to process group {}", run.attempt.task_id,
                  run.attempt.number, run.child.pid());
    run.child.signal(SIGTERM);
    Timer grace(executor);
    grace.expires_after(run.kill_grace);
    auto wait_exit = asio::co_spawn(executor, run.child.wait_exit(), asio::deferred);
    auto grace_over = grace.async_wait(asio::deferred);
    auto race = make_parallel_group(std::move(wait_exit), std::move(grace_over));
    auto [order, exception, exited, grace_ec] =
        co_await race.async_wait(wait_for_one(), asio::use_awaitable);
    if (!exception && exited) {
      status = exited;
    } else {
      spdlog::info("task {} attempt {}: process group {} still runs {} after SIGTERM; SIGKILL",
                   run.attempt.task_id, run.attempt.number, run.child.pid(),
                   format_duration(run.kill_grace));
      run.child.signal(SIGKILL);
      status = co_await run.child.wait_exit();
    }
  }
  if (run.open_pumps > 0) {
    run.pipes_done.expires_after(run.kill_grace);
    // Ends early (cancelled) once the last pump is done; a timeout means someone holds a pipe.
    co_await run.pipes_done.async_wait(kAwait);
    if (run.open_pumps > 0) run.child.close_pipes();
  }
  co_return status.value_or(ExitStatus{});
}

const char* signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev != nullptr ? abbrev : "?";
}

AttemptOutcome outcome_of(ExecOutput output) {
  AttemptOutcome outcome;
  if (output.exit_code == 0) {
    outcome.state = State::kSucceeded;
  } else if (output.exit_code) {
    outcome.state = State::kFailed;
    outcome.reason = FailureReason::kExitCode;
    outcome.error = describe_exit(output);
  } else if (output.signal) {
    outcome.state = State::kFailed;
    outcome.reason = FailureReason::kSignal;
    outcome.error = describe_exit(output);
  } else {
    outcome.state = State::kFailed;
    outcome.reason = FailureReason::kInternal;
    outcome.error = "the process's exit status was lost";
  }
  outcome.output = std::move(output);
  return outcome;
}

}  // namespace

std::vector<std::string> exec_environment(const ExecSpec& spec,
                                          const engine::AttemptInfo& attempt) {
  std::vector<std::string> env;
  env.reserve(spec.env.size() + 4);
  bool has_path = false;
  for (const auto& [name, value] : spec.env) has_path = has_path || name == "PATH";
  if (!has_path) env.push_back(std::string("PATH=") + kExecDefaultPath);
  for (const auto& [name, value] : spec.env) env.push_back(name + "=" + value);
  env.push_back("ORCH_TASK_ID=" + attempt.task_id);
  env.push_back("ORCH_ATTEMPT=" + std::to_string(attempt.number));
  env.push_back("ORCH_FENCING_TOKEN=" + std::to_string(attempt.fencing_token));
  return env;
}

std::string describe_exit(const ExecOutput& output) {
  std::string text;
  if (output.exit_code) {
    text = "exited with code " + std::to_string(*output.exit_code);
  } else if (output.signal) {
    text = "killed by signal " + std::to_string(*output.signal) + " (SIG" +
           signal_name(*output.signal) + ")";
  } else {
    return "the process's exit status was lost";
  }
  // The last non-empty line of stderr usually says why.
  std::string_view err = output.stderr_data;
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.remove_suffix(1);
  if (const auto newline = err.rfind('\n'); newline != std::string_view::npos) {
    err.remove_prefix(newline + 1);
  }
  if (!err.empty()) {
    if (err.size() > kQuotedStderrBytes) err = err.substr(0, kQuotedStderrBytes);
    text += ": ";
    text += err;
  }
  return text;
}

asio::awaitable<AttemptOutcome> exec_attempt(const engine::Node& node, engine::RunContext& ctx,
                                             const engine::AttemptInfo& attempt) {
  const auto* spec = std::get_if<ExecSpec>(&node.work);
  if (spec == nullptr || spec->argv.empty()) {
    AttemptOutcome broken;
    broken.error = "exec node without a program";
    co_return broken;  // validation refuses this: a bug
  }
  auto executor = co_await asio::this_coro::executor;
  // Nothing is started for a node that was cancelled while it waited for its permit.
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none) {
    AttemptOutcome cancelled;
    cancelled.state = State::kCancelled;
    cancelled.error = "cancelled before the program started";
    co_return cancelled;
  }

  Command command{spec->argv, exec_environment(*spec, attempt), spec->cwd,
                  !spec->stdin_data.empty()};
  ProcessGroup::Started started = ProcessGroup::start(executor, command);
  if (!started.process) {
    AttemptOutcome failed;
    failed.reason = FailureReason::kSpawn;
    failed.error = "cannot start " + started.error;
    co_return failed;
  }

  spdlog::debug("task {} attempt {}: started {} as pid {} in a process group of its own",
                attempt.task_id, attempt.number, spec->argv.front(), started.process->pid());
  ExecRun run(*started.process, *spec, attempt, executor);
  auto supervisor = asio::co_spawn(executor, supervise(run), asio::deferred);
  auto stdin_feeder = asio::co_spawn(executor, feed_stdin(run), asio::deferred);
  auto stdout_reader = asio::co_spawn(
      executor,
      drain(run, run.child.stdout_pipe(), run.output.stdout_data, run.output.stdout_truncated),
      asio::deferred);
  auto stderr_reader = asio::co_spawn(
      executor,
      drain(run, run.child.stderr_pipe(), run.output.stderr_data, run.output.stderr_truncated),
      asio::deferred);
  auto group = make_parallel_group(std::move(supervisor), std::move(stdin_feeder),
                                   std::move(stdout_reader), std::move(stderr_reader));
  auto [order, supervise_error, status, stdin_error, stdout_error, stderr_error] =
      co_await group.async_wait(wait_for_all(), asio::use_awaitable);

  run.output.exit_code = status.code;
  run.output.signal = status.signal;
  spdlog::debug("task {} attempt {}: pid {} {}", attempt.task_id, attempt.number, run.child.pid(),
                describe_exit(run.output));
  engine::count_exec_exit(ctx.engine.tenant_state(ctx.record), run.output);
  if (supervise_error || stdin_error || stdout_error || stderr_error) {
    AttemptOutcome broken;
    broken.error = "internal error while running the program";
    broken.output = std::move(run.output);
    co_return broken;
  }
  if (run.cancelled) {
    AttemptOutcome cancelled;
    cancelled.state = State::kCancelled;
    cancelled.error = "cancelled: the process group was stopped";
    cancelled.output = std::move(run.output);
    co_return cancelled;
  }
  co_return outcome_of(std::move(run.output));
}

}  // namespace orch::work
