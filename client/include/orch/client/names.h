#pragma once
/// The words orchctl reads and writes: gRPC status code names, task state names, labels.
///
/// Thread-safety: pure functions.

#include <grpcpp/support/status.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "orch/v1/tasks.pb.h"

namespace orch::client {

/// The canonical name of a gRPC status code ("RESOURCE_EXHAUSTED"); "UNKNOWN" for a number
/// outside the canonical range.
std::string_view status_code_name(grpc::StatusCode code);

/// One line for a person: "CODE: message" ("CODE" alone when the message is empty). Line
/// breaks in the message become spaces, so the result never spans lines.
std::string format_status(const grpc::Status& status);

/// Reads a task state: the short name ("running", "timed_out") or the full enum name
/// ("TASK_STATE_RUNNING"), case-insensitively; a '-' may stand for '_' ("timed-out").
/// UNSPECIFIED is refused: it is not a state a task can be in.
std::optional<orch::v1::TaskState> parse_task_state(std::string_view text);

/// The short upper-case name of a state ("SUCCEEDED"; "UNSPECIFIED" for 0).
std::string_view task_state_name(orch::v1::TaskState state);

/// True for the terminal states (SUCCEEDED, FAILED, CANCELLED, TIMED_OUT).
bool is_terminal(orch::v1::TaskState state);

/// Reads a label written as `key=value`: the key is everything before the first '=' and must
/// not be empty; the value may be empty or contain '='. nullopt when there is no '=' or no key.
std::optional<std::pair<std::string, std::string>> parse_label(std::string_view text);

}  // namespace orch::client
