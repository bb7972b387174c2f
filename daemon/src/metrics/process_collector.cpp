#include "metrics/process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

namespace orch::metrics {
namespace {

std::optional<std::string> read_file(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return std::nullopt;
  return text;
}

/// "btime" of /proc/stat: the boot time in seconds since the epoch.
std::optional<double> boot_time_seconds() {
  std::optional<std::string> text = read_file("/proc/stat");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    constexpr std::string_view kPrefix = "btime ";
    if (line.starts_with(kPrefix)) {
      std::istringstream value(line.substr(kPrefix.size()));
      unsigned long long seconds = 0;
      if (value >> seconds) return static_cast<double>(seconds);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<double> clock_ticks_per_second() {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  return static_cast<double>(ticks);
}

/// Entries of /proc/self/fd, not counting the descriptor that lists them.
std::optional<double> open_fds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return std::nullopt;
  std::size_t count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    ++count;
  }
  return static_cast<double>(count > 0 ? count - 1 : 0);
}

std::optional<double> max_fds() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  return static_cast<double>(limit.rlim_cur);
}

prometheus::MetricFamily single(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(const std::string& text) {
  const std::size_t name_end = text.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  // Fields after the name, numbered from 1 as in proc(5): the first of them is field 3.
  std::istringstream in(text.substr(name_end + 1));
  std::vector<std::string> fields;
  for (std::string field; fields.size() < 22 && in >> field;) fields.push_back(std::move(field));
  if (fields.size() < 22) return std::nullopt;
  const auto field = [&fields](std::size_t number) -> const std::string& {
    return fields[number - 3];
  };
  ProcStat stat;
  try {
    stat.cpu_ticks = std::stod(field(14)) + std::stod(field(15));  // utime + stime
    stat.threads = std::stod(field(20));
    stat.start_ticks = std::stoull(field(22));
    stat.virtual_bytes = std::stod(field(23));
    stat.resident_pages = std::stod(field(24));
  } catch (const std::exception&) {  // std::invalid_argument or std::out_of_range
    return std::nullopt;
  }
  return stat;
}

ProcessCollector::ProcessCollector() {
  std::optional<std::string> text = read_file("/proc/self/stat");
  if (!text) return;
  std::optional<ProcStat> stat = parse_proc_stat(*text);
  std::optional<double> boot = boot_time_seconds();
  std::optional<double> ticks = clock_ticks_per_second();
  if (stat && boot && ticks) {
    start_time_seconds_ = *boot + static_cast<double>(stat->start_ticks) / *ticks;
  }
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;

  std::optional<std::string> text = read_file("/proc/self/stat");
  std::optional<ProcStat> stat = text ? parse_proc_stat(*text) : std::nullopt;
  std::optional<double> ticks = clock_ticks_per_second();
  if (stat && ticks) {
    families.push_back(single("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.",
                              MetricType::Counter, stat->cpu_ticks / *ticks));
  }
  if (std::optional<double> fds = open_fds()) {
    families.push_back(
        single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds));
  }
  if (std::optional<double> fds = max_fds()) {
    families.push_back(single("process_max_fds", "Maximum number of open file descriptors.",
                              MetricType::Gauge, *fds));
  }
  if (stat) {
    families.push_back(single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              MetricType::Gauge, stat->virtual_bytes));
    const long page_size = ::sysconf(_SC_PAGESIZE);
    if (page_size > 0) {
      families.push_back(single("process_resident_memory_bytes", "Resident memory size in bytes.",
                                MetricType::Gauge,
                                stat->resident_pages * static_cast<double>(page_size)));
    }
    families.push_back(single("process_threads", "Number of OS threads in the process.",
                              MetricType::Gauge, stat->threads));
  }
  if (start_time_seconds_) {
    families.push_back(single("process_start_time_seconds",
                              "Start time of the process since unix epoch in seconds.",
                              MetricType::Gauge, *start_time_seconds_));
  }
  return families;
}

}  // namespace orch::metrics
