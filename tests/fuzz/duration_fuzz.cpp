// Fuzz target: durations as written in configs and on the command line (orch/common/duration.h).
// Properties checked beyond "no crash, no undefined behaviour":
//  - whatever parse_duration accepts, format_duration writes back to text that parses to the
//    same value;
//  - every non-negative duration (the input's first 8 bytes as nanoseconds) formats to text
//    that parses back to it.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "orch/common/duration.h"

namespace {

void check_round_trip(orch::Duration d) {
  const std::string text = orch::format_duration(d);
  const auto back = orch::parse_duration(text);
  if (!back || *back != d) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto d = orch::parse_duration(text)) {
    if (d->count() < 0) std::abort();  // documented: never negative
    check_round_trip(*d);
  }
  if (size >= sizeof(std::int64_t)) {
    std::int64_t ns = 0;
    std::memcpy(&ns, data, sizeof ns);
    if (ns >= 0) check_round_trip(orch::Duration(ns));
  }
  return 0;
}
