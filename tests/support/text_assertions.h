#pragma once
/// Predicate assertions on text, so failures print both strings:
///
///   EXPECT_TRUE(contains(result.err, "aborted"));
///   EXPECT_TRUE(starts_with(result.err, "NOT_FOUND: "));
///
/// Thread-safety: pure functions.

#include <gtest/gtest.h>

#include <string_view>

namespace orch::test {

inline ::testing::AssertionResult contains(std::string_view text, std::string_view part) {
  if (text.find(part) != std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

inline ::testing::AssertionResult starts_with(std::string_view text, std::string_view prefix) {
  if (text.starts_with(prefix)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not start with \"" << prefix
                                       << "\"";
}

}  // namespace orch::test
