#pragma once
/// DaemonProcess: the real orchestrd, started as a child on 127.0.0.1 port 0 from a YAML config
/// written into a fresh temporary directory, and stopped by its own pid.
///
///   orch::test::DaemonProcess daemon(orch::test::TestConfig{
///       .tenants = {{.name = "alpha", .token = "alpha-secret", .max_concurrency = 3}}});
///   auto client = daemon.client("alpha-secret");      // orch::client::Client
///   auto orchctl = daemon.orchctl("alpha-secret");    // runs orchctl --addr ... --token ...
///
/// The constructor returns once orchestrd has written its ready file (it serves gRPC and admin
/// HTTP from then on) and throws std::runtime_error, with the daemon's log, when it cannot
/// start. The destructor stops the daemon gracefully (SIGTERM, then SIGKILL after a bound),
/// expects exit code 0 unless stop() was already called, and when the test has failed prints
/// the daemon's log and keeps its directory.
///
/// Thread-safety: use one DaemonProcess from the test's thread; the clients it hands out are
/// thread-safe.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "orch/client/client.h"
#include "subprocess.h"

namespace orch::test {

/// One tenant of a test configuration.
struct TestTenant {
  std::string name;
  /// The bearer token; the config holds its SHA-256. Empty: the token-less tenant.
  std::string token;
  unsigned max_concurrency = 64;
  unsigned max_queued = 1000;
  std::vector<std::string> allowed_kinds = {"sleep", "http", "worker", "send", "recv"};
  /// Channel quotas; unset: the daemon's defaults.
  std::optional<unsigned> max_channels = std::nullopt;
  std::optional<std::uint64_t> max_message_bytes = std::nullopt;
  std::optional<unsigned> max_channel_capacity = std::nullopt;
  /// Absolute program paths an exec node may run (exec must be in allowed_kinds too).
  std::vector<std::string> exec_allowlist = {};
};

/// A configuration for orchestrd; yaml() renders it (listen addresses are loopback port 0).
struct TestConfig {
  std::vector<TestTenant> tenants;
  /// Short by default so that tests end fast even with tasks still running.
  std::string shutdown_grace = "200ms";
  std::string retention = "10m";
  unsigned threads = 2;
  std::string log_level = "debug";
  /// Lines of the `limits:` section, e.g. {"max_spec_depth", "8"}.
  std::vector<std::pair<std::string, std::string>> limits;

  std::string yaml() const;
};

/// The tokens of two_tenants()'s tenants.
inline constexpr const char* kAlpha = "alpha-secret";
inline constexpr const char* kBeta = "beta-secret";

/// Two token tenants: alpha (token kAlpha) and beta (token kBeta).
TestConfig two_tenants();

/// Lower-case hex SHA-256 of a token, as the config's token_sha256 holds it.
std::string token_sha256(std::string_view token);

class DaemonProcess {
 public:
  explicit DaemonProcess(const TestConfig& config);
  /// Starts orchestrd from a complete YAML text (listen flags still force port 0). `listen` is
  /// the gRPC address passed as --listen; grpc_address() is 127.0.0.1 whatever it is.
  explicit DaemonProcess(std::string config_yaml, std::string listen = "127.0.0.1:0");
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t grpc_port() const { return grpc_port_; }
  std::uint16_t admin_port() const { return admin_port_; }
  /// "127.0.0.1:PORT" of the gRPC listener.
  std::string grpc_address() const;

  /// A C++ client of this daemon acting as the tenant of `token` (empty: no token).
  orch::client::Client client(std::string token = {}) const;
  /// orchctl bound to this daemon and `token`.
  Orchctl orchctl(std::string token = {}) const;

  /// Sends `signal` to the daemon's pid (nothing else).
  void signal(int signal) const;
  /// Waits up to `timeout` for the daemon to exit; its exit code (128 + N for signal N), or
  /// nullopt while it still runs.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  /// SIGTERM, wait up to `timeout`, then SIGKILL; returns the exit code as wait_exit() does.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool running() const { return !exit_code_.has_value(); }

  /// The temporary directory (config, ready file, log) and the daemon's stdout+stderr log.
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/orchestrd.log"; }
  std::string log() const;

 private:
  void start(const std::string& config_yaml, const std::string& listen = "127.0.0.1:0");

  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t grpc_port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::optional<int> exit_code_;
  bool stop_requested_ = false;
};

}  // namespace orch::test
