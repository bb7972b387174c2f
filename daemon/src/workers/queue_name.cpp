// workers::check_queue_name, apart from the hub so that spec validation (and its fuzz target,
// tests/fuzz/spec_fuzz.cpp) links without the hub.
#include "orch/workers/worker_hub.h"

namespace orch::workers {

std::string check_queue_name(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxQueueName) {
    return "longer than " + std::to_string(kMaxQueueName) + " characters";
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
    if (!ok) return "may only contain letters, digits and . _ : / -";
  }
  return {};
}

}  // namespace orch::workers
