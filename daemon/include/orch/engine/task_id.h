#pragma once
/// Task ids: 13-character strings that sort in spawn order and never repeat within a daemon.
/// Opaque to clients. Built from the wall-clock millisecond and a counter (Crockford base32).
///
/// Thread-safety: next() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orch::engine {

class TaskIdGenerator {
 public:
  std::string next();
  /// The next id as its raw value (the engine keeps ids as numbers; encode() gives the text).
  std::uint64_t next_value();
  /// The id text of a raw value.
  static std::string encode(std::uint64_t value);
  /// The raw value of an id text; nullopt for any text encode() never produces.
  static std::optional<std::uint64_t> decode(std::string_view text);

 private:
  std::atomic<std::uint64_t> last_{0};
};

}  // namespace orch::engine
