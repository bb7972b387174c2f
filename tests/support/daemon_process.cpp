#include "daemon_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "orch/tenants/tenant_registry.h"
#include "test_support.h"

namespace orch::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kPollInterval = std::chrono::milliseconds(10);
// What the destructor prints of a failed test's daemon log (its tail).
constexpr std::size_t kMaxLogPrint = 64 * 1024;

// The number after `"key":` in the ready file's one-line JSON object.
std::optional<std::uint16_t> json_port(const std::string& text, const std::string& key) {
  const auto at = text.find("\"" + key + "\"");
  if (at == std::string::npos) return std::nullopt;
  const auto colon = text.find(':', at);
  if (colon == std::string::npos) return std::nullopt;
  char* end = nullptr;
  const long value = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (end == text.c_str() + colon + 1 || value <= 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string yaml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out + "]";
}

}  // namespace

std::string token_sha256(std::string_view token) { return orch::tenants::sha256_hex(token); }

std::string TestConfig::yaml() const {
  std::ostringstream out;
  out << "listen: 127.0.0.1:0\n"
      << "admin_listen: 127.0.0.1:0\n"
      << "threads: " << threads << "\n"
      << "retention: " << retention << "\n"
      << "shutdown_grace: " << shutdown_grace << "\n"
      << "log_level: " << log_level << "\n";
  if (!limits.empty()) {
    out << "limits:\n";
    for (const auto& [key, value] : limits) out << "  " << key << ": " << value << "\n";
  }
  out << "tenants:\n";
  for (const auto& t : tenants) {
    out << "  - name: " << t.name << "\n";
    if (!t.token.empty()) out << "    token_sha256: " << token_sha256(t.token) << "\n";
    out << "    max_concurrency: " << t.max_concurrency << "\n"
        << "    max_queued: " << t.max_queued << "\n"
        << "    allowed_kinds: " << yaml_list(t.allowed_kinds) << "\n";
    if (t.max_channels) out << "    max_channels: " << *t.max_channels << "\n";
    if (t.max_message_bytes) out << "    max_message_bytes: " << *t.max_message_bytes << "\n";
    if (t.max_channel_capacity) {
      out << "    max_channel_capacity: " << *t.max_channel_capacity << "\n";
    }
    if (!t.exec_allowlist.empty()) {
      out << "    exec_allowlist: " << yaml_list(t.exec_allowlist) << "\n";
    }
  }
  return out.str();
}

TestConfig two_tenants() {
  TestConfig config;
  config.tenants = {TestTenant{.name = "alpha", .token = kAlpha},
                    TestTenant{.name = "beta", .token = kBeta}};
  return config;
}

DaemonProcess::DaemonProcess(const TestConfig& config) { start(config.yaml()); }

DaemonProcess::DaemonProcess(std::string config_yaml, std::string listen) {
  start(config_yaml, listen);
}

void DaemonProcess::start(const std::string& config_yaml, const std::string& listen) {
  dir_ = make_temp_dir("orchestrd-test");
  const std::string config_path = dir_ + "/orchestrd.yaml";
  const std::string ready_path = dir_ + "/ready.json";
  {
    std::ofstream out(config_path);
    out << config_yaml;
  }

  const int log_fd = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot create " + log_path());
  try {
    pid_ = spawn_child({kOrchestrd, "--config", config_path, "--listen", listen,
                        "--admin-listen", "127.0.0.1:0", "--ready-file", ready_path},
                       -1, log_fd, log_fd);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);

  // The ready file appears (renamed into place, never half-written) once orchestrd serves.
  const auto deadline = Clock::now() + kReadyTimeout;
  for (;;) {
    if (auto code = wait_exit(std::chrono::milliseconds(0))) {
      throw std::runtime_error("orchestrd exited with code " + std::to_string(*code) +
                               " before it was ready; log " + log_path() + ":\n" + log());
    }
    if (std::filesystem::exists(ready_path)) {
      const std::string ready = read_file(ready_path);
      const auto grpc = json_port(ready, "grpc_port");
      const auto admin = json_port(ready, "admin_port");
      if (!grpc || !admin) {
        stop(std::chrono::seconds(5));
        throw std::runtime_error("unreadable ready file: " + ready);
      }
      grpc_port_ = *grpc;
      admin_port_ = *admin;
      return;
    }
    if (Clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      wait_exit(std::chrono::seconds(5));
      throw std::runtime_error("orchestrd was not ready within 30s; log " + log_path() + ":\n" +
                               log());
    }
    std::this_thread::sleep_for(kPollInterval);  // polling for the ready file
  }
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0 && running()) {
    const bool explicit_stop = stop_requested_;
    const int code = stop();
    if (!explicit_stop) {
      EXPECT_EQ(code, 0) << "orchestrd did not shut down cleanly on SIGTERM; log " << log_path();
    }
  }
  if (::testing::Test::HasFailure()) {
    std::string text = log();
    if (text.size() > kMaxLogPrint) text = "[...]\n" + text.substr(text.size() - kMaxLogPrint);
    std::cerr << "==== orchestrd log (" << log_path() << ", kept) ====\n"
              << text << "==== end of orchestrd log ====\n";
  } else if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string DaemonProcess::grpc_address() const {
  return "127.0.0.1:" + std::to_string(grpc_port_);
}

orch::client::Client DaemonProcess::client(std::string token) const {
  return orch::client::Client(orch::client::ClientOptions{grpc_address(), std::move(token)});
}

Orchctl DaemonProcess::orchctl(std::string token) const {
  return Orchctl{grpc_address(), std::move(token)};
}

void DaemonProcess::signal(int signal) const {
  if (running()) ::kill(pid_, signal);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = exit_code_of(status);
      return exit_code_;
    }
    if (r < 0 && errno != EINTR) throw std::runtime_error("waitpid: " + std::string(std::strerror(errno)));
    if (Clock::now() >= deadline) return std::nullopt;
    // Polling for the child's exit, bounded by the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

int DaemonProcess::stop(std::chrono::milliseconds timeout) {
  stop_requested_ = true;
  if (!running()) return *exit_code_;
  ::kill(pid_, SIGTERM);
  if (auto code = wait_exit(timeout)) return *code;
  ADD_FAILURE() << "orchestrd (pid " << pid_ << ") ignored SIGTERM for "
                << timeout.count() << "ms; sending SIGKILL";
  ::kill(pid_, SIGKILL);
  return wait_exit(std::chrono::seconds(30)).value_or(-1);
}

std::string DaemonProcess::log() const { return read_file(log_path()); }

}  // namespace orch::test
