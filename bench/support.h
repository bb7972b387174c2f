#pragma once
// Small pieces the benchmark programs share: child processes started and stopped by their own
// pid, free loopback ports, blocking loopback TCP connections with timeouts, RSS, percentiles.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A child process started with execvp in a process group of its own (the group's id is its
/// pid), its stdout and stderr appended to `log_path`; stopped by that pid (SIGTERM to the group,
/// then SIGKILL after a grace; SIGKILL to what is left of the group once the child has exited)
/// when stop() is called or on destruction.
class Process {
 public:
  Process(std::string name, std::vector<std::string> argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  /// True once the child has exited (it is then reaped).
  bool exited();
  /// SIGTERM, wait up to `grace`, then SIGKILL and reap. Only the first call acts.
  void stop(Ms grace = Ms(3000));

 private:
  std::string name_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool stopped_ = false;
};

/// A loopback TCP port that was free a moment ago (bound to port 0, then released).
std::uint16_t free_port();
/// Waits until 127.0.0.1:port accepts a connection; throws after `timeout` or if `child` exits.
void wait_port(std::uint16_t port, Ms timeout, Process& child);
/// Waits until `path` exists; throws after `timeout` or if `child` exits.
void wait_file(const std::string& path, Ms timeout, Process& child);

/// Resident set size of a process, in bytes (VmRSS of /proc/PID/status).
std::uint64_t rss_bytes(pid_t pid);

/// The path of the running executable.
std::string self_exe();
/// A fresh temporary directory.
std::string make_temp_dir(const std::string& prefix);
/// The whole output of a shell command (for version strings); empty on failure.
std::string command_output(const std::string& command);

/// A blocking TCP connection to 127.0.0.1 with buffered reads. Every read and write fails (throws
/// Error) after `timeout` without progress; a zero timeout waits without limit.
class Conn {
 public:
  Conn(std::uint16_t port, Ms timeout);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  void write_all(std::string_view data);
  /// One line without its "\r\n" (or "\n").
  std::string read_line();
  /// Exactly n bytes.
  std::string read_exact(std::size_t n);
  /// True when bytes are buffered (already read from the socket and not consumed).
  bool has_buffered() const { return start_ < buffer_.size(); }
  int fd() const { return fd_; }

 private:
  void fill();
  int fd_ = -1;
  std::string buffer_;
  std::size_t start_ = 0;
};

/// The p-th percentile (0..100) of `values` (sorted in place); 0 when empty.
double percentile(std::vector<double>& values, double p);

/// Ends the process after `seconds` whatever it is doing: every role bounds its own lifetime.
void exit_after(double seconds);

}  // namespace bench
