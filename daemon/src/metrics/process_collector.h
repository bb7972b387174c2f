#pragma once
/// The standard `process_*` metrics of the Prometheus client libraries, read from /proc/self
/// at each scrape: resident and virtual memory, CPU seconds, open and maximum file descriptors,
/// start time and thread count. A value that cannot be read (no /proc) is left out rather than
/// reported as a made-up zero.
///
/// Thread-safety: `Collect` may be called concurrently; it only reads the (immutable) start time
/// and the kernel's files.

#include <optional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace orch::metrics {

/// The fields of /proc/<pid>/stat that the collector reports, in the kernel's units.
struct ProcStat {
  double cpu_ticks = 0;                // utime + stime, in clock ticks
  double threads = 0;                  // num_threads
  unsigned long long start_ticks = 0;  // starttime, clock ticks after boot
  double virtual_bytes = 0;            // vsize
  double resident_pages = 0;           // rss
};

/// Parses the text of /proc/<pid>/stat; nullopt when it is malformed. The command name (field 2)
/// may contain spaces and parentheses, so fields are counted from its last ')'.
std::optional<ProcStat> parse_proc_stat(const std::string& text);

class ProcessCollector final : public prometheus::Collectable {
 public:
  /// Reads the process start time once (it never changes).
  ProcessCollector();

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::optional<double> start_time_seconds_;
};

}  // namespace orch::metrics
