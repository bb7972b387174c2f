#include "orch/engine/task_id.h"

#include <array>
#include <chrono>

namespace orch::engine {

std::string TaskIdGenerator::next() { return encode(next_value()); }

std::uint64_t TaskIdGenerator::next_value() {
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
  return value;
}

namespace {
constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

// Each byte's digit value, 32 for a byte outside the alphabet (a join reads one id per task).
constexpr std::array<std::uint8_t, 256> kDigits = [] {
  std::array<std::uint8_t, 256> digits{};
  digits.fill(32);
  for (std::uint8_t d = 0; d < 32; ++d) digits[static_cast<unsigned char>(kAlphabet[d])] = d;
  return digits;
}();
}  // namespace

std::optional<std::uint64_t> TaskIdGenerator::decode(std::string_view text) {
  if (text.size() != 13) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::uint64_t digit = kDigits[static_cast<unsigned char>(text[i])];
    if (digit == 32) return std::nullopt;
    // 13 digits carry 65 bits: the first holds only the value's top 4.
    if (i == 0 && digit > 15) return std::nullopt;
    value = (value << 5) | digit;
  }
  return value;
}

std::string TaskIdGenerator::encode(std::uint64_t value) {
  std::string out(13, '0');
  for (int i = 12; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kAlphabet[value & 31];
    value >>= 5;
  }
  return out;
}

}  // namespace orch::engine
