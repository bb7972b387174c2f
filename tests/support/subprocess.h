#pragma once
/// Child processes for integration tests: orchctl runs with its output captured, and the
/// building block of DaemonProcess.
///
/// Every child gets PR_SET_PDEATHSIG(SIGKILL), so a test binary that dies (or is killed by a
/// ctest timeout) never leaves a process behind. That signal is tied to the *thread* that
/// forked, so start children from the test's own thread, not from a short-lived helper thread.
/// The child's environment is the test's minus ORCH_ADDR, ORCH_TOKEN and ORCH_TLS*, so a
/// developer's shell cannot change what a test sends.
///
/// Thread-safety: a Subprocess is used from one thread at a time.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orch::test {

using namespace std::chrono_literals;

/// What a finished child left behind.
struct CommandResult {
  /// The exit code; 128 + N when killed by signal N (as a shell reports it).
  int exit_code = -1;
  std::string out;
  std::string err;
  /// True when the child outlived its timeout and was SIGKILLed.
  bool timed_out = false;
  std::chrono::steady_clock::duration elapsed{};
};

/// Prints a CommandResult in assertion messages: exit code, stdout and stderr.
std::string describe(const CommandResult& result);

/// The exit code of a waitpid() status: the code, or 128 + the signal.
int exit_code_of(int wait_status);

/// The current environment without ORCH_ADDR, ORCH_TOKEN and ORCH_TLS*, as "KEY=VALUE" strings.
std::vector<std::string> clean_environment();

/// Forks and execs `argv[0]` with the given standard streams (-1: /dev/null) and
/// PR_SET_PDEATHSIG(SIGKILL). Throws std::runtime_error when the exec fails.
pid_t spawn_child(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd,
                  int stderr_fd);

/// A child whose stdin is fed from a string and whose stdout and stderr are captured through
/// pipes, read concurrently so that a chatty child never blocks on a full pipe.
class Subprocess {
 public:
  /// Starts `argv` (argv[0] is a path). Throws std::runtime_error when it cannot start.
  Subprocess(const std::vector<std::string>& argv, std::string stdin_text = {});
  ~Subprocess();  // SIGKILLs and reaps the child if it still runs
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  /// The next line of stdout without its '\n'; nullopt at end of output or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);

  /// Reads everything until the child closes its output and exits, at most `timeout`; past
  /// it the child is SIGKILLed and `timed_out` is set. Lines already returned by read_line()
  /// are not repeated in `out`.
  CommandResult finish(std::chrono::milliseconds timeout);

 private:
  // One poll() round until `deadline`: writes stdin, reads stdout/stderr. False on timeout.
  bool pump(std::chrono::steady_clock::time_point deadline);
  bool reap(bool block);

  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  int err_ = -1;
  std::string stdin_text_;
  std::size_t stdin_written_ = 0;
  std::string out_buffer_;
  std::string err_buffer_;
  std::optional<int> exit_code_;
  std::chrono::steady_clock::time_point started_;
};

/// Runs one command to its end (bounded by `timeout`) and returns what it printed.
CommandResult run_command(const std::vector<std::string>& argv, std::string stdin_text = {},
                          std::chrono::milliseconds timeout = 30s);

/// Runs the built orchctl with `args` (global flags included by the caller).
CommandResult run_orchctl(const std::vector<std::string>& args, std::string stdin_text = {},
                          std::chrono::milliseconds timeout = 30s);

/// orchctl bound to one daemon and one tenant: prefixes `--addr ADDRESS` and, when a token is
/// set, `--token TOKEN`.
struct Orchctl {
  std::string address;
  std::string token;

  std::vector<std::string> argv(const std::vector<std::string>& args) const;
  CommandResult operator()(const std::vector<std::string>& args, std::string stdin_text = {},
                           std::chrono::milliseconds timeout = 30s) const;
  /// Starts orchctl without waiting for it, to read its output line by line (watch).
  Subprocess start(const std::vector<std::string>& args) const;
};

}  // namespace orch::test
