#include "orch/client/live.h"

#include <array>
#include <cstdio>

#include "orch/client/names.h"

namespace orch::client {

bool want_color(std::string_view mode, bool is_terminal, const char* no_color, const char* term) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  if (no_color != nullptr && *no_color != '\0') return false;
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return is_terminal;
}

void LiveCounts::update(const std::string& id, orch::v1::TaskState state) { states_[id] = state; }

std::size_t LiveCounts::count(orch::v1::TaskState state) const {
  std::size_t n = 0;
  for (const auto& [id, s] : states_) n += s == state ? 1 : 0;
  return n;
}

std::size_t LiveCounts::done() const {
  std::size_t n = 0;
  for (const auto& [id, s] : states_) n += is_terminal(s) ? 1 : 0;
  return n;
}

std::size_t LiveCounts::total() const { return expected_ != 0 ? expected_ : states_.size(); }

std::string format_elapsed(std::chrono::steady_clock::duration elapsed) {
  const auto tenths = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() / 100;
  char text[48];
  if (tenths < 600) {
    std::snprintf(text, sizeof text, "%lld.%llds", static_cast<long long>(tenths / 10),
                  static_cast<long long>(tenths % 10));
    return text;
  }
  const long long seconds = tenths / 10;
  if (seconds < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", seconds / 60, seconds % 60);
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm%02llds", seconds / 3600, seconds / 60 % 60,
                  seconds % 60);
  }
  return text;
}

std::string format_live(const LiveCounts& counts, std::chrono::steady_clock::duration elapsed,
                        const TextStyle& style) {
  static constexpr std::array kOrder = {
      orch::v1::TASK_STATE_PENDING,   orch::v1::TASK_STATE_RUNNING,
      orch::v1::TASK_STATE_SUCCEEDED, orch::v1::TASK_STATE_FAILED,
      orch::v1::TASK_STATE_CANCELLED, orch::v1::TASK_STATE_TIMED_OUT,
  };
  std::string line = std::to_string(counts.done()) + "/" + std::to_string(counts.total()) + " done";
  for (const auto state : kOrder) {
    const std::size_t n = counts.count(state);
    if (n == 0) continue;
    line += "  " + state_word(state, style) + " " + std::to_string(n);
  }
  line += "  " + format_elapsed(elapsed);
  return line;
}

}  // namespace orch::client
