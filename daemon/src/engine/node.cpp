#include "orch/engine/node.h"

#include <array>

namespace orch::engine {
namespace {

constexpr std::array<std::string_view, kNodeKindCount> kKindNames{
    "sleep", "http", "exec", "worker", "send", "recv", "join", "select", "timeout", "sequence"};

constexpr std::array<std::string_view, kFailureReasonCount> kFailureReasonNames{
    "status",       "connect",      "dns",         "tls",       "timeout",        "protocol",
    "denied",       "exit_code",    "signal",      "spawn",     "worker_error",   "worker_lost",
    "heartbeat",    "start_to_close", "schedule_to_start", "internal"};

constexpr std::array<std::string_view, kStateCount> kStateNames{
    "pending", "running", "succeeded", "failed", "cancelled", "timed_out"};

}  // namespace

std::string_view kind_name(NodeKind kind) { return kKindNames[static_cast<std::size_t>(kind)]; }

std::optional<NodeKind> kind_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<NodeKind>(i);
  }
  return std::nullopt;
}

bool holds_permit(NodeKind kind) {
  switch (kind) {
    case NodeKind::kSleep:
    case NodeKind::kHttp:
    case NodeKind::kExec:
    case NodeKind::kWorker:
      return true;
    default:
      return false;
  }
}

std::size_t count_nodes(const Node& node) {
  std::size_t n = 1;
  for (const auto& child : node.children) n += count_nodes(child);
  return n;
}

std::string_view failure_reason_name(FailureReason reason) {
  return kFailureReasonNames[static_cast<std::size_t>(reason)];
}

std::optional<FailureReason> failure_reason_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kFailureReasonNames.size(); ++i) {
    if (kFailureReasonNames[i] == name) return static_cast<FailureReason>(i);
  }
  return std::nullopt;
}

std::string_view state_name(State state) { return kStateNames[static_cast<std::size_t>(state)]; }

void explain_cancellation(NodeResult& result, std::string_view reason) {
  if (result.state == State::kCancelled && result.error.empty()) result.error = reason;
  for (auto& child : result.children) explain_cancellation(child, reason);
}

}  // namespace orch::engine
