#include "orch/engine/task_id.h"

#include <chrono>

namespace orch::engine {

std::string TaskIdGenerator::next() {
  // Milliseconds in the high bits, a 20-bit sequence below: sortable, and strictly increasing
  // even when the wall clock steps back.
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  const std::uint64_t candidate = ms << 20;
  std::uint64_t last = last_.load(std::memory_order_relaxed);
  std::uint64_t value;
  do {
    value = candidate > last ? candidate : last + 1;
  } while (!last_.compare_exchange_weak(last, value, std::memory_order_relaxed));
  return encode(value);
}

std::string TaskIdGenerator::encode(std::uint64_t value) {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::string out(13, '0');
  for (int i = 12; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kAlphabet[value & 31];
    value >>= 5;
  }
  return out;
}

}  // namespace orch::engine
