#pragma once
/// Human durations as written in config files and on the command line: "250ms", "2s",
/// "1m30s", "1h", "0". Units: ns, us, ms, s, m, h, d; components may be combined in
/// decreasing order ("1h30m"). A bare "0" is zero; other bare numbers are refused so that a
/// missing unit is never guessed.
///
/// Thread-safety: pure functions.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace orch {

using Duration = std::chrono::nanoseconds;

/// Parses `text`; nullopt when it is not a valid, non-negative duration or overflows.
std::optional<Duration> parse_duration(std::string_view text);

/// Formats the shortest exact form: 1500ms -> "1.5s", 90s -> "1m30s", 300245us -> "300.245ms",
/// 0 -> "0s". parse_duration reads every result back to the same value.
std::string format_duration(Duration d);

}  // namespace orch
