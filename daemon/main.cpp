// orchestrd: parses flags, builds the daemon from its configuration, and runs it.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

#include "orch/config/config.h"
#include "orch/runtime/daemon.h"

namespace {

constexpr const char* kFooter = R"(Examples:
  orchestrd                                  serve the embedded defaults (127.0.0.1:50051, admin 127.0.0.1:9464)
  orchestrd --config config/orchestrd.yaml   serve a configuration file
  orchestrd --listen 0.0.0.0:50051 --threads 4
  orchestrd --print-default-config > my.yaml

Signals: SIGINT/SIGTERM stop gracefully (spawns refused, running tasks get shutdown_grace).
         SIGHUP re-reads the configuration file (as does POST /reload on the admin port).)";

void write_ready_file(const std::string& path, const orch::runtime::Daemon& daemon) {
  // Written whole under a temporary name, then renamed: a reader never sees half a file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"grpc_port\": " << daemon.grpc_port() << ", \"admin_port\": " << daemon.admin_port()
        << "}\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"orchestrd — a task-orchestration daemon: an async runtime lent out over gRPC"};
  app.footer(kFooter);
  std::string config_path;
  std::string listen;
  std::string admin_listen;
  std::optional<unsigned> threads;
  std::string log_level;
  std::string ready_file;
  bool print_default = false;
  app.add_option("-c,--config", config_path, "YAML configuration file (default: the embedded defaults)")
      ->check(CLI::ExistingFile);
  app.add_option("--listen", listen, "gRPC address HOST:PORT (overrides `listen`)");
  app.add_option("--admin-listen", admin_listen, "admin HTTP address HOST:PORT (overrides `admin_listen`)");
  app.add_option("--threads", threads, "runtime threads, 0 = one per core (overrides `threads`)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off (overrides `log_level`)");
  app.add_option("--ready-file", ready_file,
                 "once serving, write {\"grpc_port\": N, \"admin_port\": N} to this file");
  app.add_flag("--print-default-config", print_default, "print the embedded default configuration and exit");
  app.set_version_flag("--version", "orchestrd 0.1.0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, like a bad config.
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (print_default) {
    std::cout << orch::config::default_config_yaml();
    return 0;
  }

  // Read at start-up and again by each reload (SIGHUP, POST /reload), flags applied both times.
  const auto load = [=] {
    orch::config::Config config =
        config_path.empty() ? orch::config::default_config() : orch::config::load_config(config_path);
    // Flags override the file; they go through the same checks by re-parsing as YAML keys.
    std::string overrides;
    if (!listen.empty()) overrides += "listen: \"" + listen + "\"\n";
    if (!admin_listen.empty()) overrides += "admin_listen: \"" + admin_listen + "\"\n";
    if (threads) overrides += "threads: " + std::to_string(*threads) + "\n";
    if (!log_level.empty()) overrides += "log_level: \"" + log_level + "\"\n";
    if (!overrides.empty()) {
      const auto checked = orch::config::parse_config(overrides + "tenants: [{name: flags}]\n", "flags");
      if (!listen.empty()) config.listen = checked.listen;
      if (!admin_listen.empty()) config.admin_listen = checked.admin_listen;
      if (threads) config.threads = checked.threads;
      if (!log_level.empty()) config.log_level = checked.log_level;
    }
    return config;
  };
  orch::config::Config config;
  try {
    config = load();
  } catch (const orch::config::ConfigError& e) {
    std::cerr << "orchestrd: " << e.what() << "\n";
    return 2;
  }

  spdlog::set_level(spdlog::level::from_str(config.log_level));
  try {
    orch::runtime::Daemon daemon(std::move(config));
    daemon.set_config_source(load);
    daemon.start();
    if (!ready_file.empty()) write_ready_file(ready_file, daemon);
    return daemon.run();
  } catch (const orch::config::ConfigError& e) {
    // A file the configuration names is missing or unusable (tls.key, http.ca_file, ...).
    std::cerr << "orchestrd: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
}
