#include "support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace bench {

Process::Process(std::string name, std::vector<std::string> argv, const std::string& log_path)
    : name_(std::move(name)) {
  if (argv.empty()) throw Error(name_ + ": empty command");
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw Error("cannot open " + log_path + ": " + std::strerror(errno));
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    throw Error("fork: " + std::string(std::strerror(errno)));
  }
  if (pid_ == 0) {
    // Its own process group (id = its pid): stop() signals the group, so that a wrapper
    // (ORCH_BENCH_WRAPPER's profilers are scripts) cannot leave the real server running.
    ::setpgid(0, 0);
    // Out of the driver's group, a Ctrl-C no longer reaches it: it dies with the driver instead.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also here, so that a stop right after the fork reaches the group
  ::close(log_fd);
}

Process::~Process() { stop(); }

bool Process::exited() {
  if (reaped_) return true;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) reaped_ = true;
  return reaped_;
}

void Process::stop(Ms grace) {
  if (pid_ <= 0 || stopped_) return;
  stopped_ = true;
  // A profiler (ORCH_BENCH_WRAPPER) writes its file at exit, which takes a while: let it.
  if (std::getenv("ORCH_BENCH_WRAPPER")) grace = std::max(grace, Ms(120000));
  if (!exited()) {
    ::kill(-pid_, SIGTERM);
    const auto deadline = Clock::now() + grace;
    while (!exited() && Clock::now() < deadline) {
      std::this_thread::sleep_for(Ms(5));  // polling for the child's exit, bounded by the grace
    }
  }
  // Whatever is left of the group (a wrapper's child), and the child itself after the grace.
  ::kill(-pid_, SIGKILL);
  if (!reaped_) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
  }
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw Error("bind: " + std::string(std::strerror(errno)));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

bool can_connect(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

void wait_port(std::uint16_t port, Ms timeout, Process& child) {
  const auto deadline = Clock::now() + timeout;
  while (!can_connect(port)) {
    if (child.exited()) throw Error(child.name() + " exited before listening on " + std::to_string(port));
    if (Clock::now() >= deadline) throw Error(child.name() + " did not listen within the bound");
    std::this_thread::sleep_for(Ms(10));  // polling for the listener, bounded by the deadline
  }
}

void wait_file(const std::string& path, Ms timeout, Process& child) {
  const auto deadline = Clock::now() + timeout;
  while (!std::filesystem::exists(path)) {
    if (child.exited()) throw Error(child.name() + " exited before it was ready");
    if (Clock::now() >= deadline) throw Error(child.name() + " was not ready within the bound");
    std::this_thread::sleep_for(Ms(10));  // polling for the ready file, bounded by the deadline
  }
}

std::uint64_t rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  throw Error("no VmRSS for pid " + std::to_string(pid));
}

std::string self_exe() { return std::filesystem::read_symlink("/proc/self/exe").string(); }

std::string make_temp_dir(const std::string& prefix) {
  std::string templ = "/tmp/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw Error("mkdtemp: " + std::string(std::strerror(errno)));
  return templ;
}

std::string command_output(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  ::pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

Conn::Conn(std::uint16_t port, Ms timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw Error("socket: " + std::string(std::strerror(errno)));
  if (timeout.count() > 0) {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    throw Error("connect 127.0.0.1:" + std::to_string(port) + ": " + why);
  }
}

Conn::~Conn() {
  if (fd_ >= 0) ::close(fd_);
}

void Conn::write_all(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("send: " + std::string(std::strerror(errno)));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void Conn::fill() {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > 65536) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      buffer_.append(buf, static_cast<std::size_t>(n));
      return;
    }
    if (n == 0) throw Error("connection closed by peer");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) throw Error("read timed out");
    throw Error("recv: " + std::string(std::strerror(errno)));
  }
}

std::string Conn::read_line() {
  for (;;) {
    const auto nl = buffer_.find('\n', start_);
    if (nl != std::string::npos) {
      std::size_t end = nl;
      if (end > start_ && buffer_[end - 1] == '\r') --end;
      std::string line = buffer_.substr(start_, end - start_);
      start_ = nl + 1;
      return line;
    }
    fill();
  }
}

std::string Conn::read_exact(std::size_t n) {
  while (buffer_.size() - start_ < n) fill();
  std::string out = buffer_.substr(start_, n);
  start_ += n;
  return out;
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(rank));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (rank - static_cast<double>(lo));
}

void exit_after(double seconds) {
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    std::fprintf(stderr, "orch_bench role: lifetime bound of %.0fs reached, exiting\n", seconds);
    ::_exit(3);
  }).detach();
}

}  // namespace bench
