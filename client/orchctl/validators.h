#pragma once
/// CLI11 checks for orchctl's typed arguments, so a bad value is a parse error (exit 2) that
/// names the flag: "--timeout: invalid duration "2x" (use e.g. 250ms, 2s, 1m30s)".

#include <CLI/CLI.hpp>

namespace orchctl {

/// "250ms", "2s", "1m30s", ... as orch::parse_duration reads them.
CLI::Validator duration_check();
/// "key=value" with a non-empty key.
CLI::Validator label_check();
/// pending|running|succeeded|failed|cancelled|timed_out, any case, or TASK_STATE_<NAME>.
CLI::Validator state_check();

}  // namespace orchctl
