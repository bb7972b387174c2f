#include "validators.h"

#include <string>

#include "orch/client/names.h"
#include "orch/common/duration.h"

namespace orchctl {

CLI::Validator duration_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (orch::parse_duration(text)) return {};
        return "invalid duration \"" + text + "\" (use e.g. 250ms, 2s, 1m30s)";
      },
      "DURATION");
}

CLI::Validator label_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (orch::client::parse_label(text)) return {};
        return "invalid label \"" + text + "\" (use key=value)";
      },
      "KEY=VALUE");
}

CLI::Validator state_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (orch::client::parse_task_state(text)) return {};
        return "invalid state \"" + text +
               "\" (use pending, running, succeeded, failed, cancelled or timed_out)";
      },
      "STATE");
}

}  // namespace orchctl
