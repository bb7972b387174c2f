#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "test_support.h"

extern char** environ;

namespace orch::test {
namespace {

using Clock = std::chrono::steady_clock;

std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// A pipe whose ends are close-on-exec (the child's copies are made by dup2, which clears it).
std::pair<int, int> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw system_error("pipe2");
  return {fds[0], fds[1]};
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int poll_timeout_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

}  // namespace

std::string describe(const CommandResult& result) {
  std::string out = "exit code " + std::to_string(result.exit_code);
  if (result.timed_out) out += " (timed out, killed)";
  out += "\n--- stdout ---\n" + result.out + "\n--- stderr ---\n" + result.err + "\n---";
  return out;
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::vector<std::string> clean_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (entry.starts_with("ORCH_ADDR=") || entry.starts_with("ORCH_TOKEN=") ||
        entry.starts_with("ORCH_TLS")) {
      continue;
    }
    env.emplace_back(entry);
  }
  return env;
}

pid_t spawn_child(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd,
                  int stderr_fd) {
  // Everything the child needs is built before fork(): after it, only async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<std::string> env = clean_environment();
  auto arg_ptrs = pointers(args);
  auto env_ptrs = pointers(env);
  auto [error_read, error_write] = make_pipe();
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(error_read);
    ::close(error_write);
    throw system_error("fork");
  }
  if (pid == 0) {
    // Die with the test binary; the check closes the race with a parent that already died.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(stdin_fd >= 0 ? stdin_fd : null_fd, STDIN_FILENO);
    ::dup2(stdout_fd >= 0 ? stdout_fd : null_fd, STDOUT_FILENO);
    ::dup2(stderr_fd >= 0 ? stderr_fd : null_fd, STDERR_FILENO);
    // gRPC and gtest threads may block or ignore signals; the child starts clean.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGCHLD}) ::sigaction(sig, &dfl, nullptr);
    ::execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    const int err = errno;
    [[maybe_unused]] auto n = ::write(error_write, &err, sizeof err);
    ::_exit(127);
  }

  // The error pipe closes on a successful exec, or carries errno from a failed one.
  ::close(error_write);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_read, &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(error_read);
  if (n > 0) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    throw std::runtime_error("cannot exec " + argv[0] + ": " + std::strerror(child_errno));
  }
  return pid;
}

Subprocess::Subprocess(const std::vector<std::string>& argv, std::string stdin_text)
    : stdin_text_(std::move(stdin_text)), started_(Clock::now()) {
  // Writing to a child that closed its stdin must fail with EPIPE, not kill the test binary.
  static const bool sigpipe_ignored = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
  (void)sigpipe_ignored;
  auto [in_read, in_write] = make_pipe();
  auto [out_read, out_write] = make_pipe();
  auto [err_read, err_write] = make_pipe();
  try {
    pid_ = spawn_child(argv, in_read, out_write, err_write);
  } catch (...) {
    for (int fd : {in_read, in_write, out_read, out_write, err_read, err_write}) ::close(fd);
    throw;
  }
  ::close(in_read);
  ::close(out_write);
  ::close(err_write);
  in_ = in_write;
  out_ = out_read;
  err_ = err_read;
  // A child that does not read its stdin must not block us: write without blocking.
  ::fcntl(in_, F_SETFL, ::fcntl(in_, F_GETFL) | O_NONBLOCK);
  if (stdin_text_.empty()) close_fd(in_);
}

Subprocess::~Subprocess() {
  if (!exit_code_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
}

bool Subprocess::reap(bool block) {
  if (exit_code_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_code_ = exit_code_of(status);
    return true;
  }
  return false;
}

bool Subprocess::pump(Clock::time_point deadline) {
  pollfd fds[3];
  nfds_t count = 0;
  int* owners[3];
  auto add = [&](int& fd, short events) {
    if (fd < 0) return;
    fds[count] = pollfd{fd, events, 0};
    owners[count] = &fd;
    ++count;
  };
  add(in_, POLLOUT);
  add(out_, POLLIN);
  add(err_, POLLIN);
  if (count == 0) return true;
  const int ready = ::poll(fds, count, poll_timeout_ms(deadline));
  if (ready < 0 && errno == EINTR) return true;
  if (ready < 0) throw system_error("poll");
  if (ready == 0) return Clock::now() < deadline;
  for (nfds_t i = 0; i < count; ++i) {
    if (fds[i].revents == 0) continue;
    int& fd = *owners[i];
    if (&fd == &in_) {
      const ssize_t n = ::write(in_, stdin_text_.data() + stdin_written_,
                                stdin_text_.size() - stdin_written_);
      if (n > 0) stdin_written_ += static_cast<std::size_t>(n);
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || stdin_written_ == stdin_text_.size()) {
        close_fd(in_);  // all written, or the child closed its stdin (EPIPE)
      }
      continue;
    }
    char buffer[8192];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      (&fd == &out_ ? out_buffer_ : err_buffer_).append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      close_fd(fd);
    }
  }
  return true;
}

std::optional<std::string> Subprocess::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (const auto nl = out_buffer_.find('\n'); nl != std::string::npos) {
      std::string line = out_buffer_.substr(0, nl);
      out_buffer_.erase(0, nl + 1);
      return line;
    }
    if (out_ < 0) return std::nullopt;  // end of output
    if (!pump(deadline)) return std::nullopt;
  }
}

CommandResult Subprocess::finish(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  CommandResult result;
  while (out_ >= 0 || err_ >= 0) {
    if (!pump(deadline)) {
      result.timed_out = true;
      break;
    }
  }
  // Output closed: the child is exiting. Wait for it within what is left of the timeout.
  while (!result.timed_out && !reap(false)) {
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    // Polling an exiting child: each round is short and bounded by the deadline.
    ::usleep(1000);
  }
  if (result.timed_out) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  close_fd(in_);
  close_fd(out_);
  close_fd(err_);
  result.exit_code = *exit_code_;
  result.out = std::move(out_buffer_);
  result.err = std::move(err_buffer_);
  result.elapsed = Clock::now() - started_;
  return result;
}

CommandResult run_command(const std::vector<std::string>& argv, std::string stdin_text,
                          std::chrono::milliseconds timeout) {
  Subprocess child(argv, std::move(stdin_text));
  return child.finish(timeout);
}

CommandResult run_orchctl(const std::vector<std::string>& args, std::string stdin_text,
                          std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{kOrchctl};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, std::move(stdin_text), timeout);
}

std::vector<std::string> Orchctl::argv(const std::vector<std::string>& args) const {
  std::vector<std::string> out{"--addr", address};
  if (!token.empty()) {
    out.emplace_back("--token");
    out.push_back(token);
  }
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

CommandResult Orchctl::operator()(const std::vector<std::string>& args, std::string stdin_text,
                                  std::chrono::milliseconds timeout) const {
  return run_orchctl(argv(args), std::move(stdin_text), timeout);
}

Subprocess Orchctl::start(const std::vector<std::string>& args) const {
  std::vector<std::string> full{kOrchctl};
  const auto rest = argv(args);
  full.insert(full.end(), rest.begin(), rest.end());
  return Subprocess(full);
}

}  // namespace orch::test
