#include "prometheus_server.h"
#include "test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "http_get.h"
#include "subprocess.h"

namespace orch::test {
namespace {

using Clock = std::chrono::steady_clock;
namespace pb = google::protobuf;

constexpr auto kPollInterval = std::chrono::milliseconds(200);
constexpr int kMaxRestarts = 2;
constexpr std::size_t kMaxLogPrint = 32 * 1024;

// A port the kernel just handed out on 127.0.0.1 and that is free again (Prometheus cannot
// listen on port 0 and tell which port it got). Another process may take it before
// Prometheus binds it: wait_ready() restarts on a new port then.
std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A Prometheus sample value: "1", "0.25", "NaN", "+Inf".
std::optional<double> parse_value(const pb::Value& value) {
  if (value.kind_case() != pb::Value::kStringValue) return std::nullopt;
  const std::string& text = value.string_value();
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0') return std::nullopt;
  return v;
}

// [timestamp, "value"] of a vector sample or a scalar.
std::optional<double> pair_value(const pb::Value& pair) {
  if (pair.kind_case() != pb::Value::kListValue || pair.list_value().values_size() != 2) {
    return std::nullopt;
  }
  return parse_value(pair.list_value().values(1));
}

const pb::Value* field(const pb::Struct& object, const std::string& name) {
  const auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

}  // namespace

std::string url_encode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

bool PrometheusServer::installed() { return std::filesystem::exists(kBinary); }

PrometheusServer::PrometheusServer(std::string job, std::vector<std::string> targets)
    : job_(std::move(job)), targets_(std::move(targets)) {
  dir_ = make_temp_dir("orch-prometheus");
  std::ofstream config(dir_ + "/prometheus.yml");
  config << "global:\n"
         << "  scrape_interval: 1s\n"
         << "  scrape_timeout: 1s\n"
         << "  evaluation_interval: 1s\n"
         << "scrape_configs:\n"
         << "  - job_name: " << job_ << "\n"
         << "    static_configs:\n"
         << "      - targets: [";
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    config << (i ? ", " : "") << "'" << targets_[i] << "'";
  }
  config << "]\n";
  config.close();
  start();
}

void PrometheusServer::start() {
  port_ = free_loopback_port();
  exit_code_.reset();
  const std::string log_path = dir_ + "/prometheus.log";
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot create " + log_path);
  try {
    pid_ = spawn_child({kBinary, "--config.file=" + dir_ + "/prometheus.yml",
                        "--storage.tsdb.path=" + dir_ + "/data",
                        "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                        "--log.level=info"},
                       -1, log_fd, log_fd);
  } catch (...) {
    ::close(log_fd);
    throw;
  }
  ::close(log_fd);
}

PrometheusServer::~PrometheusServer() {
  if (pid_ > 0 && !exit_code_) stop();
  if (::testing::Test::HasFailure()) {
    std::string text = log();
    if (text.size() > kMaxLogPrint) text = "[...]\n" + text.substr(text.size() - kMaxLogPrint);
    std::cerr << "==== prometheus log (" << dir_ << "/prometheus.log, kept) ====\n"
              << text << "==== end of prometheus log ====\n";
  } else if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool PrometheusServer::wait_ready(Clock::time_point deadline) {
  for (;;) {
    if (wait_exit(std::chrono::milliseconds(0))) {
      // Lost the port between free_loopback_port() and its bind: try another one.
      if (restarts_ < kMaxRestarts && log().find("address already in use") != std::string::npos) {
        ++restarts_;
        start();
        continue;
      }
      return false;
    }
    const auto ready = http_get(port_, "/-/ready", std::chrono::seconds(5));
    if (ready.status == 200) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);  // polling for the server to come up
  }
}

PromQueryResult PrometheusServer::query(const std::string& promql) const {
  PromQueryResult result;
  const auto response =
      http_get(port_, "/api/v1/query?query=" + url_encode(promql), std::chrono::seconds(10));
  if (response.status != 200) {
    result.error = "HTTP " + std::to_string(response.status) + " " + response.error + " " +
                   response.body;
    return result;
  }
  pb::Struct body;
  const auto status = pb::util::JsonStringToMessage(response.body, &body);
  if (!status.ok()) {
    result.error = "unreadable JSON (" + status.ToString() + "): " + response.body;
    return result;
  }
  const auto* state = field(body, "status");
  const auto* data = field(body, "data");
  if (state == nullptr || state->string_value() != "success" || data == nullptr ||
      data->kind_case() != pb::Value::kStructValue) {
    result.error = "query failed: " + response.body;
    return result;
  }
  const auto* type = field(data->struct_value(), "resultType");
  const auto* samples = field(data->struct_value(), "result");
  if (type == nullptr || samples == nullptr) {
    result.error = "no result: " + response.body;
    return result;
  }
  if (type->string_value() == "scalar") {
    if (auto v = pair_value(*samples)) {
      result.samples.push_back(PromSample{.labels = {}, .value = *v});
    } else {
      result.error = "unreadable scalar: " + response.body;
    }
    return result;
  }
  if (type->string_value() != "vector" || samples->kind_case() != pb::Value::kListValue) {
    result.error = "not an instant vector: " + response.body;
    return result;
  }
  for (const auto& item : samples->list_value().values()) {
    if (item.kind_case() != pb::Value::kStructValue) {
      result.error = "unreadable sample: " + response.body;
      return result;
    }
    const auto* metric = field(item.struct_value(), "metric");
    const auto* value = field(item.struct_value(), "value");
    const auto v = value == nullptr ? std::nullopt : pair_value(*value);
    if (metric == nullptr || metric->kind_case() != pb::Value::kStructValue || !v) {
      result.error = "unreadable sample: " + response.body;
      return result;
    }
    PromSample sample;
    for (const auto& [name, label] : metric->struct_value().fields()) {
      sample.labels[name] = label.string_value();
    }
    sample.value = *v;
    result.samples.push_back(std::move(sample));
  }
  return result;
}

std::optional<int> PrometheusServer::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = exit_code_of(status);
      return exit_code_;
    }
    if (r < 0 && errno != EINTR) {
      throw std::runtime_error("waitpid: " + std::string(std::strerror(errno)));
    }
    if (Clock::now() >= deadline) return std::nullopt;
    // Polling for the child's exit, bounded by the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int PrometheusServer::stop(std::chrono::milliseconds timeout) {
  if (exit_code_) return *exit_code_;
  ::kill(pid_, SIGTERM);
  if (auto code = wait_exit(timeout)) return *code;
  ::kill(pid_, SIGKILL);
  return wait_exit(std::chrono::seconds(30)).value_or(-1);
}

std::string PrometheusServer::log() const { return read_file(dir_ + "/prometheus.log"); }

}  // namespace orch::test
