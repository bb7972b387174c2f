#pragma once
/// Reading samples out of orchestrd's Prometheus text exposition.
///
/// Thread-safety: pure functions (wait_for_sample only makes HTTP requests).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace orch::test {

/// The value of the sample written exactly as `series` (name and labels, labels sorted by
/// name as prometheus-cpp writes them), e.g.
/// `orch_tasks_finished_total{kind="sleep",outcome="succeeded",tenant="alpha"}`; nullopt when
/// the exposition has no such line.
std::optional<double> metric_sample(const std::string& exposition, const std::string& series);

/// Scrapes /metrics on `admin_port` until `series` is at least `at_least` (true) or `timeout`
/// passes (false). For waiting on something the daemon only shows through its metrics, such
/// as a call it has finished handling.
bool wait_for_sample(std::uint16_t admin_port, const std::string& series, double at_least,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace orch::test
