#pragma once
// A child process that leads a process group of its own, with pipes to its standard streams:
// started without a shell, signalled as a group, and waited for without blocking a thread.
//
// Starting: posix_spawn(3) with POSIX_SPAWN_SETPGROUP (the child's pgid is its pid), every
// signal back at its default disposition and an empty signal mask, stdin/stdout/stderr
// dup2'ed from pipes (stdin from /dev/null when there is nothing to write), the working
// directory set, and every other descriptor closed. glibc's posix_spawn uses a vfork-style
// clone, which is safe in a multi-threaded process and reports a failed exec or chdir as the
// call's own error. (Boost.Process v2 in Boost 1.81 is not used to start or wait: its
// launchers call notify_fork() on the caller's io_context, which is not safe while other
// threads run that context — it joins the resolver thread and, in the forked child, takes the
// reactor's mutexes — and its pidfd async_wait finishes with a blocking waitpid(pid, 0).)
//
// Waiting: a pidfd (pidfd_open, Linux 5.3+) watched by the reactor. When it turns readable the
// leader is checked with waitid(WNOHANG | WNOWAIT), so no thread ever blocks in waitpid, and
// while the exited leader is still an unreaped zombie whatever is left of its group is
// SIGKILLed: the zombie keeps the group id reserved, so that signal cannot reach a recycled
// group. Only then is the leader reaped.
//
// Limits: a descendant that leaves the group (setsid, setpgid) escapes the group signals.
//
// Thread-safety: a ProcessGroup is used from one strand (its pipes' executor).

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace orch::work {

/// What to run.
struct Command {
  std::vector<std::string> argv;  // argv[0] is the program's absolute path
  std::vector<std::string> env;   // the whole environment, "NAME=value" each
  std::string cwd;                // absolute; empty: "/"
  bool pipe_stdin = false;        // a pipe to write to; otherwise stdin reads /dev/null
};

/// How the leader ended: exactly one of the two is set (neither only if its status was lost
/// to someone else's wait, which the daemon never does).
struct ExitStatus {
  std::optional<int> code;
  std::optional<int> signal;
};

class ProcessGroup {
 public:
  using Pipe = boost::asio::posix::stream_descriptor;

  struct Started {
    std::unique_ptr<ProcessGroup> process;  // null when it could not start
    std::string error;                      // then why, e.g. "/bin/nope: No such file or directory"
  };

  /// Starts `command` with its pipes bound to `executor`. Ignores SIGPIPE in this process on
  /// first use, so that writing to a child that closed its stdin is an error, not a crash.
  static Started start(const boost::asio::any_io_executor& executor, const Command& command);

  /// Kills what still runs (SIGKILL to the group) and reaps the leader on a short-lived thread
  /// of its own, so no runtime thread blocks. Reached with the leader unreaped only when the
  /// coroutine that owned it was destroyed mid-flight (the io_context went away).
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  pid_t pid() const { return pid_; }  // also the process group id

  /// Sends `signal` to every process of the group; nothing once the leader is reaped.
  void signal(int signal) noexcept;

  /// Completes when the leader has exited, after SIGKILLing the rest of its group and reaping
  /// it; with nullopt when the caller's cancellation slot fired first (the process runs on).
  boost::asio::awaitable<std::optional<ExitStatus>> wait_exit();

  /// Our ends of the child's standard streams (stdin's is closed unless Command::pipe_stdin).
  Pipe& stdin_pipe() { return stdin_; }
  Pipe& stdout_pipe() { return stdout_; }
  Pipe& stderr_pipe() { return stderr_; }
  /// Closes our ends of the three pipes; pending reads and writes complete with an error.
  void close_pipes() noexcept;

 private:
  ProcessGroup(const boost::asio::any_io_executor& executor, pid_t pid);
  // The leader's status if it has exited (then the group is killed and the leader reaped).
  std::optional<ExitStatus> try_reap();

  pid_t pid_;
  bool reaped_ = false;
  ExitStatus status_;
  Pipe pidfd_;
  Pipe stdin_;
  Pipe stdout_;
  Pipe stderr_;
};

}  // namespace orch::work
