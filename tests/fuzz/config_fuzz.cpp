// Fuzz target: the config loader (orch/config/config.h) on arbitrary YAML text. A bad config
// must be refused with ConfigError; any other exception, a crash or undefined behaviour is a
// finding. An accepted config must hold what the loader promises (at least one tenant) and
// must survive a second parse of the same text with the same result.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "orch/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const orch::config::Config config = orch::config::parse_config(text, "<fuzz>");
    if (config.tenants.empty()) std::abort();
    if (!(orch::config::parse_config(text, "<fuzz>") == config)) std::abort();
  } catch (const orch::config::ConfigError&) {
    // The refusal every bad config gets.
  }
  return 0;
}
