#include "orch/client/names.h"

#include <array>
#include <cctype>

#include "orch/common/grpc_codes.h"

namespace orch::client {
namespace {


constexpr std::string_view kStatePrefix = "TASK_STATE_";

std::string normalize_state(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string_view status_code_name(grpc::StatusCode code) {
  return grpc_code_name(static_cast<int>(code));
}

std::string format_status(const grpc::Status& status) {
  std::string line(status_code_name(status.error_code()));
  if (status.error_message().empty()) return line;
  line += ": ";
  for (char c : status.error_message()) line += (c == '\n' || c == '\r') ? ' ' : c;
  return line;
}

std::optional<orch::v1::TaskState> parse_task_state(std::string_view text) {
  std::string name = normalize_state(text);
  if (!name.starts_with(kStatePrefix)) name.insert(0, kStatePrefix);
  orch::v1::TaskState state{};
  if (!orch::v1::TaskState_Parse(name, &state)) return std::nullopt;
  if (state == orch::v1::TASK_STATE_UNSPECIFIED) return std::nullopt;
  return state;
}

std::string_view task_state_name(orch::v1::TaskState state) {
  // The generated name lives in static storage, so a view of it stays valid.
  const std::string& full = orch::v1::TaskState_Name(state);
  if (full.empty()) return "UNKNOWN";
  std::string_view name = full;
  if (name.starts_with(kStatePrefix)) name.remove_prefix(kStatePrefix.size());
  return name;
}

bool is_terminal(orch::v1::TaskState state) {
  switch (state) {
    case orch::v1::TASK_STATE_SUCCEEDED:
    case orch::v1::TASK_STATE_FAILED:
    case orch::v1::TASK_STATE_CANCELLED:
    case orch::v1::TASK_STATE_TIMED_OUT:
      return true;
    default:
      return false;
  }
}

std::optional<std::pair<std::string, std::string>> parse_label(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  return std::pair{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

}  // namespace orch::client
