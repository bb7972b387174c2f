#pragma once
/// How orchctl prints API objects: as protobuf JSON for programs, as plain text for people.
///
/// JSON is the proto3 JSON mapping (lowerCamelCase names, enums by name, Timestamps in
/// RFC 3339, Durations as "1.500s") on one line, with fields at their default values printed
/// too, so that a reader always finds every key of a message ("winner": 0, "state": ...).
///
/// Text is line-oriented and stable, meant for grep and awk; the exact forms are documented
/// on each function and in `orchctl --help`.
///
/// Thread-safety: pure functions.

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "orch/v1/tasks.pb.h"
#include "orch/v1/tenants.pb.h"

namespace orch::client {

/// How text output looks. Plain by default (files, pipes, scripts); with `color`, the state
/// words of tasks and nodes are wrapped in ANSI colours, for a terminal. Nothing else changes:
/// the same bytes with the escape sequences removed are the plain output.
struct TextStyle {
  bool color = false;
};

/// A state's short name (task_state_name), coloured when `style.color`: SUCCEEDED green, FAILED
/// and TIMED_OUT red, CANCELLED yellow, RUNNING cyan, PENDING (and UNSPECIFIED) uncoloured.
std::string state_word(orch::v1::TaskState state, const TextStyle& style);

/// One line of proto3 JSON (no trailing newline), every primitive field included.
std::string to_json(const google::protobuf::Message& message);

/// RFC 3339 in UTC with 0, 3, 6 or 9 decimals ("2024-05-01T12:00:00.250Z"); "-" when unset
/// (all zero).
std::string format_timestamp(const google::protobuf::Timestamp& time);

/// Quotes text for a one-line field: `"..."` with \" \\ \n \r \t escaped.
std::string quote(std::string_view text);

/// A task as a block of `key: value` lines, each ending in '\n':
///
///   id: 01J0Z4...
///   name: nightly               (only when set)
///   state: SUCCEEDED
///   labels: env=prod team=core  (only when set; sorted by key)
///   idempotency_key: k1         (only when set)
///   created: 2024-05-01T12:00:00.250Z
///   started: 2024-05-01T12:00:00.251Z   (only when set)
///   finished: 2024-05-01T12:00:01.252Z  (only when set)
///   result:                     (only when set), then the result tree, see format_result
std::string format_task(const orch::v1::TaskInfo& task, const TextStyle& style = {});

/// A result tree, one node per line, two spaces of indent per level (starting at `indent`):
///
///   select SUCCEEDED winner=1 took=1.001s
///     [0] timeout TIMED_OUT took=2s error="deadline of 2s exceeded"
///       sleep CANCELLED took=2s
///     [1] sleep SUCCEEDED took=1s
///
/// A line is `[index] ` (children of join/select/sequence; a timeout's single child has no
/// index), the node kind (read from `spec` when it is given and
/// matches, else from the result's output: join/select/timeout/sequence, else `node`), the
/// state, then `winner=N` for select, `took=D` when both times are set, and `error="..."` when
/// there is an error. Work leaves add ` attempts=N` (before error) when more than one attempt
/// ran, and a `last_attempt_error: "..."` line below the node when an earlier attempt failed
/// for a reason the node's error does not already give. An exec node is followed by its
/// process's end and output, one level deeper:
///
///   exec FAILED took=12ms error="exited with code 3: no such table"
///     exit_code: 3                  (or `signal: 9 (SIGKILL)`)
///     stdout: "..."                 (quoted; ` (truncated)` when cut at max_output_bytes)
///     stderr: "no such table\n"
///
/// An http node that got a response has three more lines under it, and its body's lines:
///
///   http SUCCEEDED took=12ms
///     status: 200 OK
///     url: http://127.0.0.1:8080/hello        (the URL that answered, after redirects)
///     body: 6 bytes                           (+ ", truncated at max_response_bytes")
///       hello
///
/// A body with control characters other than tab, CR and LF is not shown
/// (`body: N bytes, binary (not shown; -o json has it in base64)`).
std::string format_result(const orch::v1::NodeResult& result, const orch::v1::TaskSpec* spec,
                          int indent, const TextStyle& style = {});

/// `ls` output: one line per task, columns separated by two or more spaces and aligned:
///   ID  STATE  NAME  CREATED
/// NAME is "-" when the task has none; CREATED as format_timestamp. No header line.
/// Columns are aligned on the plain text; colour does not change the widths.
std::string format_task_table(const google::protobuf::RepeatedPtrField<orch::v1::TaskInfo>& tasks,
                              const TextStyle& style = {});

/// `watch` output: `TIME ID STATE` (single spaces), then ` error="..."` when the task's result
/// has one; TIME is the event's time as format_timestamp. No trailing newline.
std::string format_event(const orch::v1::TaskEvent& event, const TextStyle& style = {});

/// `whoami` output: `tenant: NAME`, then `limits:` and `usage:` with one indented
/// `  field: value` line per field (allowed_kinds comma-separated).
std::string format_who_am_i(const orch::v1::WhoAmIResponse& who);

}  // namespace orch::client
