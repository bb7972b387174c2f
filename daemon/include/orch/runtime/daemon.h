#pragma once
/// The whole daemon, wired from a Config: the io_context and its threads, the engine, the
/// gRPC server and the admin HTTP server, and the staged graceful shutdown.
///
/// Shutdown (SIGINT, SIGTERM or request_stop()): readiness and gRPC health turn to not
/// serving; spawns get UNAVAILABLE; running tasks get `shutdown_grace` to end, then are
/// cancelled; watch streams end; remaining calls are cancelled; the process exits 0.
///
/// Reload (SIGHUP, the admin port's POST /reload, or reload()): the configuration source is
/// read again; tenants and limits change without touching running work (orch/config/reload.h
/// says what is live and what waits for a restart); a configuration that does not parse is
/// refused, logged, and the running one stays. Counted in orch_config_reloads_total{result}.
///
/// Thread-safety: construct, start() and run() from one thread; request_stop() and reload()
/// from any.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "orch/config/config.h"

namespace orch::runtime {

class Daemon {
 public:
  explicit Daemon(config::Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  /// Binds both listeners and starts serving. Throws std::runtime_error naming the address
  /// that could not be bound.
  void start();
  std::uint16_t grpc_port() const;
  std::uint16_t admin_port() const;

  /// Serves until a stop is requested, then shuts down gracefully. Returns the exit code.
  int run();
  /// Asks run() to shut down. Safe from any thread and from a signal handler's context.
  void request_stop();

  /// Where reload() reads the configuration from: the file the daemon started with, with the
  /// same command-line overrides. Throws config::ConfigError. Without one, reload() reads the
  /// embedded defaults. Set it before start().
  void set_config_source(std::function<config::Config()> load);

  struct ReloadOutcome {
    bool applied = false;
    std::string message;  // what changed and what needs a restart, or why it was refused
  };
  /// Reads the configuration source again and applies what can change live. Serialized: one
  /// reload at a time.
  ReloadOutcome reload();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace orch::runtime
