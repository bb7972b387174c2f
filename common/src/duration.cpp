#include "orch/common/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace orch {
namespace {

struct Unit {
  std::string_view name;
  std::int64_t nanos;
};

// Longest names first so "ms" is not read as "m".
constexpr std::array<Unit, 7> kUnits{{{"ns", 1},
                                      {"us", 1'000},
                                      {"ms", 1'000'000},
                                      {"s", 1'000'000'000},
                                      {"m", 60'000'000'000},
                                      {"h", 3'600'000'000'000},
                                      {"d", 86'400'000'000'000}}};

std::optional<std::int64_t> unit_nanos(std::string_view text, std::size_t& pos) {
  for (const auto& unit : kUnits) {
    if (text.substr(pos, unit.name.size()) == unit.name) {
      // "m" must not swallow the "m" of "ms": the table order already prefers "ms".
      pos += unit.name.size();
      return unit.nanos;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  if (text == "0") return Duration::zero();
  if (text.empty()) return std::nullopt;
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t pos = 0;
  std::int64_t last_unit = kMax;
  while (pos < text.size()) {
    // Integer part.
    std::int64_t whole = 0;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (whole > (kMax - 9) / 10) return std::nullopt;
      whole = whole * 10 + (text[pos] - '0');
      ++pos;
      ++digits;
    }
    // Optional fraction, kept as numerator/denominator to stay exact.
    std::int64_t frac = 0;
    std::int64_t frac_scale = 1;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        if (frac_scale < 1'000'000'000) {
          frac = frac * 10 + (text[pos] - '0');
          frac_scale *= 10;
        }
        ++pos;
        ++digits;
      }
    }
    if (digits == 0) return std::nullopt;
    const auto unit = unit_nanos(text, pos);
    if (!unit || *unit >= last_unit) return std::nullopt;
    last_unit = *unit;
    if (whole > kMax / *unit) return std::nullopt;
    const std::int64_t part = whole * *unit + frac * (*unit / frac_scale) +
                              (frac * (*unit % frac_scale)) / frac_scale;
    if (total > kMax - part) return std::nullopt;
    total += part;
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  std::int64_t n = d.count();
  if (n == 0) return "0s";
  std::string out;
  if (n < 0) {
    out = "-";
    n = -n;
  }
  if (n < 1'000) return out + std::to_string(n) + "ns";
  if (n < 1'000'000'000) {
    // Below a second: in ms when at least 1ms, else us, with an exact decimal fraction.
    const std::int64_t unit = n >= 1'000'000 ? 1'000'000 : 1'000;
    out += std::to_string(n / unit);
    if (std::int64_t frac = n % unit) {
      std::string digits = std::to_string(frac);
      digits.insert(0, (unit == 1'000'000 ? 6 : 3) - digits.size(), '0');
      while (digits.back() == '0') digits.pop_back();
      out += "." + digits;
    }
    return out + (unit == 1'000'000 ? "ms" : "us");
  }
  const std::int64_t hours = n / 3'600'000'000'000;
  n %= 3'600'000'000'000;
  const std::int64_t minutes = n / 60'000'000'000;
  n %= 60'000'000'000;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (n) {
    out += std::to_string(n / 1'000'000'000);
    std::int64_t frac = n % 1'000'000'000;
    if (frac) {
      std::string digits = std::to_string(frac);
      digits.insert(0, 9 - digits.size(), '0');
      while (digits.back() == '0') digits.pop_back();
      out += "." + digits;
    }
    out += "s";
  }
  return out;
}

}  // namespace orch
