#include "metrics_text.h"

#include <thread>

#include "http_get.h"
#include "proto_json.h"

namespace orch::test {

std::optional<double> metric_sample(const std::string& exposition, const std::string& series) {
  for (const auto& line : lines_of(exposition)) {
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

bool wait_for_sample(std::uint16_t admin_port, const std::string& series, double at_least,
                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto response = http_get(admin_port, "/metrics", timeout);
    if (response.status == 200) {
      const auto value = metric_sample(response.body, series);
      if (value && *value >= at_least) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Polling the exposition, like polling for a file: bounded by the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace orch::test
