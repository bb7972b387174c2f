#pragma once
/// Task specs written by hand: JSON or YAML text (YAML is a superset of JSON) read into an
/// orch.v1.TaskSpec through protobuf's JSON mapping.
///
/// On the way, fields of type google.protobuf.Duration (sleep.duration, timeout.duration,
/// http.timeout, http.connect_timeout, exec.kill_grace, worker.schedule_to_start,
/// worker.start_to_close, worker.heartbeat, retry.initial_backoff, retry.max_backoff) accept
/// human durations ("250ms", "2s", "1m30s") besides the proto form ("0.250s"). Field names may
/// be written as in the .proto (`kill_grace`) or in lowerCamelCase (`killGrace`). Each YAML
/// scalar is written as the JSON type its field needs, so `argv: [sleep, 5]` stays a list of
/// strings and `fail_fast: yes` is a bool.
///
/// Thread-safety: pure functions (read_spec_file reads the file system or `in`).

#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "orch/common/duration.h"
#include "orch/v1/tasks.pb.h"

namespace orch::client {

/// A value, or why there is none.
template <typename T>
struct Parsed {
  std::optional<T> value;
  /// Set when `value` is not: "<source>: <problem>", with the line and column when known.
  std::string error;
  explicit operator bool() const { return value.has_value(); }
};

/// Converts a JSON or YAML document to the JSON text of a TaskSpec (schema-directed, with
/// human durations rewritten). `source` names the input in errors ("spec.yaml", "<stdin>").
Parsed<std::string> spec_to_json(std::string_view text, std::string_view source);

/// Parses a JSON or YAML document into a TaskSpec. Refuses a document that sets no node.
Parsed<orch::v1::TaskSpec> parse_spec(std::string_view text, std::string_view source);

/// Reads and parses the spec file at `path`; "-" reads all of `in` (named "<stdin>" in errors).
Parsed<orch::v1::TaskSpec> read_spec_file(const std::string& path, std::istream& in);

/// The proto JSON form of a duration: seconds with 0, 3, 6 or 9 decimals and an 's'
/// (250ms -> "0.250s", 90s -> "90s"), as protobuf itself prints it.
std::string proto_duration_json(Duration d);

}  // namespace orch::client
