#pragma once
/// PrometheusServer: Debian's Prometheus server (/usr/bin/prometheus) started as a child on a
/// free loopback port, scraping the given targets every second, with its storage in a fresh
/// temporary directory; stopped by its own pid.
///
///   orch::test::PrometheusServer prometheus("orchestrd", {"127.0.0.1:" + std::to_string(port)});
///   ASSERT_TRUE(prometheus.wait_ready(deadline)) << prometheus.log();
///   auto up = prometheus.query(R"(up{job="orchestrd"})");   // an instant query
///
/// The constructor returns at once (Prometheus takes a few seconds to start); wait_ready() waits
/// for it. Queries go to the HTTP API (/api/v1/query) and their JSON answer is read with
/// protobuf's JSON parser. The destructor stops the server (SIGTERM, SIGKILL after a bound);
/// when the test has failed it prints the server's log and keeps its directory.
///
/// Thread-safety: use one PrometheusServer from the test's thread.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace orch::test {

/// One sample of an instant vector: the series' labels (with __name__) and its value.
struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// The answer to an instant query: the vector (or the one scalar, as a sample without labels),
/// or why there is none.
struct PromQueryResult {
  std::vector<PromSample> samples;
  /// Empty on success; otherwise the HTTP, JSON or Prometheus error.
  std::string error;
};

class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";
  /// True when kBinary exists (Debian package `prometheus`).
  static bool installed();

  /// Starts Prometheus scraping `targets` ("HOST:PORT", /metrics) as job `job` every second.
  /// Throws std::runtime_error when it cannot be started at all.
  PrometheusServer(std::string job, std::vector<std::string> targets);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  pid_t pid() const { return pid_; }
  /// The port of its HTTP API on 127.0.0.1.
  std::uint16_t port() const { return port_; }

  /// Waits until /-/ready answers 200 (true) or `deadline` passes or the server exited (false).
  /// A server that lost its port to another process is restarted on a new one (twice at most).
  bool wait_ready(std::chrono::steady_clock::time_point deadline);

  /// One instant query through GET /api/v1/query.
  PromQueryResult query(const std::string& promql) const;

  /// Stops the server: SIGTERM, wait up to `timeout`, then SIGKILL. Its exit code.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  const std::string& dir() const { return dir_; }
  std::string log() const;

 private:
  void start();
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  std::string job_;
  std::vector<std::string> targets_;
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::optional<int> exit_code_;
  int restarts_ = 0;
};

/// Percent-encodes `text` for a URL query value (RFC 3986 unreserved characters stay).
std::string url_encode(const std::string& text);

}  // namespace orch::test
