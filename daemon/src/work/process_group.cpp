#include "work/process_group.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <thread>

namespace orch::work {
namespace {

namespace asio = boost::asio;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// A descriptor that closes itself unless released.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::string errno_text(int error) { return std::strerror(error); }

// A close-on-exec pipe whose ends are both above 2, so dup2 onto 0..2 never meets itself even
// when the daemon runs with a standard stream closed. Returns the errno on failure.
int make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
  Fd ends[2] = {Fd(fds[0]), Fd(fds[1])};
  for (Fd& end : ends) {
    if (end.get() > 2) continue;
    const int moved = ::fcntl(end.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return errno;
    end.reset(moved);
  }
  read_end = std::move(ends[0]);
  write_end = std::move(ends[1]);
  return 0;
}

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    ::posix_spawnattr_init(&attr);
    ::posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// The child leads a new process group, starts with every signal at its default disposition
// and none blocked, reads `stdin_fd` (-1: /dev/null), writes to `stdout_fd` and `stderr_fd`,
// runs in `cwd` and holds no other descriptor. Returns the first error (an errno value).
int configure(SpawnSetup& setup, int stdin_fd, int stdout_fd, int stderr_fd,
              const std::string& cwd) {
  sigset_t all_signals, no_signals;
  ::sigfillset(&all_signals);
  ::sigemptyset(&no_signals);
  auto* attr = &setup.attr;
  auto* actions = &setup.actions;
  const short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (int e = ::posix_spawnattr_setflags(attr, flags)) return e;
  if (int e = ::posix_spawnattr_setpgroup(attr, 0)) return e;
  if (int e = ::posix_spawnattr_setsigmask(attr, &no_signals)) return e;
  if (int e = ::posix_spawnattr_setsigdefault(attr, &all_signals)) return e;
  if (int e = stdin_fd >= 0 ? ::posix_spawn_file_actions_adddup2(actions, stdin_fd, STDIN_FILENO)
                            : ::posix_spawn_file_actions_addopen(actions, STDIN_FILENO, "/dev/null",
                                                                 O_RDONLY, 0)) {
    return e;
  }
  if (int e = ::posix_spawn_file_actions_adddup2(actions, stdout_fd, STDOUT_FILENO)) return e;
  if (int e = ::posix_spawn_file_actions_adddup2(actions, stderr_fd, STDERR_FILENO)) return e;
  if (int e = ::posix_spawn_file_actions_addchdir_np(actions, cwd.c_str())) return e;
  // Descriptors the daemon opened without O_CLOEXEC (any library's) stay out of the child.
  return ::posix_spawn_file_actions_addclosefrom_np(actions, 3);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

void ignore_sigpipe_once() {
  static const bool ignored = [] {
    struct sigaction action {};
    action.sa_handler = SIG_IGN;
    ::sigemptyset(&action.sa_mask);
    return ::sigaction(SIGPIPE, &action, nullptr) == 0;
  }();
  (void)ignored;
}

// Reaps `pid` (already SIGKILLed) without blocking the calling thread.
void reap_in_background(pid_t pid) noexcept {
  const auto reap = [pid] {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    std::thread(reap).detach();
  } catch (...) {
    reap();  // no thread to be had: a killed child is reaped within moments anyway
  }
}

}  // namespace

ProcessGroup::ProcessGroup(const asio::any_io_executor& executor, pid_t pid)
    : pid_(pid), pidfd_(executor), stdin_(executor), stdout_(executor), stderr_(executor) {}

ProcessGroup::~ProcessGroup() {
  if (reaped_) return;
  ::kill(-pid_, SIGKILL);
  reap_in_background(pid_);
}

ProcessGroup::Started ProcessGroup::start(const asio::any_io_executor& executor,
                                          const Command& command) {
  ignore_sigpipe_once();
  const std::string& program = command.argv.at(0);
  const std::string cwd = command.cwd.empty() ? std::string("/") : command.cwd;

  Fd in_read, in_write, out_read, out_write, err_read, err_write;
  if (command.pipe_stdin) {
    if (int e = make_pipe(in_read, in_write)) return {nullptr, "pipe: " + errno_text(e)};
  }
  if (int e = make_pipe(out_read, out_write)) return {nullptr, "pipe: " + errno_text(e)};
  if (int e = make_pipe(err_read, err_write)) return {nullptr, "pipe: " + errno_text(e)};

  SpawnSetup setup;
  const int stdin_fd = command.pipe_stdin ? in_read.get() : -1;
  if (int e = configure(setup, stdin_fd, out_write.get(), err_write.get(), cwd)) {
    return {nullptr, "posix_spawn setup: " + errno_text(e)};
  }

  std::vector<char*> argv = c_strings(command.argv);
  std::vector<char*> envp = c_strings(command.env);
  pid_t pid = -1;
  const int error =
      ::posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attr, argv.data(), envp.data());
  if (error) {
    // posix_spawn reports a failed chdir and a failed exec alike: say which it was.
    struct stat info {};
    if (::stat(cwd.c_str(), &info) != 0) return {nullptr, "cwd " + cwd + ": " + errno_text(errno)};
    if (!S_ISDIR(info.st_mode)) return {nullptr, "cwd " + cwd + ": Not a directory"};
    if (::access(cwd.c_str(), X_OK) != 0) return {nullptr, "cwd " + cwd + ": " + errno_text(errno)};
    return {nullptr, program + ": " + errno_text(error)};
  }

  std::unique_ptr<ProcessGroup> child(new ProcessGroup(executor, pid));
  // From here on the destructor kills and reaps the child on every failure path.
  in_read.reset();
  out_write.reset();
  err_write.reset();
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    return {nullptr, "pidfd_open: " + errno_text(errno) + " (orchestrd needs Linux 5.3 or later)"};
  }
  boost::system::error_code ec;
  child->pidfd_.assign(pidfd.get(), ec);
  if (!ec) pidfd.release();
  if (!ec && command.pipe_stdin) {
    child->stdin_.assign(in_write.get(), ec);
    if (!ec) in_write.release();
  }
  if (!ec) {
    child->stdout_.assign(out_read.get(), ec);
    if (!ec) out_read.release();
  }
  if (!ec) {
    child->stderr_.assign(err_read.get(), ec);
    if (!ec) err_read.release();
  }
  if (ec) return {nullptr, "registering the child's descriptors: " + ec.message()};
  return {std::move(child), {}};
}

void ProcessGroup::signal(int signal) noexcept {
  if (!reaped_) ::kill(-pid_, signal);
}

void ProcessGroup::close_pipes() noexcept {
  boost::system::error_code ignored;
  stdin_.close(ignored);
  stdout_.close(ignored);
  stderr_.close(ignored);
}

std::optional<ExitStatus> ProcessGroup::try_reap() {
  if (reaped_) return status_;
  siginfo_t info{};
  int rc = 0;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // ECHILD: someone else reaped it; the status is gone, and so is the group's name.
    reaped_ = true;
    return status_;
  }
  if (info.si_pid == 0) return std::nullopt;  // still running

  // The leader is a zombie: its pid still names the group, so this reaches only our group.
  ::kill(-pid_, SIGKILL);
  if (info.si_code == CLD_EXITED) {
    status_.code = info.si_status;
  } else {
    status_.signal = info.si_status;  // CLD_KILLED or CLD_DUMPED
  }
  while (::waitpid(pid_, nullptr, WNOHANG) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  return status_;
}

asio::awaitable<std::optional<ExitStatus>> ProcessGroup::wait_exit() {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    if (auto status = try_reap()) co_return status;
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return std::nullopt;
    auto [ec] = co_await pidfd_.async_wait(Pipe::wait_read, kAwait);
    if (ec == asio::error::operation_aborted) co_return std::nullopt;
    if (auto status = try_reap()) co_return status;
    // Readable (or failed) while the leader has not exited yet: pause instead of spinning.
    asio::steady_timer pause(pidfd_.get_executor());
    pause.expires_after(std::chrono::milliseconds(10));
    auto [pause_ec] = co_await pause.async_wait(kAwait);
    if (pause_ec == asio::error::operation_aborted) co_return std::nullopt;
  }
}

}  // namespace orch::work
