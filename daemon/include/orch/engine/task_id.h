#pragma once
/// Task ids: 13-character strings that sort in spawn order and never repeat within a daemon.
/// Opaque to clients. Built from the wall-clock millisecond and a counter (Crockford base32).
///
/// Thread-safety: next() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <string>

namespace orch::engine {

class TaskIdGenerator {
 public:
  std::string next();
  /// The id text of a raw value (exposed for tests).
  static std::string encode(std::uint64_t value);

 private:
  std::atomic<std::uint64_t> last_{0};
};

}  // namespace orch::engine
